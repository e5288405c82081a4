"""``loopline demo``: a project in a folder, an example pipeline run twice (then from cache)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

from ..pipeline import log_metric, log_params, pipeline, step
from ._output import console, duration

PIPELINE_REF = "loopline.cli._demo:wine_quality"


@step
def load_wine() -> Any:
    """The wine recognition data set that ships with scikit-learn, as a DataFrame."""
    from sklearn.datasets import load_wine as load

    return load(as_frame=True).frame


@step(outputs=["train", "test"])
def split(data: Any, test_size: float = 0.25, seed: int = 0) -> tuple[Any, Any]:
    """A stratified train/test split."""
    from sklearn.model_selection import train_test_split

    train_set, test_set = train_test_split(
        data, test_size=test_size, random_state=seed, stratify=data["target"]
    )
    return train_set, test_set


@step
def train(train: Any, C: float = 1.0) -> Annotated[Any, "model"]:
    """Standardise and fit a logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    log_params({"estimator": "LogisticRegression", "C": C})
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000))
    return model.fit(train.drop(columns="target"), train["target"])


@step
def evaluate(model: Any, test: Any) -> dict[str, float]:
    """Holdout accuracy and macro F1."""
    from sklearn.metrics import accuracy_score, f1_score

    predicted = model.predict(test.drop(columns="target"))
    metrics = {
        "accuracy": float(accuracy_score(test["target"], predicted)),
        "f1_macro": float(f1_score(test["target"], predicted, average="macro")),
    }
    for key, value in metrics.items():
        log_metric(key, value)
    return metrics


@pipeline
def wine_quality(C: float = 1.0) -> None:
    """Load → split → train → evaluate."""
    data = load_wine()
    train_set, test_set = split(data)
    evaluate(train(train_set, C=C), test_set)


def run_demo(directory: Path | None) -> Path:
    """Create the demo project and run its pipeline twice; return the project folder."""
    from ..config import load_settings
    from ..pipeline import Runner
    from ._init import TEMPLATE
    from ._progress import LiveProgress

    folder = (directory or Path(tempfile.mkdtemp(prefix="loopline-demo-"))).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    project_file = folder / "loopline.toml"
    if not project_file.exists():
        text = TEMPLATE.format(name="demo").replace(
            '# train = "pipelines.py:train"', f'demo = "{PIPELINE_REF}"'
        )
        project_file.write_text(text, encoding="utf-8")
    out = console()
    out.print(f"[bold]Loopline demo[/] in {folder}\n")
    settings = load_settings(folder)
    timings = []
    for attempt, note in enumerate(
        ("first run: every step computes", "second run: nothing changed")
    ):
        out.print(f"[bold]{attempt + 1}. {note}[/]")
        start = time.perf_counter()
        with Runner.from_settings(settings, listeners=[LiveProgress()]) as runner:
            result = runner.run(wine_quality, pipeline_ref="demo")
        timings.append(time.perf_counter() - start)
        metrics = result.load("evaluate")
        cached = len(result.cached)
        out.print(
            f"   run {result.run.id[:8]} {result.status} in {duration(timings[-1])}: "
            f"{cached} of {len(result.steps)} steps from cache, holdout accuracy "
            f"{metrics['accuracy']:.3f}\n"
        )
    out.print("Explore it:")
    out.print(f"  cd {folder}")
    out.print("  loopline runs list")
    out.print(f"  loopline runs show {result.run.id[:8]}")
    out.print(f"  loopline lineage {result.run.id[:8]}")
    out.print("  loopline run demo --param C=0.5   # a changed parameter reruns train and evaluate")
    return folder
