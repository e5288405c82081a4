"""``@pipeline``: a function whose step calls are traced into a graph of step invocations."""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import PipelineDefinitionError
from ._dag import topological_order
from ._hashing import canonical_json, sha256_text

if TYPE_CHECKING:
    from ._runner import RunResult
    from ._step import Step

_current: contextvars.ContextVar[_Trace | None] = contextvars.ContextVar(
    "loopline_trace", default=None
)


@dataclass(frozen=True)
class OutputRef:
    """A reference, during tracing, to an output a step invocation will produce."""

    invocation: str
    output: str
    trace_id: int = field(repr=False, compare=False)


@dataclass
class Invocation:
    """One call of a step inside a pipeline: its inputs, parameters and dependencies."""

    name: str
    step: Step[..., Any]
    inputs: dict[str, OutputRef]
    params: dict[str, Any]
    after: tuple[str, ...] = ()

    @property
    def depends_on(self) -> list[str]:
        """Invocations that must finish first: producers of inputs, then ``after``."""
        return list(
            dict.fromkeys([ref.invocation for ref in self.inputs.values()] + list(self.after))
        )


@dataclass
class PipelineGraph:
    """A traced pipeline: its invocations in a valid execution order."""

    name: str
    params: dict[str, Any]
    invocations: dict[str, Invocation]
    order: list[str]

    def definition(self) -> dict[str, Any]:
        """A JSON-able description of the graph, stored with each pipeline version."""
        return {
            "name": self.name,
            "params": self.params,
            "steps": [
                {
                    "name": inv.name,
                    "step": f"{inv.step.func.__module__}:{inv.step.func.__qualname__}",
                    "code": inv.step.code_hash,
                    "params": inv.params,
                    "inputs": {k: [r.invocation, r.output] for k, r in inv.inputs.items()},
                    "after": list(inv.after),
                    "outputs": list(inv.step.options.outputs),
                }
                for inv in (self.invocations[n] for n in self.order)
            ],
        }

    @functools.cached_property
    def definition_hash(self) -> str:
        """sha256 of :meth:`definition`: a new hash is a new pipeline version."""
        return sha256_text(canonical_json(self.definition()))


