"""Candidate algorithms: import paths, parameters, search spaces, and the defaults per task.

A candidate names an estimator class by its import path (``"sklearn.ensemble.
RandomForestClassifier"``), so it can be written in ``loopline.toml``, stored as plain JSON
and rebuilt anywhere. A search space maps each parameter to a spec such as
``{"type": "float", "low": 1e-4, "high": 10, "log": true}``; ``parse_search_space`` turns it
into Optuna distributions.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import math
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

import numpy as np
import pandas as pd
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.pipeline import Pipeline

from ..errors import ConfigError, InvalidInputError

__all__ = [
    "Candidate",
    "default_candidates",
    "infer_task",
    "make_candidate",
    "parse_search_space",
    "resolve_estimator_class",
]

Task = Literal["classification", "regression"]

_DISTRIBUTION_KEYS = {
    "int": {"type", "low", "high", "log", "step"},
    "float": {"type", "low", "high", "log", "step"},
    "categorical": {"type", "choices"},
}
_KNOWN_PACKAGES = ("sklearn", "lightgbm", "xgboost", "catboost")
_PATH_HELP = (
    "Give the dotted import path of a scikit-learn compatible estimator class, "
    "e.g. 'sklearn.ensemble.RandomForestClassifier'."
)
#: Integer-valued targets with at most this many distinct values are taken as classes.
MAX_CLASSES_FOR_INFERENCE = 20


@dataclass
class Candidate:
    """One algorithm to try: an estimator class by import path, its fixed params, its space.

    Attributes:
        name: Short unique name (``"random_forest"``) used in leaderboards and messages.
        estimator: Import path of the estimator class.
        params: Fixed constructor parameters.
        search_space: Parameter -> distribution spec, tuned by ``tune``.

    Example:
        >>> candidate = make_candidate("sklearn.linear_model.Ridge", {"alpha": 0.5})
        >>> candidate.build()
        Ridge(alpha=0.5)
    """

    name: str
    estimator: str
    params: dict[str, Any] = field(default_factory=dict)
    search_space: dict[str, Any] = field(default_factory=dict)

    def estimator_class(self) -> type[Any]:
        """Import and return the estimator class (see ``resolve_estimator_class``)."""
        return resolve_estimator_class(self.estimator)

    def build(
        self, params: Mapping[str, Any] | None = None, *, random_state: int | None = None
    ) -> Any:
        """Return a new, unfitted estimator with the fixed params updated by ``params``.

        Args:
            params: Parameters that override the fixed ones (e.g. tuned values).
            random_state: Seed set on estimators that take ``random_state``, unless a
                parameter already sets it.

        Returns:
            The estimator instance.
        """
        cls = self.estimator_class()
        merged = {**self.params, **(params or {})}
        accepted = _accepted_params(cls)
        if random_state is not None and "random_state" in accepted:
            merged.setdefault("random_state", random_state)
        _check_param_names(self.name, self.estimator, merged, accepted)
        return cls(**merged)

    def check_param_names(self, names: Any, *, what: str = "parameter") -> None:
        """Raise ConfigError if the estimator's constructor does not accept all ``names``.

        Args:
            names: Parameter names (any iterable of str).
            what: How to call them in the message (``"search space parameter"``).
        """
        accepted = _accepted_params(self.estimator_class())
        _check_param_names(self.name, self.estimator, dict.fromkeys(names), accepted, what=what)

    def build_pipeline(
        self,
        preprocessor: Any,
        params: Mapping[str, Any] | None = None,
        *,
        random_state: int | None = None,
    ) -> Pipeline:
        """Return ``Pipeline([("preprocess", clone(preprocessor)), ("model", estimator)])``.

        The model package holds this whole pipeline so serving applies the same
        preprocessing as training.

        Args:
            preprocessor: An unfitted transformer, e.g. from ``build_preprocessor``.
            params: Parameters overriding the fixed ones.
            random_state: Seed for the estimator.

        Returns:
            The unfitted pipeline.
        """
        model = self.build(params, random_state=random_state)
        return Pipeline([("preprocess", clone(preprocessor)), ("model", model)])

    def to_dict(self) -> dict[str, Any]:
        """Return the candidate as plain JSON values."""
        return {
            "name": self.name,
            "estimator": self.estimator,
            "params": dict(self.params),
            "search_space": dict(self.search_space),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Candidate:
        """Rebuild a candidate from ``to_dict()`` output (checking its path and params)."""
        return make_candidate(
            data["estimator"],
            data.get("params"),
            name=data.get("name"),
            search_space=data.get("search_space"),
        )


def make_candidate(
    estimator: str,
    params: Mapping[str, Any] | None = None,
    *,
    name: str | None = None,
    search_space: Mapping[str, Any] | None = None,
    task: str | None = None,
) -> Candidate:
    """Check an estimator import path, its params and search space, and return a Candidate.

    Args:
        estimator: Dotted import path of the estimator class.
        params: Fixed constructor parameters.
        name: Name in leaderboards; the class name in snake case by default.
        search_space: Parameter -> distribution spec (see ``parse_search_space``).
        task: When given, the estimator must be a classifier (``"classification"``) or a
            regressor (``"regression"``).

    Returns:
        The candidate.

    Raises:
        ConfigError: The path does not resolve, the class is not an estimator, a parameter
            is unknown, the search space is invalid, or the estimator does not fit ``task``.
    """
    cls = resolve_estimator_class(estimator)
    name = name or _snake_case(cls.__name__)
    params = dict(params or {})
    space = dict(search_space or {})
    accepted = _accepted_params(cls)
    _check_param_names(name, estimator, params, accepted)
    _check_param_names(name, estimator, space, accepted, what="search space parameter")
    parse_search_space(space, candidate=name)
    if task is not None:
        _check_estimator_task(name, cls(**params), task)
    return Candidate(name=name, estimator=estimator, params=params, search_space=space)


def resolve_estimator_class(path: str) -> type[Any]:
    """Import the class at ``path`` and check it is a scikit-learn compatible estimator.

    Args:
        path: Dotted import path, e.g. ``"sklearn.ensemble.RandomForestClassifier"``.

    Returns:
        The class.

    Raises:
        ConfigError: Nothing importable lives at ``path`` (with a "did you mean" when a
            close name exists), or it is not an estimator class.
    """
    if not isinstance(path, str) or "." not in path.strip("."):
        suggestion = _suggest_for_bare_name(str(path))
        raise ConfigError(
            f"Estimator {path!r} is not a dotted import path. {_PATH_HELP}"
            + (f" Did you mean {suggestion!r}?" if suggestion else ""),
            value=path,
        )
    obj = _import_path(path)
    if not inspect.isclass(obj):
        raise ConfigError(
            f"{path!r} is a {type(obj).__name__}, not a class. {_PATH_HELP}", value=path
        )
    missing = [
        m for m in ("fit", "get_params", "set_params") if not callable(getattr(obj, m, None))
    ]
    if missing or not (hasattr(obj, "predict") or hasattr(obj, "predict_proba")):
        lacks = ", ".join(missing or ["predict"])
        raise ConfigError(
            f"{path!r} is not a scikit-learn estimator: it has no {lacks}. {_PATH_HELP}",
            value=path,
        )
    return obj


def default_candidates(task: str, *, balanced: bool = False) -> list[Candidate]:
    """Return the built-in candidates for ``task``, with default search spaces.

    Classification: logistic regression, random forest, histogram gradient boosting;
    regression: ridge, random forest, histogram gradient boosting. LightGBM (both tasks)
    and XGBoost (regression) are added when importable, as ``loopline.components.boosting``
    classes. All gradient boosting stops early above 10,000 rows (10% of the training rows
    held out, 10 rounds without improvement) and runs at most 200 rounds; threads follow
    the OpenMP limit (one thread per fold fit: folds and trials already keep the cores busy,
    and threads cost more than they save on small data).

    Args:
        task: ``"classification"`` or ``"regression"``.
        balanced: Weigh classes by their inverse frequency (``class_weight="balanced"``),
            and let tuning choose between weighted and unweighted: for imbalanced targets.

    Returns:
        New Candidate objects.

    Raises:
        ConfigError: ``task`` is unknown.
    """
    if task not in _DEFAULTS:
        raise ConfigError(
            f"Unknown task {task!r}. Use one of: {', '.join(sorted(_DEFAULTS))}.", value=task
        )
    candidates = []
    for name, path, params, space in _DEFAULTS[task]:
        package = _REQUIRES.get(name, "sklearn")
        if package != "sklearn" and importlib.util.find_spec(package) is None:
            continue
        candidate = Candidate(name, path, dict(params), dict(space))
        if balanced and task == "classification":
            candidate.params["class_weight"] = "balanced"
            candidate.search_space["class_weight"] = {
                "type": "categorical",
                "choices": ["balanced", None],
            }
        candidates.append(candidate)
    return candidates


def parse_search_space(
    space: Mapping[str, Any], *, candidate: str | None = None
) -> dict[str, BaseDistribution]:
    """Turn parameter -> spec into parameter -> Optuna distribution.

    Specs: ``{"type": "int", "low": 10, "high": 300, "log": false, "step": 1}``,
    ``{"type": "float", "low": 1e-4, "high": 10, "log": true}``,
    ``{"type": "categorical", "choices": [...]}``. Optuna distributions pass through.

    Args:
        space: Parameter name -> spec.
        candidate: Candidate name, used in error messages.

    Returns:
        Parameter name -> distribution.

    Raises:
        ConfigError: A spec has an unknown type, unknown keys, or missing or invalid bounds.
    """
    if not isinstance(space, Mapping):
        raise ConfigError(
            f"A search space must be a mapping of parameter -> spec. Got {type(space).__name__}.",
            value=space,
        )
    return {param: _parse_spec(param, spec, candidate) for param, spec in space.items()}


def infer_task(y: pd.Series | Any) -> Task:
    """Guess the task from the target's values.

    Strings, categories and booleans are classes; so are integer values (even stored as
    floats) with at most 20 distinct values. Anything else numeric is regression.

    Args:
        y: The target.

    Returns:
        ``"classification"`` or ``"regression"``.

    Raises:
        InvalidInputError: The target is empty or entirely missing.
    """
    series = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y))
    values = series.dropna()
    if values.empty:
        raise InvalidInputError(
            "Cannot infer the task from an empty or entirely missing target; "
            "set task = 'classification' or 'regression'.",
            value=len(series),
        )
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "classification"
    numbers = values.to_numpy(dtype=float)
    integral = bool(np.all(np.isfinite(numbers)) and np.all(numbers == np.round(numbers)))
    if integral and values.nunique() <= MAX_CLASSES_FOR_INFERENCE:
        return "classification"
    return "regression"


# -- search space specs ------------------------------------------------------------------


def _where(param: str, candidate: str | None) -> str:
    return f"parameter {param!r}" + (f" of candidate {candidate!r}" if candidate else "")


def _parse_spec(param: str, spec: Any, candidate: str | None) -> BaseDistribution:
    """Turn one spec into a distribution, raising ConfigError on anything wrong."""
    if isinstance(spec, BaseDistribution):
        return spec
    where = _where(param, candidate)
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise ConfigError(
            f"The search space for {where} must be a mapping with a 'type' "
            f"(one of: {', '.join(sorted(_DISTRIBUTION_KEYS))}). Got {spec!r}.",
            value=spec,
        )
    kind = spec["type"]
    if kind not in _DISTRIBUTION_KEYS:
        message = (
            f"Unknown distribution {kind!r} for {where}. "
            f"Use one of: {', '.join(sorted(_DISTRIBUTION_KEYS))}."
        )
        close = difflib.get_close_matches(str(kind), list(_DISTRIBUTION_KEYS), n=1)
        if close:
            message += f" Did you mean {close[0]!r}?"
        raise ConfigError(message, value=kind)
    unknown = sorted(set(spec) - _DISTRIBUTION_KEYS[kind])
    if unknown:
        raise ConfigError(
            f"Unknown key(s) {', '.join(map(repr, unknown))} in the {kind!r} distribution for "
            f"{where}. Allowed: {', '.join(sorted(_DISTRIBUTION_KEYS[kind]))}.",
            value=unknown,
        )
    if kind == "categorical":
        return _categorical(spec, where)
    return _numeric(kind, spec, where)


def _categorical(spec: Mapping[str, Any], where: str) -> CategoricalDistribution:
    choices = spec.get("choices")
    if not isinstance(choices, list | tuple) or not choices:
        raise ConfigError(
            f"The 'categorical' distribution for {where} needs a non-empty list 'choices'. "
            f"Got {choices!r}.",
            value=choices,
        )
    bad = [c for c in choices if c is not None and not isinstance(c, bool | int | float | str)]
    if bad:
        raise ConfigError(
            f"Choices for {where} must be None, booleans, numbers or strings. Got {bad!r}.",
            value=bad,
        )
    return CategoricalDistribution(list(choices))


def _numeric(kind: str, spec: Mapping[str, Any], where: str) -> BaseDistribution:
    missing = [key for key in ("low", "high") if key not in spec]
    if missing:
        raise ConfigError(
            f"The {kind!r} distribution for {where} needs 'low' and 'high'; "
            f"missing {', '.join(map(repr, missing))}.",
            value=dict(spec),
        )
    low, high = spec["low"], spec["high"]
    number = int if kind == "int" else (int, float)
    for key, bound in (("low", low), ("high", high)):
        if isinstance(bound, bool) or not isinstance(bound, number) or not math.isfinite(bound):
            expected = "an integer" if kind == "int" else "a finite number"
            raise ConfigError(
                f"{key!r} of the {kind!r} distribution for {where} must be {expected}. "
                f"Got {bound!r}.",
                value=bound,
            )
    if low > high:
        raise ConfigError(
            f"'low' must not exceed 'high' in the {kind!r} distribution for {where}. "
            f"Got low={low!r}, high={high!r}.",
            value=(low, high),
        )
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(
            f"'log' of the {kind!r} distribution for {where} must be true or false. Got {log!r}.",
            value=log,
        )
    if log and low <= 0:
        raise ConfigError(
            f"A log-scaled {kind!r} distribution for {where} needs low > 0. Got low={low!r}.",
            value=low,
        )
    step = spec.get("step")
    if step is not None and log:
        raise ConfigError(
            f"The {kind!r} distribution for {where} cannot have both 'step' and 'log'.",
            value=step,
        )
    try:
        if kind == "int":
            return IntDistribution(low, high, log=log, step=1 if step is None else step)
        return FloatDistribution(float(low), float(high), log=log, step=step)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"Invalid {kind!r} distribution for {where}: {exc}", value=dict(spec)
        ) from exc


# -- import paths --------------------------------------------------------------------------


def _import_path(path: str) -> Any:
    """Import ``path`` (module.attr...), or raise ConfigError with a suggestion."""
    parts = path.split(".")
    module: ModuleType | None = None
    index = 0
    for i in range(len(parts), 0, -1):
        module = _import_module(".".join(parts[:i]), path)
        if module is not None:
            index = i
            break
    if module is None:
        if parts[0] in _KNOWN_PACKAGES:
            raise ConfigError(
                f"Cannot import estimator {path!r}: the package {parts[0]!r} is not installed. "
                f"Install it (pip install {parts[0]}) or choose another candidate.",
                value=path,
            )
        _raise_not_found(path, parts, 0, _KNOWN_PACKAGES)
    obj: Any = module
    for i in range(index, len(parts)):
        try:
            found_attr = hasattr(obj, parts[i])
        except ImportError as exc:  # a lazy attribute whose optional package is missing
            package = getattr(exc, "name", None) or str(exc)
            raise ConfigError(
                f"Cannot import estimator {path!r}: the package {package!r} is not installed. "
                f"Install it (pip install {package}) or choose another candidate.",
                value=path,
            ) from exc
        if not found_attr:
            options = [n for n in dir(obj) if not n.startswith("_")]
            if isinstance(obj, ModuleType) and hasattr(obj, "__path__"):
                options += [m.name for m in pkgutil.iter_modules(obj.__path__)]
            _raise_not_found(path, parts, i, options)
        obj = getattr(obj, parts[i])
    return obj


def _import_module(name: str, path: str) -> ModuleType | None:
    """Import module ``name``; None if it does not exist, ConfigError if it fails to import."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            return None
        raise ConfigError(
            f"Importing {name!r} for estimator {path!r} failed: {exc}", value=path
        ) from exc
    except ImportError as exc:
        raise ConfigError(
            f"Importing {name!r} for estimator {path!r} failed: {exc}", value=path
        ) from exc


