"""Ordering steps: topological sort with cycle and unknown-node detection."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..errors import PipelineDefinitionError


def topological_order(dependencies: Mapping[str, Iterable[str]]) -> list[str]:
    """Order nodes so that every node comes after all of its dependencies.

    Ties keep the order in which nodes were declared, so the order is deterministic.

    Args:
        dependencies: For each node, the nodes it depends on.

    Raises:
        PipelineDefinitionError: A dependency names an unknown node, or there is a cycle
            (the message shows the cycle's path).
    """
    deps = {node: list(dict.fromkeys(before)) for node, before in dependencies.items()}
    for node, before in deps.items():
        for dep in before:
            if dep not in deps:
                raise PipelineDefinitionError(
                    f"Step {node!r} depends on {dep!r}, which is not a step of this pipeline.",
                    hint=f"Known steps: {', '.join(deps) or '(none)'}.",
                    step=node,
                    value=dep,
                )
    order: list[str] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in deps:
        if state.get(root) == 2:
            continue
        # Iterative DFS: (node, index of the next dependency to visit).
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            node, i = stack[-1]
            if i < len(deps[node]):
                stack[-1] = (node, i + 1)
                dep = deps[node][i]
                if state.get(dep) == 1:
                    path = [n for n, _ in stack]
                    cycle = [*path[path.index(dep) :], dep]
                    raise PipelineDefinitionError(
                        f"The pipeline has a cycle: {' -> '.join(reversed(cycle))}.",
                        hint="A step cannot depend, directly or not, on its own output.",
                        cycle=cycle,
                    )
                if state.get(dep) != 2:
                    state[dep] = 1
                    stack.append((dep, 0))
            else:
                stack.pop()
                state[node] = 2
                order.append(node)
    return order
