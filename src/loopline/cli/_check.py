"""``loopline check``: load and validate the whole project file; print the resolved loop."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._output import console, print_json

if TYPE_CHECKING:
    from ..automation import LoopConfig
    from ..config import Settings


def load_project(project: Path | None) -> tuple[Settings, LoopConfig]:
    """The project's settings with its loop sections checked (durations, amounts of data,
    cron expressions, alert rules, keys).

    Raises:
        ConfigError: Something in ``loopline.toml`` is wrong; the message names the key.
    """
    from ..automation import parse_loop_config
    from ..config import load_settings

    settings = load_settings(project)
    loop = parse_loop_config(settings.raw, str(settings.project_dir / "loopline.toml"))
    return settings, loop


def check_command(project: Path | None, *, as_json: bool) -> None:
    """Validate loopline.toml and print the loop's sections with every default filled in."""
    from ..automation import resolved_loop_config

    settings, loop = load_project(project)
    if "data" in settings.raw:
        from ..components import parse_workflow_config

        parse_workflow_config(settings.raw, settings.project_dir / "loopline.toml")
    resolved = resolved_loop_config(loop)
    if as_json:
        print_json({"project": str(settings.project_dir), "name": settings.name, **resolved})
        return
    out = console()
    out.print(f"{settings.project_dir / 'loopline.toml'} is valid. Resolved (defaults filled in):")
    for section in ("monitoring", "triggers", "automation"):
        out.print(f"\n\\[{section}]", markup=True)
        for key, value in resolved[section].items():
            out.print(f"{key} = {_toml(value)}", markup=False)
    for rule in resolved["alerts"]:
        out.print("\n\\[[alerts]]", markup=True)
        for key, value in rule.items():
            out.print(f"{key} = {_toml(value)}", markup=False)


def _toml(value: Any) -> str:
    import json

    if value is None:
        return "# (none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return (
            "{ "
            + ", ".join(
                f"{json.dumps(k) if not k.isidentifier() else k} = {_toml(v)}"
                for k, v in value.items()
            )
            + " }"
        )
    return json.dumps(value)
