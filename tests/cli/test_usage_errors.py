"""Usage errors exit 2 with click's usage text, whichever Typer (and vendored click) runs.

Typer >= 0.22 vendors click as ``typer._click`` and raises its own exception classes;
older Typer raises click's. CI runs this file under both (see ``.ci/run``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ..conftest import run_cli


@pytest.mark.parametrize(
    ("args", "usage", "message"),
    [
        (["--bogus"], "Usage: loopline [OPTIONS] COMMAND [ARGS]...", "No such option: --bogus"),
        (["init", "--bogus"], "Usage: loopline init [OPTIONS]", "No such option: --bogus"),
        (["runs", "show"], "Usage: loopline runs show [OPTIONS]", "Missing argument"),
        (
            ["runs", "list", "--limit", "abc"],
            "Usage: loopline runs list [OPTIONS]",
            "Invalid value for '--limit'",
        ),
        (["run", "--resume"], "", "Option '--resume' requires an argument."),
        (["nosuchcommand"], "Usage: loopline [OPTIONS] COMMAND", "No such command"),
    ],
)
def test_usage_errors_exit_2_with_the_usage(
    tmp_path: Path, args: list[str], usage: str, message: str
) -> None:
    result = run_cli(*args, cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert usage in result.stderr
    assert message in result.stderr
    assert "bug in Loopline" not in result.stderr and "Traceback" not in result.stderr


def _click_raises_no_args_is_help() -> bool:
    """Whether the click Typer runs on makes ``no_args_is_help`` a usage error (click 8.2+)."""
    try:
        from typer._click import exceptions
    except ImportError:
        from click import exceptions
    return hasattr(exceptions, "NoArgsIsHelpError")


def test_loopline_alone_shows_the_help_and_exits_2(tmp_path: Path) -> None:
    result = run_cli(cwd=tmp_path)

    assert result.returncode == 2
    text = result.stdout + result.stderr
    assert "Usage: loopline [OPTIONS] COMMAND" in text and "Commands:" in text
    assert "bug in Loopline" not in text


def test_a_command_group_alone_shows_its_help(tmp_path: Path) -> None:
    result = run_cli("runs", cwd=tmp_path)

    # click 8.2+ (and Typer's vendored copy) call this a usage error; older click exits 0.
    assert result.returncode == (2 if _click_raises_no_args_is_help() else 0)
    text = result.stdout + result.stderr
    assert "Usage: loopline runs [OPTIONS]" in text and "Commands:" in text
    assert "bug in Loopline" not in text


def test_help_and_version_still_exit_0(tmp_path: Path) -> None:
    assert run_cli("--help", cwd=tmp_path).returncode == 0
    assert run_cli("runs", "--help", cwd=tmp_path).returncode == 0
    assert run_cli("--version", cwd=tmp_path).returncode == 0
