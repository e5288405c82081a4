"""Preprocessing: the feature pipeline that every model package carries (TFX Transform).

``build_preprocessor`` returns an unfitted scikit-learn ``Pipeline``; it is fitted together
with the estimator, inside each cross-validation fold, so no statistic leaks from validation
rows, and it is pickled with the model so serving cannot skew from training.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler, TargetEncoder

from ..errors import ConfigError, InvalidInputError

__all__ = [
    "CategoriesAsText",
    "DateParts",
    "FeatureFunctions",
    "TextColumn",
    "build_preprocessor",
    "describe_encoding",
]

FeatureFunction = Callable[[pd.DataFrame], pd.DataFrame]

#: Calendar parts of a date, and ``elapsed_days`` (days since 1970-01-01, fractional), which
#: carries trends: a date never seen in training still has all of them (issue 11).
DATE_PARTS = ("year", "month", "day", "dayofweek", "dayofyear", "hour", "elapsed_days")
# pandas 3.1 deprecates ``Series.dt.dayofweek`` in favour of ``day_of_week``.
_DATE_ACCESSORS = {"dayofweek": "day_of_week", "dayofyear": "day_of_year"}
_SECONDS_PER_DAY = 86_400.0
#: Most words a free-text column contributes (TF-IDF vocabulary size).
MAX_TEXT_FEATURES = 200
#: Categorical columns with at most this many values are one-hot encoded, the others
#: target-encoded (``build_preprocessor``'s ``max_onehot``).
MAX_ONEHOT = 20


def describe_encoding(role: str, distinct: int | None, *, max_onehot: int = MAX_ONEHOT) -> str:
    """How the standard preprocessing feeds a column of ``role`` to the model, in words.

    The same rules as ``build_preprocessor`` (and the ``transform`` step): the run report
    shows them beside each column's role.

    Args:
        role: A column role (``ROLES``).
        distinct: The column's distinct values (decides one-hot vs target encoding).
        max_onehot: As in ``build_preprocessor``.

    Returns:
        E.g. ``"one-hot (3 values)"``, ``"target-encoded (312 values)"``, ``"dropped"``.

    Example:
        >>> describe_encoding("categorical", 312)
        'target-encoded (312 values)'
    """
    if role in ("identifier", "constant"):
        return "dropped"
    if role == "numeric":
        return "median-imputed, scaled"
    if role == "datetime":
        return "date parts: " + ", ".join(DATE_PARTS)
    if role == "text":
        return f"TF-IDF ({MAX_TEXT_FEATURES} words)"
    if distinct is None:
        return f"one-hot (rarest values grouped beyond {max_onehot})"
    if distinct > max_onehot:
        return f"target-encoded ({distinct} values)"
    return f"one-hot ({distinct} values)"


class FeatureFunctions(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Apply user feature functions (DataFrame -> DataFrame) one after the other.

    Unlike ``FunctionTransformer`` with a lambda, this only accepts functions that pickle
    (module-level ``def``), so the fitted model can be saved and served.

    Args:
        functions: The functions, applied in order.

    Example:
        >>> def add_ratio(df):
        ...     return df.assign(ratio=df["a"] / df["b"])
        >>> FeatureFunctions([add_ratio]).fit_transform(pd.DataFrame({"a": [1], "b": [2]}))
           a  b  ratio
        0  1  2    0.5
    """

    def __init__(self, functions: Sequence[FeatureFunction] = ()) -> None:
        self.functions = functions

    def fit(self, X: pd.DataFrame, y: Any = None) -> FeatureFunctions:
        """Check the input is a DataFrame and remember its columns.

        Args:
            X: The raw features.
            y: Ignored.

        Returns:
            self.
        """
        _check_frame(X, type(self).__name__)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Return ``X`` passed through every function.

        Raises:
            InvalidInputError: ``X`` or a function's result is not a DataFrame, or a
                function changed the number of rows.
        """
        _check_frame(X, type(self).__name__)
        for function in self.functions:
            out = function(X)
            name = getattr(function, "__qualname__", repr(function))
            if not isinstance(out, pd.DataFrame):
                raise InvalidInputError(
                    f"Feature function {name!r} must return a pandas DataFrame. "
                    f"Got {type(out).__name__}.",
                    value=name,
                )
            if len(out) != len(X):
                raise InvalidInputError(
                    f"Feature function {name!r} returned {len(out)} rows for {len(X)}; "
                    "feature functions must keep one row per input row.",
                    value=name,
                )
            X = out
        return X

    def __sklearn_is_fitted__(self) -> bool:
        """Stateless: always ready."""
        return True


class DateParts(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Expand datetime columns into numeric parts (``DATE_PARTS``: calendar parts and
    ``elapsed_days``).

    Columns may hold datetimes or strings; strings are parsed with the format inferred from
    the first value (each value separately when none fits) and read as UTC. Values that do
    not parse become missing.

    Args:
        parts: Which parts to extract, a subset of ``DATE_PARTS``.
    """

    def __init__(self, parts: Sequence[str] = DATE_PARTS) -> None:
        self.parts = parts

    def fit(self, X: pd.DataFrame, y: Any = None) -> DateParts:
        """Check the parts and remember the input columns.

        Args:
            X: The datetime columns.
            y: Ignored.

        Returns:
            self.

        Raises:
            ConfigError: An unknown part was asked for.
        """
        unknown = [p for p in self.parts if p not in DATE_PARTS]
        if unknown:
            raise ConfigError(
                f"Unknown date part(s) {', '.join(map(repr, unknown))} in DateParts. "
                f"Use any of: {', '.join(DATE_PARTS)}.",
                value=unknown,
            )
        frame = _as_frame(X)
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Return one float column per (input column, part), NaN where the date is missing."""
        frame = _as_frame(X)
        columns = []
        for name in frame.columns:
            stamps = _to_datetime(frame[name])
            for part in self.parts:
                if part == "elapsed_days":
                    seconds = _epoch_seconds(stamps)
                    columns.append(seconds / _SECONDS_PER_DAY)
                    continue
                accessor = _DATE_ACCESSORS.get(part, part)
                columns.append(getattr(stamps.dt, accessor).to_numpy(dtype=float, na_value=np.nan))
        if not columns:
            return np.empty((len(frame), 0))
        return np.column_stack(columns)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names ``<column>_<part>``."""
        names = self.feature_names_in_ if input_features is None else input_features
        return np.asarray([f"{c}_{p}" for c in names for p in self.parts], dtype=object)


