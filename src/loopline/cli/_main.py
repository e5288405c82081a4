"""Entry point: runs the Typer app and turns errors into a headline and a fix."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from ..errors import LooplineError

#: Set by the ``--debug`` option: show tracebacks instead of headlines.
state = {"debug": False}

#: Where click's exception classes may live. Typer >= 0.22 vendors click as
#: ``typer._click`` and raises its own copies (not subclasses of click's), older Typer
#: raises click's: both are caught, whichever are installed (loopline issue 10, item 9).
_CLICK_MODULES = ("typer._click.exceptions", "click.exceptions", "typer.exceptions")


def _framework_exceptions() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """Click's ``ClickException`` and ``Abort`` classes from every module that has them."""
    shown: list[type[Exception]] = []
    aborts: list[type[Exception]] = []
    for name in _CLICK_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for attr, found in (("ClickException", shown), ("Abort", aborts)):
            cls = getattr(module, attr, None)
            if isinstance(cls, type) and issubclass(cls, Exception) and cls not in found:
                found.append(cls)
    return tuple(shown), tuple(aborts)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 user error, 2 usage, 3 internal error)."""
    from ._app import app

    args = list(sys.argv[1:] if argv is None else argv)
    state["debug"] = "--debug" in args
    shown, aborts = _framework_exceptions()
    if not [arg for arg in args if arg != "--debug"]:
        # No command is a usage error (exit 2) with the help as its text, whatever the
        # installed click does for no_args_is_help (older ones exit 0).
        app(args=["--help"], prog_name="loopline", standalone_mode=False)
        return 2
    try:
        # Without standalone mode, click returns the code of typer.Exit instead of exiting.
        code = app(args=args, prog_name="loopline", standalone_mode=False)
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else 1
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except LooplineError as exc:
        if state["debug"]:
            raise
        from ._output import print_error

        print_error(str(exc), exc.hint)
        return 1
    except aborts:
        print("Aborted.", file=sys.stderr)
        return 1
    except shown as exc:
        # Usage errors (unknown option, missing argument, bad value, no command) print
        # the usage and the problem and exit 2; other click errors keep their own code.
        exc.show()  # type: ignore[attr-defined]
        code = getattr(exc, "exit_code", 1)
        return code if isinstance(code, int) else 1
    except Exception as exc:  # noqa: BLE001 - the last line of defence for the user
        if state["debug"]:
            raise
        from ._output import print_error

        print_error(
            f"Unexpected error: {type(exc).__name__}: {exc}",
            "This is a bug in Loopline. Rerun with --debug for the traceback and report it.",
        )
        return 3
    return code if isinstance(code, int) else 0