def _raise_not_found(path: str, parts: list[str], index: int, options: Any) -> None:
    """Raise ConfigError for a path whose ``parts[index]`` does not exist."""
    found = ".".join(parts[:index]) or "(top level)"
    message = f"Cannot import estimator {path!r}: {found!r} has no {parts[index]!r}."
    close = difflib.get_close_matches(parts[index], sorted(set(options)), n=1, cutoff=0.7)
    suggestion = ".".join([*parts[:index], close[0], *parts[index + 1 :]]) if close else None
    if suggestion is None:
        suggestion = _suggest_from_catalogue(path)
    if suggestion:
        message += f" Did you mean {suggestion!r}?"
    raise ConfigError(f"{message} {_PATH_HELP}", value=path, suggestion=suggestion)


def _estimator_catalogue() -> dict[str, str]:
    """Public import path -> class name, for every scikit-learn estimator."""
    from sklearn.utils.discovery import all_estimators

    catalogue = {}
    for name, cls in all_estimators():
        public = []
        for part in cls.__module__.split("."):
            if part.startswith("_"):
                break
            public.append(part)
        module = ".".join(public)
        if getattr(importlib.import_module(module), name, None) is cls:
            catalogue[f"{module}.{name}"] = name
    return catalogue


def _suggest_from_catalogue(path: str) -> str | None:
    close = difflib.get_close_matches(path, list(_estimator_catalogue()), n=1, cutoff=0.8)
    return close[0] if close else None