class TextColumn(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """One free-text column as a 1-D array of strings (missing values become ``""``).

    TF-IDF takes one document per row; this feeds it from the ``ColumnTransformer``.
    """

    def fit(self, X: Any, y: Any = None) -> TextColumn:
        """Remember the input column.

        Args:
            X: One text column.
            y: Ignored.

        Returns:
            self.
        """
        frame = _as_frame(X)
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Return the first column as strings, ``""`` where missing."""
        values = _as_frame(X).iloc[:, 0].to_numpy(dtype=object, na_value=None)
        text: np.ndarray = np.asarray(
            ["" if value is None else str(value) for value in values], dtype=object
        )
        return text

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The input column's name."""
        names = self.feature_names_in_ if input_features is None else input_features
        return np.asarray(names[:1], dtype=object)


def build_preprocessor(
    numeric: Sequence[str],
    categorical: Sequence[str],
    datetime: Sequence[str] = (),
    *,
    text: Sequence[str] = (),
    scale: bool = True,
    max_onehot: int = MAX_ONEHOT,
    category_counts: Mapping[str, int] | None = None,
    feature_functions: Sequence[FeatureFunction] = (),
) -> Pipeline:
    """Build the unfitted preprocessing pipeline.

    Numeric columns: median imputation, then standard scaling (if ``scale``). Categorical
    columns: most-frequent imputation, then one-hot encoding (unknown categories ignored)
    for columns with at most ``max_onehot`` categories, target encoding beyond
    (scikit-learn's cross-fitted ``TargetEncoder``: a category becomes the mean target of
    its rows, an unknown one the overall mean; never an arbitrary code a linear model reads
    as a number). Columns missing from ``category_counts`` are one-hot encoded with the
    rarest categories beyond ``max_onehot`` grouped together. Datetime columns: the
    ``DATE_PARTS`` (calendar parts and elapsed days), median-imputed (and scaled). Text
    columns: TF-IDF of their words (at most ``MAX_TEXT_FEATURES`` each). Feature functions
    run first, so the column lists may name columns they add.

    Args:
        numeric: Numeric columns.
        categorical: Categorical (and boolean) columns.
        datetime: Datetime columns (datetimes or date strings).
        text: Free-text columns.
        scale: Standardise numeric and date-part columns.
        max_onehot: Most categories a column may have to be one-hot encoded.
        category_counts: Column -> number of distinct categories (from the statistics).
        feature_functions: Module-level functions DataFrame -> DataFrame, applied first.

    Returns:
        An unfitted ``Pipeline`` whose output is a dense float array.

    Raises:
        ConfigError: No column is given, a column is listed twice, ``max_onehot`` is not a
            positive integer, or a feature function cannot be pickled.

    Example:
        >>> frame = pd.DataFrame({"x": [1.0, None, 3.0], "c": ["a", "b", None]})
        >>> build_preprocessor(["x"], ["c"]).fit_transform(frame).shape
        (3, 3)
    """
    numeric, categorical, datetime = list(numeric), list(categorical), list(datetime)
    text = list(text)
    _check_columns(numeric, categorical, datetime + text)
    if isinstance(max_onehot, bool) or not isinstance(max_onehot, int) or max_onehot < 1:
        raise ConfigError(
            f"The 'max_onehot' parameter must be an integer >= 1. Got {max_onehot!r} instead.",
            value=max_onehot,
        )
    _check_feature_functions(feature_functions)
    counts = dict(category_counts or {})
    onehot = [c for c in categorical if c in counts and counts[c] <= max_onehot]
    many = [c for c in categorical if c in counts and counts[c] > max_onehot]
    uncounted = [c for c in categorical if c not in counts]
    transformers: list[tuple[str, Any, list[str]]] = [
        ("numeric", _numeric_pipeline(scale), numeric),
        ("onehot", _categorical_pipeline(_onehot()), onehot),
        ("target", _categorical_pipeline(_target_encoder(scale)), many),
        ("onehot_capped", _categorical_pipeline(_onehot(max_onehot)), uncounted),
        ("datetime", _datetime_pipeline(scale), datetime),
    ]
    transformers += [(f"text_{name}", _text_pipeline(), [name]) for name in text]
    columns = ColumnTransformer(
        [t for t in transformers if t[2]], remainder="drop", sparse_threshold=0.0
    )
    steps: list[tuple[str, Any]] = []
    if feature_functions:
        steps.append(("features", FeatureFunctions(list(feature_functions))))
    steps.append(("columns", columns))
    return Pipeline(steps)


def _numeric_pipeline(scale: bool) -> Pipeline:
    steps: list[tuple[str, Any]] = [
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True))
    ]
    if scale:
        steps.append(("scale", StandardScaler()))
    return Pipeline(steps)


