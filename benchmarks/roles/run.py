"""Column roles on real public tables: CV score with the roles (issue 11) against the old
treatment (every text column a category, dates included), on the same folds.

Run: python benchmarks/roles/run.py  (needs vega_datasets and palmerpenguins, the test extras)
"""

from __future__ import annotations

import time
from importlib import resources

import pandas as pd
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline

from loopline.components import apply_roles, build_preprocessor, compute_statistics, infer_roles


def table(package: str, name: str) -> pd.DataFrame:
    with resources.as_file(resources.files(package).joinpath(name)) as path:
        return pd.read_csv(path) if name.endswith(".csv") else pd.read_json(path)


DATASETS = [
    ("seattle-weather", "vega_datasets", "_data/seattle-weather.csv", "weather", "classification"),
    ("cars", "vega_datasets", "_data/cars.json", "Miles_per_Gallon", "regression"),
    ("penguins-raw", "palmerpenguins", "data/penguins-raw.csv", "Species", "classification"),
]


def columns_by_kind(frame: pd.DataFrame, text: set[str]) -> dict[str, list[str]]:
    stats = compute_statistics(frame)["columns"]
    kinds: dict[str, list[str]] = {"numeric": [], "categorical": [], "datetime": [], "text": []}
    counts = {}
    for name, entry in stats.items():
        kind = "text" if name in text else entry["kind"]
        kinds["categorical" if kind == "boolean" else kind].append(name)
        if kind in ("categorical", "boolean"):
            counts[name] = int(entry["distinct"])
    kinds["counts"] = counts  # type: ignore[assignment]
    return kinds


def old_preprocessor(frame: pd.DataFrame) -> Pipeline:
    k = columns_by_kind(frame, set())
    # Before issue 11: >20 categories were ordinal-encoded; reproduce with the old encoder.
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OrdinalEncoder

    from loopline.components._transform import _categorical_pipeline, _numeric_pipeline, _onehot

    counts = k["counts"]
    few = [c for c in k["categorical"] if counts[c] <= 20]  # type: ignore[index]
    many = [c for c in k["categorical"] if counts[c] > 20]  # type: ignore[index]
    ordinal = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    parts = [
        ("numeric", _numeric_pipeline(True), k["numeric"]),
        ("onehot", _categorical_pipeline(_onehot()), few),
        ("ordinal", _categorical_pipeline(ordinal), many),
    ]
    return Pipeline(
        [("columns", ColumnTransformer([p for p in parts if p[2]], sparse_threshold=0))]
    )


def new_preprocessor(frame: pd.DataFrame, text: set[str]) -> Pipeline:
    k = columns_by_kind(frame, text)
    return build_preprocessor(
        k["numeric"],
        k["categorical"],
        k["datetime"],
        text=k["text"],
        category_counts=k["counts"],  # type: ignore[arg-type]
    )


def main() -> None:
    print(
        "| dataset | rows | task | metric | model | before (text as categories) | with roles "
        "| majority/mean baseline |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, package, path, target, task in DATASETS:
        raw = table(package, path)
        raw = raw.loc[raw[target].notna()].reset_index(drop=True)
        y = raw[target]
        X_old = raw.drop(columns=[target])
        roles = infer_roles(raw, exclude=[target])
        X_new = apply_roles(raw, roles).drop(columns=[target])
        text = {r.name for r in roles if r.role == "text"}
        if task == "classification":
            cv, metric = StratifiedKFold(5, shuffle=True, random_state=0), "accuracy"
            models = [
                ("logistic", LogisticRegression(max_iter=2000)),
                ("forest", RandomForestClassifier(200, random_state=0)),
            ]
            dummy = DummyClassifier()
        else:
            cv, metric = KFold(5, shuffle=True, random_state=0), "neg_root_mean_squared_error"
            models = [("ridge", Ridge()), ("forest", RandomForestRegressor(200, random_state=0))]
            dummy = DummyRegressor()
        base = cross_val_score(
            dummy, X_old.select_dtypes("number").fillna(0), y, cv=cv, scoring=metric
        ).mean()
        for label, model in models:
            start = time.perf_counter()
            old = cross_val_score(
                Pipeline([("pre", old_preprocessor(X_old)), ("m", model)]),
                X_old,
                y,
                cv=cv,
                scoring=metric,
            ).mean()
            new = cross_val_score(
                Pipeline([("pre", new_preprocessor(X_new, text)), ("m", model)]),
                X_new,
                y,
                cv=cv,
                scoring=metric,
            ).mean()
            sign = -1 if metric.startswith("neg_") else 1
            shown = "rmse" if sign < 0 else metric
            print(
                f"| {name} | {len(raw)} | {task} | {shown} | {label} | {sign * old:.3f} "
                f"| {sign * new:.3f} | {sign * base:.3f} |  "
                f"<!-- {time.perf_counter() - start:.0f} s -->"
            )


if __name__ == "__main__":
    main()
