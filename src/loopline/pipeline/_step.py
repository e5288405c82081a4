"""``@step``: a plain function made into a pipeline step with named outputs and options."""

from __future__ import annotations

import functools
import inspect
import math
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, ParamSpec, TypeVar, overload

from ..errors import PipelineDefinitionError
from ._hashing import code_hash

P = ParamSpec("P")
R = TypeVar("R")


#: What a step may ask an executor for: ``{"cpu": 2, "gpu": 1, "memory": 4e9}`` (memory in
#: bytes), or an amount of a custom resource a Ray cluster declares.
Resources = Mapping[str, float]

#: The built-in resource names; any other name is a custom (Ray) resource.
RESOURCE_NAMES = ("cpu", "gpu", "memory")


@dataclass(frozen=True)
class StepOptions:
    """How a step runs: its outputs, caching, retries and the resources it needs."""

    name: str
    outputs: tuple[str, ...] = ("output",)
    cache: bool = True
    retries: int = 0
    #: Sorted ``(name, amount)`` pairs (a tuple, so options stay hashable); see ``Resources``.
    resources: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class StepRef:
    """A serialisable reference to a step: enough for another process to import it."""

    module: str
    qualname: str
    file: str | None
    options: StepOptions


class Step(Generic[P, R]):
    """A function run as a pipeline step. Create with :func:`step`.

    Called inside a ``@pipeline`` function, a step does not run: it returns references
    to its future outputs, from which the pipeline's graph is traced. Called anywhere
    else, it runs the plain function.
    """

    def __init__(
        self, func: Callable[P, R], options: StepOptions, after: tuple[str, ...] = ()
    ) -> None:
        self.func = func
        self.options = options
        self.after = after
        self.signature = inspect.signature(func)
        functools.update_wrapper(self, func)

    @property
    def name(self) -> str:
        """The step's default name in a pipeline (the function's name unless given)."""
        return self.options.name

    @functools.cached_property
    def code_hash(self) -> str:
        """Hash of the function's source: a change of code invalidates the cache."""
        return code_hash(self.func)

    @property
    def ref(self) -> StepRef:
        """A reference another process can import the step by."""
        return StepRef(
            module=self.func.__module__,
            qualname=self.func.__qualname__,
            file=inspect.getsourcefile(self.func),
            options=self.options,
        )

    def with_options(
        self,
        *,
        name: str | None = None,
        cache: bool | None = None,
        retries: int | None = None,
        after: Sequence[str] | None = None,
        resources: Resources | None = None,
    ) -> Step[P, R]:
        """A copy of this step with other options (the same code).

        Args:
            name: Another name, e.g. to call one step twice in a pipeline.
            cache: Whether outputs of earlier runs may be reused.
            retries: How many times to run the function again after it raises.
            after: Names of steps that must finish first although no data flows from them.
            resources: What the step needs from the executor (see :func:`step`).
        """
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if cache is not None:
            changes["cache"] = cache
        if retries is not None:
            changes["retries"] = _check_retries(retries, self.name)
        if resources is not None:
            changes["resources"] = _check_resources(resources, self.name)
        return Step(
            self.func,
            replace(self.options, **changes),
            tuple(after) if after is not None else self.after,
        )

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        from ._pipeline import current_trace

        trace = current_trace()
        if trace is None:
            return self.func(*args, **kwargs)
        return trace.add(self, args, kwargs)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"<Step {self.name!r} outputs={list(self.options.outputs)}>"


def _check_retries(retries: int, name: str) -> int:
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise PipelineDefinitionError(
            f"The 'retries' option of step {name!r} must be an int >= 0. Got {retries!r} instead.",
            value=retries,
        )
    return retries