def _categorical_pipeline(encoder: Any) -> Pipeline:
    # Values are made strings first: pandas 3 "str" columns, categoricals and object columns
    # mixing numbers and text then all reach the encoder as one uniform type.
    return Pipeline(
        [
            ("as_text", CategoriesAsText()),
            ("impute", SimpleImputer(strategy="most_frequent", keep_empty_features=True)),
            ("encode", encoder),
        ]
    )


def _datetime_pipeline(scale: bool) -> Pipeline:
    steps: list[tuple[str, Any]] = [
        ("parts", DateParts()),
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
    ]
    if scale:
        steps.append(("scale", StandardScaler()))
    return Pipeline(steps)


def _onehot(max_categories: int | None = None) -> OneHotEncoder:
    return OneHotEncoder(
        handle_unknown="infrequent_if_exist" if max_categories else "ignore",
        max_categories=max_categories,
        sparse_output=False,
    )


def _target_encoder(scale: bool) -> Pipeline:
    # Cross-fitted inside fit_transform, so a row's own target never encodes it (no leak);
    # "auto" picks binary, multiclass (one column per class) or continuous from y.
    steps: list[tuple[str, Any]] = [("encode", _seeded_target_encoder())]
    if scale:
        steps.append(("scale", StandardScaler()))
    return Pipeline(steps)


