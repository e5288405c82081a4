"""The public surface is what loopline/__init__.py exports, and it stays small and sorted."""

from __future__ import annotations

import importlib
import types
import typing
from pathlib import Path

import pytest

import loopline

PUBLIC_PACKAGES = [
    "loopline",
    "loopline.artifacts",
    "loopline.automation",
    "loopline.components",
    "loopline.errors",
    "loopline.monitoring",
    "loopline.pipeline",
    "loopline.registry",
    "loopline.reports",
    "loopline.requestlog",
    "loopline.serving",
    "loopline.store",
]


@pytest.mark.parametrize("name", PUBLIC_PACKAGES)
def test_all_is_sorted_and_equals_the_public_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert list(exported) == sorted(exported)
    # Submodules bound as attributes, and `from __future__ import annotations`, are not API.
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType) and n != "annotations"
    }
    public |= {"__version__"} if name == "loopline" else set()
    assert public == set(exported)


def test_every_exported_name_has_a_docstring() -> None:
    for package in PUBLIC_PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if callable(obj) and typing.get_origin(obj) is None:  # aliases take no docstring
                assert obj.__doc__, f"{package}.{name} has no docstring"


def test_every_package_has_tests() -> None:
    src = Path(loopline.__file__).parent
    tests = Path(__file__).parent
    for package in sorted(p for p in src.iterdir() if p.is_dir() and (p / "__init__.py").exists()):
        assert (tests / package.name).is_dir(), (
            f"loopline.{package.name} has no tests/{package.name}/"
        )