class _Trace:
    def __init__(self) -> None:
        self.invocations: dict[str, Invocation] = {}

    def add(self, step: Step[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        name = _unique_name(step.name, self.invocations)
        try:
            bound = step.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise PipelineDefinitionError(
                f"Step {name!r} was called with arguments that do not fit its signature "
                f"{step.name}{step.signature}: {exc}.",
                hint="Pass every input the step function needs.",
                step=name,
            ) from exc
        bound.apply_defaults()
        inputs: dict[str, OutputRef] = {}
        params: dict[str, Any] = {}
        for arg, value in bound.arguments.items():
            kind = step.signature.parameters[arg].kind
            if kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                raise PipelineDefinitionError(
                    f"Step {name!r} takes *args or **kwargs; steps need named arguments.",
                    step=name,
                )
            if isinstance(value, OutputRef):
                self._check_ref(value, name, arg)
                inputs[arg] = value
            else:
                params[arg] = _check_param(value, name, arg)
        self.invocations[name] = Invocation(name, step, inputs, params, tuple(step.after))
        refs = tuple(OutputRef(name, out, id(self)) for out in step.options.outputs)
        return refs[0] if len(refs) == 1 else refs

    def _check_ref(self, ref: OutputRef, step: str, arg: str) -> None:
        if ref.trace_id != id(self) or ref.invocation not in self.invocations:
            raise PipelineDefinitionError(
                f"Input {arg!r} of step {step!r} is an output of step {ref.invocation!r}, "
                "which is not part of this pipeline.",
                hint="Pass outputs of steps called earlier in the same pipeline function.",
                step=step,
                value=ref.invocation,
            )


def _unique_name(base: str, taken: Mapping[str, Any]) -> str:
    if base not in taken:
        return base
    n = 2
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


def _check_param(value: Any, step: str, arg: str) -> Any:
    import json

    if isinstance(value, (list, tuple, dict)) and _contains_ref(value):
        raise PipelineDefinitionError(
            f"Argument {arg!r} of step {step!r} holds step outputs inside a container.",
            hint="Pass each step output as its own argument.",
            step=step,
        )
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise PipelineDefinitionError(
            f"Argument {arg!r} of step {step!r} is a {type(value).__name__}, which is "
            "neither a step output nor a JSON-able parameter.",
            hint="Pass data between steps as step outputs; parameters must be JSON-able "
            "(numbers, strings, bools, None, lists and dicts of them).",
            step=step,
            value=repr(value)[:100],
        ) from exc
    return value


def _contains_ref(value: Any) -> bool:
    if isinstance(value, OutputRef):
        return True
    if isinstance(value, (list, tuple)):
        return any(_contains_ref(v) for v in value)
    if isinstance(value, dict):
        return any(_contains_ref(v) for v in value.values())
    return False


def current_trace() -> _Trace | None:
    """The trace being recorded in this context, if a pipeline function is running."""
    return _current.get()


@contextmanager
def _tracing() -> Iterator[_Trace]:
    trace = _Trace()
    token = _current.set(trace)
    try:
        yield trace
    finally:
        _current.reset(token)


class Pipeline:
    """A function of steps, traced into a :class:`PipelineGraph`. Create with :func:`pipeline`.

    Example:
        >>> from loopline import step, pipeline
        >>> @step
        ... def numbers(n: int) -> list:
        ...     return list(range(n))
        >>> @step
        ... def total(values: list) -> int:
        ...     return sum(values)
        >>> @pipeline
        ... def example(n: int = 3):
        ...     total(numbers(n))
        >>> example.trace().order
        ['numbers', 'total']
    """

    def __init__(self, func: Callable[..., Any], name: str | None = None) -> None:
        self.func = func
        self.name = name or func.__name__
        self.signature = inspect.signature(func)
        functools.update_wrapper(self, func)  # type: ignore[arg-type]

    def trace(self, params: Mapping[str, Any] | None = None) -> PipelineGraph:
        """Trace the pipeline with these parameters and check its graph.

        Raises:
            PipelineDefinitionError: Unknown parameters, a bad step call, an unknown
                input or dependency, a cycle, or no steps at all.
        """
        try:
            bound = self.signature.bind(**dict(params or {}))
        except TypeError as exc:
            raise PipelineDefinitionError(
                f"Pipeline {self.name!r} takes parameters {self.name}{self.signature}: {exc}.",
                hint="Pass only the parameters the pipeline function declares.",
                pipeline=self.name,
            ) from exc
        bound.apply_defaults()
        with _tracing() as trace:
            self.func(*bound.args, **bound.kwargs)
        if not trace.invocations:
            raise PipelineDefinitionError(
                f"Pipeline {self.name!r} calls no step.",
                hint="Call functions decorated with @step inside the pipeline function.",
                pipeline=self.name,
            )
        order = topological_order({name: inv.depends_on for name, inv in trace.invocations.items()})
        return PipelineGraph(self.name, dict(bound.arguments), trace.invocations, order)

    def run(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        project_dir: str | None = None,
        executor: str | None = None,
    ) -> RunResult:
        """Run the pipeline in the project at ``project_dir`` (found from the cwd by default).

        Returns:
            The :class:`RunResult`.

        Raises:
            StepFailedError: A step raised; the run is recorded as failed and resumable.
        """
        from ..config import load_settings
        from ._runner import Runner

        settings = load_settings(project_dir)
        with Runner.from_settings(settings, executor=executor) as runner:
            return runner.run(self, params)

    def __repr__(self) -> str:
        return f"<Pipeline {self.name!r}>"


def pipeline(func: Callable[..., Any] | None = None, /, *, name: str | None = None) -> Any:
    """Make a function of step calls a pipeline.

    Args:
        func: The pipeline function. Its arguments are the pipeline's parameters; it
            calls steps, passing one step's outputs as another's inputs.
        name: The pipeline's name in the store; the function's name by default.

    Returns:
        A :class:`Pipeline`.
    """
    if func is None:
        return lambda f: Pipeline(f, name)
    return Pipeline(func, name)