def _seeded_target_encoder() -> TargetEncoder:
    """A ``TargetEncoder`` whose cross-fitting folds are the same on every run."""
    import sklearn

    major, minor = (int(part) for part in sklearn.__version__.split(".")[:2])
    if (major, minor) >= (1, 9):  # 1.9 deprecates random_state for a splitter as cv
        from sklearn.model_selection import KFold

        return TargetEncoder(cv=KFold(5, shuffle=True, random_state=0))
    return TargetEncoder(random_state=0)  # pragma: no cover - scikit-learn < 1.9


def _text_pipeline() -> Pipeline:
    return Pipeline(
        [
            ("text", TextColumn()),
            ("tfidf", TfidfVectorizer(max_features=MAX_TEXT_FEATURES, dtype=np.float64)),
        ]
    )


class CategoriesAsText(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Cast categorical values to ``str`` in an object array, keeping missing as NaN."""

    def fit(self, X: Any, y: Any = None) -> CategoriesAsText:
        """Remember the input columns.

        Args:
            X: The categorical columns.
            y: Ignored.

        Returns:
            self.
        """
        frame = _as_frame(X)
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Return an object array of strings, with ``np.nan`` where values are missing."""
        values = _as_frame(X).to_numpy(dtype=object, na_value=np.nan)
        missing = pd.isna(values)
        text = values.astype(str).astype(object)
        text[missing] = np.nan
        result: np.ndarray = text
        return result

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The input column names, unchanged."""
        names = self.feature_names_in_ if input_features is None else input_features
        return np.asarray(names, dtype=object)


def _check_columns(numeric: list[str], categorical: list[str], datetime: list[str]) -> None:
    every = numeric + categorical + datetime
    if not every:
        raise ConfigError(
            "The preprocessor has no columns: give at least one numeric, categorical or "
            "datetime column.",
            value=every,
        )
    repeated = sorted({c for c in every if every.count(c) > 1})
    if repeated:
        raise ConfigError(
            f"Column(s) {', '.join(map(repr, repeated))} are listed under more than one kind "
            "(or twice); give each column one kind.",
            value=repeated,
        )


def _check_feature_functions(functions: Sequence[Any]) -> None:
    for function in functions:
        name = getattr(function, "__qualname__", repr(function))
        if not callable(function):
            raise ConfigError(
                f"Feature function {name!r} is not callable; give functions DataFrame -> "
                "DataFrame.",
                value=function,
            )
        try:
            pickle.dumps(function)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise ConfigError(
                f"Feature function {name!r} cannot be pickled with the model, so it could not "
                "be saved or served. Define it with 'def' at module level in an importable "
                "module (not a lambda or a nested function).",
                value=name,
            ) from exc


def _check_frame(X: Any, owner: str) -> None:
    if not isinstance(X, pd.DataFrame):
        raise InvalidInputError(
            f"{owner} needs a pandas DataFrame. Got {type(X).__name__}.", value=type(X).__name__
        )


def _as_frame(X: Any) -> pd.DataFrame:
    return X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X, dtype=object))


def _epoch_seconds(stamps: pd.Series) -> np.ndarray:
    """Seconds since 1970-01-01 UTC as floats, NaN where missing."""
    values = stamps.to_numpy(dtype="datetime64[us]", na_value=np.datetime64("NaT"))
    seconds = values.astype("int64").astype(np.float64) / 1e6
    seconds[np.isnat(values)] = np.nan
    result: np.ndarray = seconds
    return result


def _to_datetime(column: pd.Series) -> pd.Series:
    """Parse one column as datetimes; strings with an inferred format, read as UTC."""
    if isinstance(column.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(
        column.dtype
    ):
        return column
    present = column.dropna()
    if present.empty:
        return pd.Series(pd.NaT, index=column.index, dtype="datetime64[ns, UTC]")
    first = present.iloc[0]
    if isinstance(first, str):
        fmt = guess_datetime_format(first) or "mixed"
        return pd.to_datetime(column, errors="coerce", format=fmt, utc=True)
    return pd.to_datetime(column, errors="coerce", utc=True)
