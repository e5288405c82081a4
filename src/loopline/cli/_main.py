"""Entry point: runs the Typer app and turns errors into a headline and a fix."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ..errors import LooplineError

#: Set by the ``--debug`` option: show tracebacks instead of headlines.
state = {"debug": False}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 user error, 2 usage, 3 internal error)."""
    from ._app import app

    args = list(sys.argv[1:] if argv is None else argv)
    state["debug"] = "--debug" in args
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
    except Exception as exc:  # noqa: BLE001 - the last line of defence for the user
        import click

        if isinstance(exc, click.exceptions.Abort):
            print("Aborted.", file=sys.stderr)
            return 1
        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        if state["debug"]:
            raise
        from ._output import print_error

        print_error(
            f"Unexpected error: {type(exc).__name__}: {exc}",
            "This is a bug in Loopline. Rerun with --debug for the traceback and report it.",
        )
        return 3
    return code if isinstance(code, int) else 0