def _suggest_for_bare_name(name: str) -> str | None:
    catalogue = _estimator_catalogue()
    by_name = {cls_name: full for full, cls_name in catalogue.items()}
    close = difflib.get_close_matches(name, list(by_name), n=1, cutoff=0.8)
    return by_name[close[0]] if close else None


# -- parameters and task ----------------------------------------------------------------


def _accepted_params(cls: type[Any]) -> set[str]:
    """Names the estimator's constructor accepts (None if it takes ``**kwargs``)."""
    signature = inspect.signature(cls.__init__)
    names = {p.name for p in signature.parameters.values() if p.name != "self"}
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        names.add("*")
    return names


def _check_param_names(
    name: str,
    path: str,
    params: Mapping[str, Any],
    accepted: set[str],
    *,
    what: str = "parameter",
) -> None:
    if "*" in accepted:
        return
    unknown = sorted(set(params) - accepted)
    if not unknown:
        return
    message = (
        f"Unknown {what} {unknown[0]!r} for candidate {name!r} ({path}). "
        f"Allowed: {', '.join(sorted(accepted))}."
    )
    close = difflib.get_close_matches(unknown[0], sorted(accepted), n=1)
    if close:
        message += f" Did you mean {close[0]!r}?"
    raise ConfigError(message, value=unknown[0])


