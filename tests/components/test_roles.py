"""Column roles: inference on real CSVs, declared roles, and what ingest makes of them."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loopline.components import ColumnRole, apply_roles, build_preprocessor, infer_roles
from loopline.components._ingest import drop_missing_targets, read_source_with_origins
from loopline.errors import ConfigError, InvalidInputError


def roles_of(frame: pd.DataFrame, **kwargs: object) -> dict[str, str]:
    return {r.name: r.role for r in infer_roles(frame, **kwargs)}  # type: ignore[arg-type]


def messy_csv(path: Path, rows: int = 120) -> Path:
    rng = np.random.default_rng(0)
    days = pd.date_range("2021-01-01", periods=rows, freq="D")
    words = ["red", "green", "blue", "yellow", "black", "white", "orange"]
    frame = pd.DataFrame(
        {
            "row": np.arange(1, rows + 1),
            "day": days.strftime("%Y/%m/%d"),
            "colour": rng.choice(["red", "green", "blue"], rows),
            "car": [f"make{i} model{i}" for i in range(rows)],
            "review": [" ".join(rng.choice(words, 8)) for _ in range(rows)],
            "site": "main",
            "flag": rng.choice(["true", "false"], rows),
            "x": rng.normal(size=rows),
            "zip": rng.choice([98101, 98102, 98103], rows),
        }
    )
    frame.to_csv(path, index=False)
    return path


def test_roles_of_a_messy_csv(tmp_path: Path) -> None:
    frame = pd.read_csv(messy_csv(tmp_path / "messy.csv"))

    roles = {r.name: r for r in infer_roles(frame)}

    assert {name: r.role for name, r in roles.items()} == {
        "row": "identifier",
        "day": "datetime",
        "colour": "categorical",
        "car": "identifier",
        "review": "text",
        "site": "constant",
        "flag": "boolean",
        "x": "numeric",
        "zip": "numeric",
    }
    assert roles["day"].reason == "text of dates (%Y/%m/%d)"
    assert roles["site"].reason == "a single value ('main')"
    assert roles["car"].is_dropped and roles["row"].is_dropped and not roles["day"].is_dropped


def test_declared_roles_win_and_exclusions_get_none(tmp_path: Path) -> None:
    frame = pd.read_csv(messy_csv(tmp_path / "messy.csv"))

    roles = infer_roles(frame, exclude=["x"], declared={"zip": "categorical", "car": "categorical"})

    by_name = {r.name: r for r in roles}
    assert "x" not in by_name
    assert by_name["zip"] == ColumnRole("zip", "categorical", "declared in [data.columns]", True)
    assert by_name["car"].role == "categorical"


@pytest.mark.parametrize(
    ("declared", "exclude", "message"),
    [
        ({"x": "number"}, [], "data.columns.x = 'number' is not a role. Roles are: numeric,"),
        ({"nope": "numeric"}, [], "data.columns names 'nope', which is not a column of the data"),
        ({"x": "numeric"}, ["x"], "data.columns gives a role to 'x', which is the target"),
    ],
)
def test_bad_declared_roles(declared: dict[str, str], exclude: list[str], message: str) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    with pytest.raises(ConfigError, match=re.escape(message)):
        infer_roles(frame, exclude=exclude, declared=declared)


def test_month_names_and_years_are_not_dates() -> None:
    frame = pd.DataFrame(
        {
            "month": ["Jan", "Feb", "Mar", "Apr"] * 5,
            "year_text": ["2001", "2002", "2003", "2004"] * 5,
            "target": range(20),
        }
    )
    assert roles_of(frame, exclude=["target"]) == {
        "month": "categorical",
        "year_text": "categorical",
    }


def test_apply_roles_drops_parses_and_coerces(tmp_path: Path) -> None:
    frame = pd.read_csv(messy_csv(tmp_path / "messy.csv"))
    roles = infer_roles(frame, declared={"zip": "categorical"})

    out = apply_roles(frame, roles)

    assert "row" not in out and "car" not in out and "site" not in out
    assert str(out["day"].dtype) == "datetime64[us, UTC]"
    assert out["day"].iloc[0] == pd.Timestamp("2021-01-01", tz="UTC")
    assert out["zip"].iloc[0] in {"98101", "98102", "98103"}
    assert out["flag"].dtype == bool


def test_preprocessor_expands_dates_and_text_and_target_encodes_many_categories() -> None:
    rng = np.random.default_rng(1)
    rows = 300
    frame = pd.DataFrame(
        {
            "day": pd.date_range("2020-01-01", periods=rows, freq="D", tz="UTC"),
            "shop": rng.choice([f"s{i}" for i in range(60)], rows),
            "note": rng.choice(["late delivery again", "fine thanks", "broken on arrival"], rows),
        }
    )
    y = (frame["shop"].str[1:].astype(int) % 2).to_numpy()
    pre = build_preprocessor(
        [], ["shop"], ["day"], text=["note"], category_counts={"shop": 60}, scale=False
    )

    out = pre.fit_transform(frame, y)
    names = list(pre.get_feature_names_out())

    assert "datetime__day_elapsed_days" in names and "datetime__day_dayofyear" in names
    assert "target__shop" in names  # one number per row, learnt from the target
    assert any(n.startswith("text_note__") for n in names)
    unseen = frame.head(1).assign(day=pd.Timestamp("2031-06-01", tz="UTC"), shop="never")
    again = pre.transform(unseen)
    assert np.isfinite(again).all()  # an unseen date and an unseen shop still score
    assert again[0, names.index("datetime__day_year")] == 2031
    assert out.shape[0] == rows


def test_missing_targets_are_named_by_csv_line(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('x,y\n1,a\n2,\n\n3,b\n"multi\nline",\n5,a\n', encoding="utf-8")
    source = {"kind": "files", "files": [{"path": str(path), "format": "csv"}]}
    frame, origins = read_source_with_origins(source)

    kept, missing = drop_missing_targets(frame, "y", origins)

    assert kept["y"].tolist() == ["a", "b", "a"]
    assert missing == {"count": 2, "examples": ["d.csv line 3", "d.csv line 6"]}
    with pytest.raises(
        InvalidInputError,
        match=re.escape(
            "2 of 5 rows have no value in the target column 'y' (d.csv line 3, d.csv line 6)"
        ),
    ):
        drop_missing_targets(frame, "y", origins, policy="fail")


def test_missing_targets_across_files_and_parquet(tmp_path: Path) -> None:
    pd.DataFrame({"x": [1, 2], "y": [1.0, None]}).to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame({"x": [3, 4], "y": [None, 2.0]}).to_parquet(tmp_path / "b.parquet")
    source = {
        "kind": "files",
        "files": [
            {"path": str(tmp_path / "a.csv"), "format": "csv"},
            {"path": str(tmp_path / "b.parquet"), "format": "parquet"},
        ],
    }
    frame, origins = read_source_with_origins(source)

    _, missing = drop_missing_targets(frame, "y", origins)

    assert missing["examples"] == ["a.csv line 3", "b.parquet row 1"]


def _package_csv(package: str, name: str) -> pd.DataFrame:
    with resources.as_file(resources.files(package).joinpath(name)) as path:
        return pd.read_csv(path)


def test_roles_of_real_public_tables() -> None:
    pytest.importorskip("vega_datasets")
    pytest.importorskip("palmerpenguins")
    weather = _package_csv("vega_datasets", "_data/seattle-weather.csv")
    penguins = _package_csv("palmerpenguins", "data/penguins-raw.csv")

    assert roles_of(weather, exclude=["weather"]) == {
        "date": "datetime",
        "precipitation": "numeric",
        "temp_max": "numeric",
        "temp_min": "numeric",
        "wind": "numeric",
    }
    raw = roles_of(penguins, exclude=["Species"])
    assert raw["Date Egg"] == "datetime"
    assert raw["Individual ID"] == "identifier"
    assert raw["Region"] == raw["Stage"] == "constant"
    assert raw["Island"] == "categorical"


def test_a_declared_numeric_column_with_bad_text_stays_text_for_validation() -> None:
    frame = pd.DataFrame({"m": ["1.5", "lots", "3"], "n": ["1", "2", None]})
    roles = infer_roles(frame, declared={"m": "numeric", "n": "numeric"})

    out = apply_roles(frame, roles)

    assert out["m"].tolist() == ["1.5", "lots", "3"]  # validate_data will say 'lots'
    assert out["n"].dtype == np.float64 and out["n"].iloc[1] == 2.0


def test_a_declared_dropped_column_may_be_absent() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    roles = infer_roles(frame, declared={"ref": "identifier", "site": "constant"})
    assert [(r.name, r.role) for r in roles] == [("x", "numeric")]
    assert apply_roles(frame, roles).columns.tolist() == ["x"]
