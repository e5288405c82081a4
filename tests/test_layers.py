"""Inner layers never import outer ones, and frameworks stay at the edges (DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import loopline

SRC = Path(loopline.__file__).parent

LAYERS = {
    "core": {
        "store",
        "artifacts",
        "errors",
        "config",
        "requestlog",
        "_version",
        "_types",
        "__init__",
        "__main__",
    },
    "engine": {"pipeline"},
    "components": {"components"},
    "lifecycle": {"registry", "serving", "monitoring", "automation"},
    "faces": {"cli", "ui", "reports"},
}
ORDER = list(LAYERS)
#: Third-party frameworks and the only top-level packages allowed to import them.
FRAMEWORKS = {
    "sqlalchemy": {"store"},
    "alembic": {"store"},
    "typer": {"cli"},
    "rich": {"cli"},
    "click": {"cli"},
    "fastapi": {"serving", "ui"},
    "uvicorn": {"serving", "ui", "cli"},
    "starlette": {"serving", "ui"},
}


def _layer(top: str) -> str:
    for layer, members in LAYERS.items():
        if top in members:
            return layer
    raise AssertionError(f"loopline.{top} is in no layer of tests/test_layers.py: add it")


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module, is_loopline) for every import in a file, relative ones resolved."""
    rel = path.relative_to(SRC.parent).with_suffix("")
    package = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, alias.name.startswith("loopline")) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
                found.append((name, True))
            elif node.module:
                found.append((node.module, node.module.startswith("loopline")))
    return found


def _modules() -> list[tuple[Path, str]]:
    out = []
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).parts
        if "_migrations" in parts:
            continue
        out.append((path, parts[0].removesuffix(".py")))
    return out


def test_inner_layers_never_import_outer_ones() -> None:
    for path, top in _modules():
        if top in ("__init__", "__main__"):
            continue  # the package root re-exports and starts the CLI
        mine = ORDER.index(_layer(top))
        for module, ours in _imports(path):
            if not ours or module == "loopline":
                continue
            target = module.split(".")[1]
            assert ORDER.index(_layer(target)) <= mine, f"{path.relative_to(SRC)} imports {module}"


def test_frameworks_stay_at_the_edges() -> None:
    for path, top in _modules():
        for module, ours in _imports(path):
            framework = module.split(".")[0]
            if not ours and framework in FRAMEWORKS:
                assert top in FRAMEWORKS[framework], f"{path.relative_to(SRC)} imports {framework}"


def test_a_package_imports_only_the_public_names_of_another() -> None:
    # `from loopline.components._ingest import x` in monitoring couples it to a private
    # module; the other package's __init__ is its contract (STYLE.md).
    for path, top in _modules():
        for module, ours in _imports(path):
            parts = module.split(".")
            if not ours or len(parts) < 3 or parts[1] == top:
                continue
            assert not any(p.startswith("_") for p in parts[2:]), (
                f"{path.relative_to(SRC)} imports {module}: import the name from "
                f"loopline.{parts[1]} (export it there if it is not yet)"
            )