def _check_estimator_task(name: str, estimator: Any, task: str) -> None:
    wanted = {"classification": is_classifier, "regression": is_regressor}
    if task not in wanted:
        raise ConfigError(
            f"Unknown task {task!r}. Use one of: classification, regression.", value=task
        )
    if not wanted[task](estimator):
        kind = "classifier" if task == "classification" else "regressor"
        raise ConfigError(
            f"Candidate {name!r} ({type(estimator).__name__}) is not a {kind}, "
            f"so it cannot be used for {task}.",
            value=name,
        )


def _snake_case(name: str) -> str:
    out = []
    for i, char in enumerate(name):
        if char.isupper() and i and (not name[i - 1].isupper() or name[i + 1 : i + 2].islower()):
            out.append("_")
        out.append(char.lower())
    return "".join(out)


# -- built-in candidates -----------------------------------------------------------------

_RF_SPACE = {
    "n_estimators": {"type": "int", "low": 50, "high": 300, "log": True},
    "max_depth": {"type": "int", "low": 2, "high": 32, "log": True},
    "min_samples_leaf": {"type": "int", "low": 1, "high": 20, "log": True},
    "max_features": {"type": "categorical", "choices": ["sqrt", "log2", None]},
}
_HGB_SPACE = {
    "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
    "max_leaf_nodes": {"type": "int", "low": 8, "high": 64, "log": True},
    "min_samples_leaf": {"type": "int", "low": 5, "high": 50, "log": True},
    "l2_regularization": {"type": "float", "low": 1e-6, "high": 10.0, "log": True},
}
#: Gradient boosting stops early above 10,000 rows (scikit-learn's "auto"; on fewer rows
#: the held-out tenth costs more than it saves: docs/benchmarks.md, issue 11), and runs at
#: most this many rounds.
_BOOSTED_ROUNDS = 200
_HGB_PARAMS = {"early_stopping": "auto", "max_iter": _BOOSTED_ROUNDS, "n_iter_no_change": 10}
_LGBM_PARAMS = {"verbose": -1, "n_estimators": _BOOSTED_ROUNDS}
_LGBM_SPACE = {
    "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
    "num_leaves": {"type": "int", "low": 8, "high": 128, "log": True},
    "min_child_samples": {"type": "int", "low": 5, "high": 50, "log": True},
    "reg_lambda": {"type": "float", "low": 1e-6, "high": 10.0, "log": True},
}
_XGB_PARAMS = {"n_estimators": _BOOSTED_ROUNDS}
_XGB_SPACE = {
    "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
    "max_depth": {"type": "int", "low": 2, "high": 10},
    "min_child_weight": {"type": "float", "low": 1e-2, "high": 20.0, "log": True},
}
#: Candidate name -> the optional package it needs (the others need scikit-learn only).
_REQUIRES = {"lightgbm": "lightgbm", "xgboost": "xgboost"}

