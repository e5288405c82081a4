"""What a run of the standard workflow found: leaderboard, tuning, holdout, blessing."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ._output import console

if TYPE_CHECKING:
    from ..config import Settings
    from ..pipeline import Runner, RunResult


def _load(result: RunResult, step: str, output: str) -> Any:
    if output not in result.outputs.get(step, {}):
        return None
    return result.load(step, output)


def print_training_summary(runner: Runner, result: RunResult) -> None:
    """Print the leaderboard, the tuning, the holdout metrics and the blessing verdict."""
    from rich.markup import escape

    out = console()
    _print_ingest(_load(result, "ingest", "span"))
    board = _load(result, "select", "leaderboard")
    if board:
        _print_leaderboard(board)
    tuning = _load(result, "tune_best", "tuning")
    if tuning:
        if tuning["n_trials"]:
            out.print(
                f"[bold]Tuning[/] {tuning['candidate']}: {tuning['n_trials']} trials, best "
                f"{tuning['metric']} {tuning['best_value']:.4f} with "
                f"{escape(json.dumps(tuning['best_params']))}"
            )
            if tuning.get("chosen_params") == {} and tuning["best_params"]:
                out.print(
                    f"  no trial beat the defaults ({tuning['default_value']:.4f}): "
                    "the model keeps its default parameters"
                )
        else:
            why = tuning.get("note") or "no trials or no search space"
            out.print(f"[bold]Tuning[/] skipped for {tuning['candidate']} ({escape(why)})")
    evaluation = _load(result, "evaluate_model", "evaluation")
    if evaluation:
        shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(evaluation["metrics"].items()))
        out.print(f"[bold]Holdout[/] ({evaluation['n_rows']} rows): {shown}")
    verdict = _load(result, "bless", "blessing")
    if verdict:
        word = "[green]blessed[/]" if verdict["blessed"] else "[red]not blessed[/]"
        out.print(f"[bold]Blessing[/]: {word}")
        for reason in verdict["reasons"]:
            mark = "[green]✓[/]" if reason["passed"] else "[red]✗[/]"
            out.print(f"  {mark} {escape(reason['message'])}")
    package = result.outputs.get("package", {}).get("package")
    if package is not None:
        out.print(
            f"[bold]Model package[/]: artifact #{package.id} ({package.sha256[:12]}, "
            f"{package.size / 1024:.0f} KB)"
        )
    out.print(f"Report: loopline report {result.run.id[:8]}")


def _print_leaderboard(board: dict[str, Any]) -> None:
    from rich.markup import escape

    out = console()
    metric = board["metric"]
    sample = ""
    if board.get("cv_rows") and board.get("total_rows") and board["cv_rows"] < board["total_rows"]:
        sample = f" on a sample of {board['cv_rows']} of {board['total_rows']} rows"
    out.print(f"\n[bold]Leaderboard[/] ({board['folds']}-fold cross-validation{sample}, {metric})")
    balance = board.get("balance") or {}
    if balance.get("imbalanced"):
        out.print(
            f"  [yellow]imbalanced target[/]: class {escape(str(balance['minority']))!s} is "
            f"{balance['minority_share']:.1%} of rows; ranked by {metric}"
        )
    if board.get("note"):
        out.print(f"  [yellow]{escape(board['note'])}[/]")
    for rank, row in enumerate(board["rows"], 1):
        mean, std = row["means"].get(metric), row["stds"].get(metric)
        score = f"{mean:.4f} ± {std:.4f}" if mean is not None else ""
        if row.get("error"):
            word = "" if mean is not None else "failed: "
            score = f"{score}  [dim]{word}{escape(row['error'])}[/]".strip()
        out.print(f"  {rank}. {row['name']:<28} {score}")
    baseline = board.get("baseline") or {}
    if metric in baseline.get("means", {}):
        out.print(f"     {'baseline (dummy)':<28} {baseline['means'][metric]:.4f}")


def _print_ingest(span: dict[str, Any] | None) -> None:
    """Rows dropped for a missing target, and columns dropped by their role."""
    from rich.markup import escape

    if not span:
        return
    out = console()
    missing = span.get("missing_target") or {}
    if missing.get("count"):
        shown = ", ".join(missing["examples"])
        more = ", ..." if missing["count"] > len(missing["examples"]) else ""
        out.print(
            f"[yellow]Dropped {missing['count']:,} rows with a missing target[/] "
            f"({escape(shown)}{more}); "
            + escape('set [data] missing_target = "fail" to refuse them.')
        )
    for role in span.get("roles") or []:
        if role["role"] in ("identifier", "constant"):
            out.print(
                f"[yellow]Dropped column {escape(repr(role['name']))}[/] ({role['role']}: "
                f"{escape(role['reason'])})"
            )


def register_blessed(settings: Settings, runner: Runner, result: RunResult) -> None:
    """Register a blessed package; with the auto policy, a first model goes to production."""
    from ..components import parse_workflow_config
    from ..errors import NotFoundError
    from ..registry import Registry

    config = parse_workflow_config(settings.raw, settings.project_dir / "loopline.toml")
    name, policy = config.model.name or settings.name, config.model.approval
    registry = Registry(runner.store, runner.artifacts)
    registered = registry.register_run(result.run.id, name=name, policy=policy)
    out = console()
    if registered is None:
        out.print("Not registered: the candidate was not blessed.")
        return
    version, created = registered
    state = "registered" if created else "already registered"
    out.print(f"[bold]Registry[/]: {version.ref} {state}, {version.status}.")
    if version.status == "pending":
        out.print(
            f"  Approve it with: loopline models approve {name} {version.version} --reason TEXT"
        )
        return
    try:
        registry.resolve(f"{name}@production")
    except NotFoundError:
        move = registry.promote(name, version.version, reason="first approved model (policy auto)")
        out.print(f"  {name}@production → version {move.version} (infra validation passed).")
