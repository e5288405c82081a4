"""``loopline run``: load a pipeline, run it with a live view, summarise the outcome."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InvalidInputError, StepFailedError
from ._output import console, duration, print_error, status_text


def run_command(
    ref: str | None,
    params: dict[str, Any],
    *,
    resume: str | None,
    executor: str | None,
    project: Path | None,
) -> bool:
    """Run (or resume) a pipeline of the project; return whether it succeeded."""
    from ..config import load_settings
    from ..pipeline import Runner, load_pipeline
    from ._progress import LiveProgress

    settings = load_settings(project)
    with Runner.from_settings(settings, executor=executor, listeners=[LiveProgress()]) as runner:
        if resume is not None:
            old = runner.store.runs.get(resume)
            if ref is None:
                ref = old.pipeline_ref
            if ref is None:
                raise InvalidInputError(
                    f"Run {old.id[:8]} does not record which pipeline it ran.",
                    hint="Name the pipeline: loopline run PIPELINE --resume RUN_ID.",
                )
            resume = old.id
        ref = ref or _default_pipeline(settings.pipelines)
        pipeline = load_pipeline(ref, settings.project_dir, settings.pipelines)
        try:
            result = runner.run(pipeline, params or None, pipeline_ref=ref, resume=resume)
        except StepFailedError as exc:
            print_error(str(exc), exc.hint)
            return False
    cached = len(result.cached)
    note = f", {cached} of {len(result.steps)} steps from cache" if cached else ""
    took = duration(result.run.duration)
    console().print(f"Run {result.run.id[:8]} {status_text(result.status)} in {took}{note}.")
    return True


def _default_pipeline(declared: dict[str, str]) -> str:
    if len(declared) == 1:
        return next(iter(declared))
    raise InvalidInputError(
        "Which pipeline? "
        + (
            f"loopline.toml declares {', '.join(sorted(declared))}."
            if declared
            else "loopline.toml declares none under [pipelines]."
        ),
        hint="Run 'loopline run NAME', 'loopline run module:function' or "
        "'loopline run file.py:function'.",
    )
