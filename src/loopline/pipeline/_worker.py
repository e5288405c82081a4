"""What an executor runs: one step, from serialisable inputs to serialisable outputs.

A :class:`StepTask` holds only strings, numbers and dicts, so the in-process, process
pool and Ray executors all pass the same object. The worker imports the step,
loads and verifies its inputs, runs it with tracking, and stores its outputs.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
import time
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import LooplineError, MaterializationError, PipelineDefinitionError
from ._step import Step, StepRef
from ._tracking import TrackingContext, tracking_context

if TYPE_CHECKING:
    from ..artifacts import ArtifactStore, StoredBlob
    from ..store import Store


@dataclass(frozen=True)
class BlobRef:
    """Where an input artifact lives and how to read it."""

    uri: str
    sha256: str
    materializer: str


@dataclass(frozen=True)
class StepTask:
    """Everything a worker needs to run one step invocation."""

    step: StepRef
    invocation: str
    run_id: str
    step_run_id: int
    inputs: dict[str, BlobRef]
    params: dict[str, Any]
    store_url: str
    artifacts_url: str
    #: The executor's name, which the step can read with ``current_executor()``.
    executor: str = "inprocess"


@dataclass(frozen=True)
class StepOutcome:
    """What came of a task: output blobs, or the error and its traceback."""

    outputs: dict[str, StoredBlob] | None
    error: str | None = None
    traceback: str | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        """Whether the step succeeded."""
        return self.error is None


_shared: dict[tuple[str, str], tuple[Store, ArtifactStore]] = {}


def share_resources(store: Store, artifacts: ArtifactStore) -> None:
    """Let in-process workers use the runner's own store and artifact store."""
    _shared[(store.url, artifacts.url)] = (store, artifacts)


def _resources(store_url: str, artifacts_url: str) -> tuple[Store, ArtifactStore]:
    key = (store_url, artifacts_url)
    if key not in _shared:
        from ..artifacts import ArtifactStore
        from ..store import Store

        _shared[key] = (Store(store_url), ArtifactStore(artifacts_url))
    return _shared[key]


_steps: dict[StepRef, Step[..., Any]] = {}


def share_step(step: Step[..., Any]) -> StepRef:
    """Let workers in this process use ``step`` itself (steps defined in functions too)."""
    ref = step.ref
    _steps[ref] = step
    return ref


def resolve_step(ref: StepRef) -> Step[..., Any]:
    """The step a reference names: shared by this process, or imported.

    Raises:
        PipelineDefinitionError: The step cannot be imported from here.
    """
    if ref in _steps:
        return _steps[ref]
    if "<locals>" in ref.qualname:
        raise PipelineDefinitionError(
            f"Step {ref.options.name!r} is defined inside a function ({ref.qualname}); this "
            "executor runs steps in other processes, which can only import module-level steps.",
            hint="Define the step at the top level of a module, or use the in-process executor.",
            step=ref.options.name,
        )
    try:
        module = importlib.import_module(ref.module)
    except ImportError:
        module = _import_file(ref)
    obj: Any = module
    for part in ref.qualname.split("."):
        obj = getattr(obj, part, None)
    func = obj.func if isinstance(obj, Step) else obj
    if not callable(func):
        raise PipelineDefinitionError(
            f"Cannot find step {ref.qualname!r} in module {ref.module!r}.",
            hint="Define steps at module level so other processes can import them.",
            step=ref.options.name,
        )
    _steps[ref] = Step(func, ref.options)
    return _steps[ref]


def _import_file(ref: StepRef) -> Any:
    if ref.module in sys.modules:
        return sys.modules[ref.module]
    spec = importlib.util.spec_from_file_location(ref.module, ref.file) if ref.file else None
    if spec is None or spec.loader is None:
        raise PipelineDefinitionError(
            f"Cannot import module {ref.module!r} of step {ref.options.name!r}.",
            hint="Make the module importable (install the project or add it to PYTHONPATH).",
            step=ref.options.name,
        )
    module = importlib.util.module_from_spec(spec)
    sys.modules[ref.module] = module
    spec.loader.exec_module(module)
    return module


def execute_step(task: StepTask, step: Step[..., Any] | None = None) -> StepOutcome:
    """Run one step: load inputs, call the function with tracking, store the outputs.

    Args:
        task: What to run.
        step: The step itself when the executor ships it (Ray pickles it by value when
            its module cannot be imported); else resolved from ``task.step``.

    Never raises for a failing step: the error comes back in the outcome.
    """
    attempts = 0
    try:
        step = step if step is not None else resolve_step(task.step)
        store, artifacts = _resources(task.store_url, task.artifacts_url)
        kwargs = dict(task.params)
        for name, blob in task.inputs.items():
            kwargs[name] = artifacts.load(blob.uri, blob.sha256, blob.materializer)
        context = TrackingContext(
            task.run_id,
            task.step_run_id,
            store,
            save_artifact=functools.partial(_save_extra, store, artifacts, task.step_run_id),
            load_artifact=functools.partial(_load_extra, store, artifacts, task.step_run_id),
            executor=task.executor,
        )
        while True:
            attempts += 1
            try:
                with tracking_context(context):
                    result = step.func(**kwargs)
                break
            except Exception:
                if attempts > step.options.retries:
                    raise
                time.sleep(min(0.1 * 2 ** (attempts - 1), 5.0))
        values = _split_outputs(result, step)
        outputs = {name: artifacts.save(value) for name, value in values.items()}
        return StepOutcome(outputs, attempts=attempts)
    except Exception as exc:
        return StepOutcome(
            None,
            error=_describe(exc),
            traceback=traceback.format_exc(),
            attempts=max(attempts, 1),
        )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, LooplineError):
        return f"{exc}" + (f" {exc.hint}" if exc.hint else "")
    return f"{type(exc).__name__}: {exc}"


def _split_outputs(result: Any, step: Step[..., Any]) -> dict[str, Any]:
    names = step.options.outputs
    if len(names) == 1:
        return {names[0]: result}
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        got = (
            f"{len(result)} values"
            if isinstance(result, (tuple, list))
            else f"one {type(result).__name__}"
        )
        raise MaterializationError(
            f"Step {step.name!r} declares {len(names)} outputs {list(names)} but returned {got}.",
            hint="Return a tuple with one value per declared output.",
            step=step.name,
        )
    return dict(zip(names, result, strict=True))


def _save_extra(
    store: Store, artifacts: ArtifactStore, step_run_id: int, value: Any, name: str
) -> int:
    blob = artifacts.save(value)
    record = store.artifacts.add(
        uri=blob.uri,
        sha256=blob.sha256,
        type=blob.type,
        materializer=blob.materializer,
        size=blob.size,
        metadata=blob.metadata,
    )
    store.runs.link_outputs(step_run_id, {name: record.id})
    return record.id


def _load_extra(
    store: Store, artifacts: ArtifactStore, step_run_id: int, artifact_id: int, name: str
) -> Any:
    record = store.artifacts.get(artifact_id)
    value = artifacts.load(record.uri, record.sha256, record.materializer)
    store.runs.link_inputs(step_run_id, {name: record.id})
    return value
