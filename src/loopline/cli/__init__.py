"""The ``loopline`` command line (Typer + Rich); heavy modules load only when a command runs."""

from ._main import main as main

__all__ = ["main"]
