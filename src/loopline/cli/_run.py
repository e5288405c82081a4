"""``loopline run``: load a pipeline, run it with a live view, summarise the outcome."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInputError, StepFailedError
from ._output import console, duration, print_error, status_text

if TYPE_CHECKING:
    from ..config import Settings
    from ..pipeline import Pipeline
    from ..store import Store


def run_command(
    ref: str | None,
    params: dict[str, Any],
    *,
    resume: str | None,
    executor: str | None,
    project: Path | None,
    rerun: list[str] | None = None,
    cache: bool = True,
    address: str | None = None,
) -> bool:
    """Run (or resume) a pipeline of the project; return whether it succeeded."""
    from ..config import load_settings
    from ..pipeline import Runner, load_pipeline
    from ._progress import LiveProgress

    settings = load_settings(project)
    progress = LiveProgress()
    with Runner.from_settings(
        settings, executor=executor, address=address, listeners=[progress]
    ) as runner:
        progress.store = runner.store
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
        ref = ref or _default_pipeline(settings)
        if ref == STANDARD:
            pipeline = _standard_pipeline(settings, runner.store)
        else:
            pipeline = load_pipeline(ref, settings.project_dir, settings.pipelines)
        try:
            result = runner.run(
                pipeline,
                params or None,
                pipeline_ref=ref,
                resume=resume,
                rerun=rerun or (),
                cache=cache,
            )
        except StepFailedError as exc:
            print_error(str(exc), exc.hint)
            return False
        if ref == STANDARD:
            from ._training import print_training_summary, register_blessed

            print_training_summary(runner, result)
            register_blessed(settings, runner, result)
    cached = len(result.cached)
    note = f", {cached} of {len(result.steps)} steps from cache" if cached else ""
    took = duration(result.run.duration)
    console().print(f"Run {result.run.id[:8]} {status_text(result.status)} in {took}{note}.")
    return True


#: The reference of the workflow that loopline.toml's [data], [training], ... describe.
STANDARD = "standard"


def _standard_pipeline(settings: Settings, store: Store) -> Pipeline:
    from ..components import parse_workflow_config, standard_pipeline

    config = parse_workflow_config(settings.raw, settings.project_dir / "loopline.toml")
    name = config.model.name or settings.name
    return standard_pipeline(
        config, settings.project_dir, name=name, store=store, champion=champion_package(store, name)
    )


def champion_package(store: Store, name: str) -> int | None:
    """The artifact id of the package behind ``name@production``, if there is one."""
    from ..errors import NotFoundError

    try:
        version = store.models.resolve(name, "production")
    except NotFoundError:
        return None
    return version.artifact_id


def _default_pipeline(settings: Settings) -> str:
    if "data" in settings.raw:
        return STANDARD
    declared = settings.pipelines
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