_DEFAULTS: dict[str, list[tuple[str, str, dict[str, Any], dict[str, Any]]]] = {
    "classification": [
        (
            "logistic_regression",
            "sklearn.linear_model.LogisticRegression",
            {"max_iter": 1000},
            {"C": {"type": "float", "low": 1e-3, "high": 100.0, "log": True}},
        ),
        ("random_forest", "sklearn.ensemble.RandomForestClassifier", {}, _RF_SPACE),
        (
            "hist_gradient_boosting",
            "sklearn.ensemble.HistGradientBoostingClassifier",
            _HGB_PARAMS,
            _HGB_SPACE,
        ),
        ("lightgbm", "loopline.components.boosting.LGBMClassifier", _LGBM_PARAMS, _LGBM_SPACE),
        # XGBClassifier needs labels encoded as 0..k-1, which raw targets are not; it can
        # still be named explicitly for such targets.
    ],
    "regression": [
        (
            "ridge",
            "sklearn.linear_model.Ridge",
            {},
            {"alpha": {"type": "float", "low": 1e-3, "high": 100.0, "log": True}},
        ),
        ("random_forest", "sklearn.ensemble.RandomForestRegressor", {}, _RF_SPACE),
        (
            "hist_gradient_boosting",
            "sklearn.ensemble.HistGradientBoostingRegressor",
            _HGB_PARAMS,
            _HGB_SPACE,
        ),
        ("lightgbm", "loopline.components.boosting.LGBMRegressor", _LGBM_PARAMS, _LGBM_SPACE),
        ("xgboost", "loopline.components.boosting.XGBRegressor", _XGB_PARAMS, _XGB_SPACE),
    ],
}
