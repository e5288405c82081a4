"""``loopline models ...``: the registry from the command line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._output import console, print_json, when

if TYPE_CHECKING:
    from ..registry import Registry


@contextmanager
def open_registry(project: Path | None) -> Iterator[Registry]:
    """The project's registry, on its store and artifact store."""
    from ..artifacts import ArtifactStore
    from ..config import load_settings
    from ..registry import Registry
    from ..store import Store

    settings = load_settings(project)
    with Store(settings.store_url) as store:
        yield Registry(store, ArtifactStore(settings.artifacts_url))


def list_models(project: Path | None, *, as_json: bool = False) -> None:
    """A line per model: versions, aliases, latest status."""
    from rich.table import Table

    with open_registry(project) as registry:
        names = registry.store.models.names()
        if as_json:
            listed = []
            for name in names:
                versions = registry.store.models.versions(name)
                listed.append(
                    {
                        "model": name,
                        "versions": len(versions),
                        "aliases": registry.store.models.aliases(name),
                        "latest": versions[-1].version if versions else None,
                        "status": versions[-1].status if versions else None,
                    }
                )
            print_json(listed)
            return
        if not names:
            console().print("No models yet: a blessed training run ('loopline run') registers one.")
            return
        table = Table(box=None)
        for column in ("model", "versions", "aliases", "latest", "status"):
            table.add_column(column)
        for name in names:
            versions = registry.store.models.versions(name)
            aliases = registry.store.models.aliases(name)
            latest = versions[-1]
            table.add_row(
                name,
                str(len(versions)),
                ", ".join(f"{a}→{v}" for a, v in aliases.items()) or "-",
                str(latest.version),
                latest.status,
            )
        console().print(table)


def show_model(project: Path | None, name: str, *, as_json: bool = False) -> None:
    """Every version of a model with its status, metrics, aliases and infra validation."""
    from rich.table import Table

    with open_registry(project) as registry:
        versions = registry.store.models.versions(name)
        aliases = registry.store.models.aliases(name)
        if as_json:
            print_json({"model": name, "aliases": aliases, "versions": versions})
            return
        by_version: dict[int, list[str]] = {}
        for alias, number in aliases.items():
            by_version.setdefault(number, []).append(alias)
        table = Table(box=None, title=f"model {name}", title_justify="left")
        for column in (
            "version",
            "status",
            "aliases",
            "blessed",
            "infra",
            "metrics",
            "run",
            "created",
        ):
            table.add_column(column)
        for v in versions:
            infra = "-" if v.infra_valid is None else ("ok" if v.infra_valid else "failed")
            metrics = ", ".join(f"{k} {val:.4f}" for k, val in sorted(v.metrics.items())[:4])
            table.add_row(
                str(v.version),
                v.status,
                ", ".join(by_version.get(v.version, [])) or "-",
                "-" if v.blessed is None else ("yes" if v.blessed else "no"),
                infra,
                metrics,
                (v.run_id or "-")[:8],
                when(v.created_at),
            )
        console().print(table)


def set_approval(
    project: Path | None, name: str, version: int, reason: str, *, approve: bool
) -> None:
    """Approve or reject a version."""
    with open_registry(project) as registry:
        if approve:
            updated = registry.approve(name, version, reason=reason)
        else:
            updated = registry.reject(name, version, reason=reason)
        console().print(f"{updated.ref} is {updated.status}.")


def promote(project: Path | None, name: str, version: int, alias: str, reason: str | None) -> None:
    """Point an alias at a version (after approval and infra validation)."""
    with open_registry(project) as registry:
        move = registry.promote(name, version, alias=alias, reason=reason)
        was = f" (was {move.previous})" if move.previous is not None else ""
        console().print(f"{name}@{alias} → version {move.version}{was}.")


def rollback(project: Path | None, name: str, alias: str, reason: str | None) -> None:
    """Point an alias back at its previous version."""
    with open_registry(project) as registry:
        move = registry.rollback(name, alias=alias, reason=reason)
        console().print(
            f"{name}@{alias} rolled back to version {move.version} (was {move.previous})."
        )


def history(project: Path | None, name: str) -> None:
    """Which version each alias pointed at, when, who moved it and why; then the events."""
    from rich.markup import escape
    from rich.table import Table

    with open_registry(project) as registry:
        moves = registry.store.models.history(name)
        table = Table(box=None, title=f"aliases of {name}", title_justify="left")
        for column in ("time", "alias", "version", "was", "by", "reason"):
            table.add_column(column)
        for m in moves:
            table.add_row(
                when(m.time),
                m.alias,
                "removed" if m.version is None else str(m.version),
                "-" if m.previous is None else str(m.previous),
                m.actor,
                escape(m.reason or ""),
            )
        console().print(table)
        events = [
            e
            for e in registry.store.events.list(subject_type="model", limit=500)
            if e.payload.get("model") == name
        ]
        console().print(f"\n[bold]events of {name}[/]")
        for e in reversed(events):
            extra = f" — {escape(e.reason)}" if e.reason else ""
            console().print(
                f"  {when(e.time)}  {e.kind:<22} {e.subject_id:<14} by {e.actor}{extra}"
            )
        if not events:
            console().print("  none")


def export_model(project: Path | None, ref: str, folder: Path, format: str) -> None:
    """``loopline models export``: a version in another tool's format."""
    from ..errors import InvalidInputError
    from ..registry import export_mlflow

    if format != "mlflow":
        raise InvalidInputError(
            f"Unknown export format {format!r}. Use --format mlflow.",
            hint="MLflow's format is the one Loopline exports.",
            value=format,
        )
    with open_registry(project) as registry:
        written = export_mlflow(registry, ref, folder)
    console().print(
        f"Exported {ref} to {written} in MLflow's format "
        f"(mlflow.pyfunc.load_model('{written}') or mlflow models serve -m {written})."
    )


def import_mlflow_model(
    project: Path | None, path: Path, *, name: str, data: Path, target: str | None, approve: bool
) -> None:
    """``loopline models import-mlflow``: register an MLflow scikit-learn model."""
    from ..registry import import_mlflow

    rows = _read_table(data)
    with open_registry(project) as registry:
        imported = import_mlflow(
            registry,
            path,
            name=name,
            data=rows,
            target=target,
            policy="auto" if approve else "manual",
        )
    version = imported.version
    state = "registered" if imported.created else "already registered"
    console().print(
        f"{version.ref} {state} from {path}: a {imported.task} model of "
        f"{len(imported.features)} columns, status {version.status}."
    )
    if version.status == "pending":
        console().print(
            f"Next: loopline models approve {version.model} {version.version} --reason ..., "
            f"then loopline models promote {version.model} {version.version}."
        )


def _read_table(path: Path) -> Any:
    import pandas as pd

    from ..errors import InvalidInputError

    if not path.is_file():
        raise InvalidInputError(
            f"No file {path}.", hint="Pass a CSV or Parquet file with --data.", path=str(path)
        )
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            f"{path} could not be read as a table: {exc}",
            hint="Pass a UTF-8 CSV file with a header row, or a Parquet file.",
            path=str(path),
        ) from exc