def _check_resources(resources: Resources, name: str) -> tuple[tuple[str, float], ...]:
    """``resources`` as sorted pairs, or a clear error naming the bad entry."""
    allowed = f"Use names such as {', '.join(RESOURCE_NAMES)} (or a custom Ray resource)"
    if not isinstance(resources, Mapping):
        raise PipelineDefinitionError(
            f"The 'resources' option of step {name!r} must be a mapping such as "
            f"{{'cpu': 2}}. Got {resources!r} instead.",
            value=resources,
        )
    pairs = []
    for key, amount in resources.items():
        if not isinstance(key, str) or not key:
            raise PipelineDefinitionError(
                f"The 'resources' option of step {name!r} has a key {key!r}; keys must be "
                f"non-empty strings. {allowed}.",
                value=key,
            )
        if (
            isinstance(amount, bool)
            or not isinstance(amount, int | float)
            or not math.isfinite(amount)
            or amount < 0
        ):
            raise PipelineDefinitionError(
                f"The 'resources' option of step {name!r} asks for {key}={amount!r}; an "
                "amount must be a finite number >= 0.",
                value=amount,
            )
        pairs.append((key, float(amount)))
    return tuple(sorted(pairs))


def _outputs_from_annotation(func: Callable[..., Any]) -> tuple[str, ...] | None:
    """Output names from ``-> Annotated[T, "name"]`` or ``-> tuple[Annotated[..], ...]``."""
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:  # noqa: BLE001 - unresolvable annotations just mean "no names given"
        return None
    ret = hints.get("return")
    if ret is None:
        return None
    if typing.get_origin(ret) is tuple:
        args = typing.get_args(ret)
        if not args or args[-1] is Ellipsis:
            return None
        names = []
        for i, arg in enumerate(args):
            meta = getattr(arg, "__metadata__", ())
            names.append(meta[0] if meta and isinstance(meta[0], str) else f"output_{i}")
        return tuple(names)
    meta = getattr(ret, "__metadata__", ())
    if meta and isinstance(meta[0], str):
        return (meta[0],)
    return None


@overload
def step(func: Callable[P, R], /) -> Step[P, R]: ...


@overload
def step(
    *,
    name: str | None = None,
    outputs: Sequence[str] | None = None,
    cache: bool = True,
    retries: int = 0,
    resources: Resources | None = None,
) -> Callable[[Callable[P, R]], Step[P, R]]: ...


def step(
    func: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    outputs: Sequence[str] | None = None,
    cache: bool = True,
    retries: int = 0,
    resources: Resources | None = None,
) -> Step[P, R] | Callable[[Callable[P, R]], Step[P, R]]:
    """Make a function a pipeline step.

    Args:
        func: The function; its arguments are the step's inputs (outputs of other steps)
            and parameters (JSON-able values).
        name: The step's name in pipelines; the function's name by default.
        outputs: Names of the outputs when the function returns a tuple of several
            values; else taken from ``Annotated[T, "name"]`` return annotations, or
            ``"output"`` for a single value.
        cache: Reuse outputs of an earlier run with the same code, parameters and inputs.
        retries: How many times to run the function again after it raises.
        resources: What one run of the step needs, e.g. ``{"cpu": 2, "gpu": 1}``
            (``memory`` in bytes; other names are custom Ray resources). The Ray executor
            schedules the step on a worker that has them; executors on one machine ignore
            them. Resources do not change the step's cache key.

    Returns:
        A :class:`Step`.

    Example:
        >>> @step(outputs=["train", "test"])
        ... def split(rows: list, ratio: float = 0.5) -> tuple[list, list]:
        ...     cut = int(len(rows) * ratio)
        ...     return rows[:cut], rows[cut:]
        >>> split([1, 2, 3, 4])  # outside a pipeline it is a plain function
        ([1, 2], [3, 4])
    """

    def decorate(f: Callable[P, R]) -> Step[P, R]:
        if not callable(f):
            raise PipelineDefinitionError(f"@step decorates functions. Got {f!r} instead.")
        names = tuple(outputs) if outputs is not None else _outputs_from_annotation(f)
        names = names or ("output",)
        if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
            raise PipelineDefinitionError(
                f"The outputs of step {f.__name__!r} must be distinct non-empty names. "
                f"Got {list(names)!r} instead.",
                value=list(names),
            )
        options = StepOptions(
            name=name or f.__name__,
            outputs=names,
            cache=bool(cache),
            retries=_check_retries(retries, name or f.__name__),
            resources=_check_resources({} if resources is None else resources, name or f.__name__),
        )
        return Step(f, options)

    return decorate(func) if func is not None else decorate
