"""The controller: monitor → alert → trigger → retrain → bless → register → canary → promote.

One controller runs per project: it holds the ``controller`` lock in the store while it
works. Each check (:meth:`Controller.run_once`) monitors the production model's latest
window, sends alerts, and then either follows a canary in progress or evaluates the
triggers; triggers that fire together, or while a canary runs, are coalesced into one
retraining run. Every decision is an event in the store with its reason, so
``loopline events`` tells the story.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import LooplineError, NotFoundError, StepFailedError
from ._config import Amount, LoopConfig, decay_limit, parse_loop_config
from ._window import TrainingWindow, change_point, training_window

if TYPE_CHECKING:
    from ..components import WorkflowConfig
    from ..config import Settings
    from ..monitoring import MonitoringResult
    from ..store import ModelVersion

LOCK = "controller"
ACTOR = "controller"
_CANARY = "controller.canary"
_LAST_RETRAIN = "controller.last_retrain"
_MANUAL = "controller.retrain_requested"
_ACTIVE_ALERTS = "controller.active_alerts"
_LAST_SCHEDULE = "controller.last_scheduled"
#: Per version a drift retraining made: the features whose drift it was trained for.
_DRIFT_ADDRESSED = "controller.drift_addressed"
#: A retraining under way: its reasons. Still there at the next check, it was interrupted.
_PENDING = "controller.retrain_pending"
#: Metrics whose values are shares in [0, 1]: their standard error is binomial.
#: Per version trained on a since_change window: when the change was, and how many rows.
_WINDOWS = "controller.windows"
_SHARE_METRICS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc")


class Controller:
    """Closes the loop for one project.

    Args:
        settings: The project's settings (``loopline.toml`` with [data] and the loop's
            sections).
        echo: Receives one line of narration per decision (the CLI prints them).

    Raises:
        ConfigError: The configuration is wrong.
        ConflictError: Another controller holds the project's lock (on ``__enter__``).
    """

    def __init__(self, settings: Settings, *, echo: Callable[[str], None] | None = None) -> None:
        from ..artifacts import ArtifactStore
        from ..components import parse_workflow_config
        from ..registry import Registry
        from ..requestlog import check_request_log
        from ..store import Store

        check_request_log(settings.request_log_url)  # a missing bucket fails here, once
        self.settings = settings
        path = str(settings.project_dir / "loopline.toml")
        self.workflow: WorkflowConfig = parse_workflow_config(settings.raw, path)
        self.loop: LoopConfig = parse_loop_config(settings.raw, path)
        self.name = self.workflow.model.name or settings.name
        self.store = Store(settings.store_url)
        self.artifacts = ArtifactStore(settings.artifacts_url)
        self.registry = Registry(self.store, self.artifacts, actor=ACTOR)
        self.request_log = settings.request_log_url
        self.echo = echo or (lambda line: None)
        self.promotion = self.loop.automation.promotion or self.workflow.model.approval
        self._rules = self._alert_rules()
        self._dispatcher: Any = None
        #: The last monitoring window of :meth:`run_once` (None before, or without production).
        self.last_window: MonitoringResult | None = None
        self._drifted: list[str] = []  # the drift that fired this check's trigger, if any
        self._window: TrainingWindow | None = None  # the data window of the last retraining
        self._window_since: float | None = None  # ...and the time of its change point

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Controller:
        self.store.locks.acquire(LOCK)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Deliver pending alerts, release the lock and the store."""
        if self._dispatcher is not None:
            self._dispatcher.close(5.0)
        self.store.locks.release(LOCK)
        self.store.close()

    def watch(self, *, interval: float, stop: Callable[[], bool] = lambda: False) -> None:
        """Check every ``interval`` seconds until ``stop()`` is true (or Ctrl-C)."""
        while not stop():
            try:
                self.run_once()
            except LooplineError as exc:  # a bad check must not end the controller
                self._event("controller.error", self.name, str(exc))
                self.echo(f"check failed: {exc} — trying again in {interval:g} s")
            deadline = time.monotonic() + interval
            while time.monotonic() < deadline and not stop():
                time.sleep(min(1.0, interval))

    # -- one check ---------------------------------------------------------------------------

    def run_once(self, *, manual: bool = False, now: datetime | None = None) -> list[str]:
        """Monitor, alert, and act once. Returns the kinds of the events it recorded."""
        now = now or datetime.now(timezone.utc)
        self.store.locks.renew(LOCK)
        first = self._last_event_id()
        interrupted = self._interrupted()
        result = self.last_window = self._monitor(now)
        if result is not None:
            self._send_alerts(result)
        reasons = interrupted + self._fired_triggers(result, manual, now)
        if self.store.state.get(_CANARY) is not None:
            if reasons:
                self._event(
                    "trigger.coalesced", self.name, "; ".join(reasons) + " (a canary is running)"
                )
            self._check_canary(now)
        elif reasons:
            self._retrain(reasons, now)
        return [e.kind for e in reversed(self.store.events.list(limit=200)) if e.id > first]

    def _interrupted(self) -> list[str]:
        """A retraining a stopped controller left unfinished: recorded, and retried now."""
        pending = self.store.state.get(_PENDING)
        if not pending:
            return []
        started = datetime.fromtimestamp(pending["started"], timezone.utc)
        reason = (
            f"the retraining started at {started:%Y-%m-%d %H:%M:%S} UTC by {pending['holder']} "
            f"did not finish (the controller stopped); retrying it for: "
            + "; ".join(pending["reasons"])
        )
        self._event("retrain.interrupted", self.name, reason, {"reasons": pending["reasons"]})
        self.echo(f"retrain: {reason}")
        return [f"resumed: {r}" for r in pending["reasons"]]

    def _last_event_id(self) -> int:
        latest = self.store.events.list(limit=1)
        return latest[0].id if latest else 0

    def _production(self) -> ModelVersion | None:
        try:
            return self.registry.resolve(f"{self.name}@production")
        except NotFoundError:
            return None

    def _monitor(self, now: datetime) -> MonitoringResult | None:
        from ..monitoring import DriftDetector, monitor

        if self._production() is None:
            return None
        cfg = self.loop.monitoring
        amount = cfg.window_amount
        result = monitor(
            self.registry,
            f"{self.name}@production",
            request_log=self.request_log,
            window=amount.duration,
            last=amount.count if amount.kind == "rows" else None,
            last_labelled=amount.count if amount.kind == "labelled_rows" else None,
            last_requests=amount.count if amount.kind == "requests" else None,
            now=now,
            detector=DriftDetector(
                drift_share=cfg.drift_share,
                psi_threshold=cfg.psi_threshold,
                ks_threshold=cfg.ks_threshold,
            ),
        )
        if result.rows == 0:
            self.echo(
                f"monitor: no requests for {self.name}/{result.version} in the last {cfg.window}"
            )
        else:
            drifted = result.drift.drifted_features
            perf = result.performance or {}
            shown = ", ".join(f"{k} {v:.3f}" for k, v in sorted(perf.get("metrics", {}).items()))
            self.echo(
                f"monitor: {result.rows} records of {self.name}/{result.version}; "
                f"{len(drifted)} of {result.drift.n_compared} features drifted"
                + (f" ({', '.join(drifted)})" if drifted else "")
                + (f"; {shown} on {perf['labelled_rows']} labelled" if shown else "")
            )
        return result

    # -- alerts ------------------------------------------------------------------------------

    def _alert_rules(self) -> list[Any]:
        if not self.loop.alerts:
            return []
        from ..monitoring import parse_rules

        return list(
            parse_rules(self.loop.alerts, where=str(self.settings.project_dir / "loopline.toml"))
        )

    def _send_alerts(self, result: MonitoringResult) -> None:
        if not self._rules or result.rows < self.loop.monitoring.min_rows:
            return
        from ..monitoring import active_after, evaluate_rules

        active = set(self.store.state.get(_ACTIVE_ALERTS, []))
        alerts = evaluate_rules(self._rules, result.signals, active)
        for alert in alerts:
            self._event(
                f"alert.{alert.state}",
                f"{self.name}/{result.version}",
                alert.message,
                {"rule": alert.rule, "value": alert.value},
            )
            self.echo(f"alert {alert.state}: {alert.message}")
            self._dispatch(alert)
        self.store.state.set(_ACTIVE_ALERTS, sorted(active_after(alerts, active)))

    def _dispatch(self, alert: Any) -> None:
        from ..monitoring import AlertDispatcher

        if self._dispatcher is None:
            self._dispatcher = AlertDispatcher.for_rules(
                self._rules,
                root=self.settings.project_dir,
                spool_path=self.settings.state_dir / "alerts-undelivered.jsonl",
            )
            self._dispatcher.redeliver_spooled()
        self._dispatcher.send(alert)

    # -- triggers ----------------------------------------------------------------------------

    def _fired_triggers(
        self, result: MonitoringResult | None, manual: bool, now: datetime
    ) -> list[str]:
        reasons = []
        if manual or self.store.state.get(_MANUAL):
            self.store.state.set(_MANUAL, None)
            reasons.append("manual: retraining was requested")
        triggers = self.loop.triggers
        production = self._production()
        if production is None:
            if not reasons and not self._has_any_version():
                reasons.append("bootstrap: no model is registered yet")
            return reasons
        cooled = self._cooled_down(now)
        self._drifted = []
        if (
            result is not None
            and result.rows >= self.loop.monitoring.min_rows
            and cooled
            and triggers.drift
            and result.drift.dataset_drift
        ):
            drifted = list(result.drift.drifted_features)
            if self._drift_addressed(production, drifted):
                reason = (
                    f"drift on {', '.join(drifted)}: {production.ref} was retrained for "
                    "drift on these features already, so it is not retrained again (drift "
                    "on other features, decay, a schedule or 'loopline retrain' still are)"
                )
                self._event("trigger.suppressed", production.ref, reason)
                self.echo(f"triggers: {reason}")
            else:
                self._drifted = drifted
                reasons.append(
                    f"drift: {len(drifted)} of {result.drift.n_compared} features drifted "
                    f"({', '.join(drifted)})"
                )
        if result is not None and cooled:
            reasons += self._decay_reasons(result)
        if triggers.schedule and self._schedule_due(triggers.schedule, now):
            reasons.append(f"schedule: {triggers.schedule}")
        if triggers.new_data and cooled and self._new_data(production):
            reasons.append("new data: the training source changed since the production model")
        if not reasons and cooled and self.store.state.get(_CANARY) is None:
            reasons += self._grown(production, now)
        for reason in reasons:
            self._event("trigger.fired", self.name, reason)
            self.echo(f"trigger: {reason}")
        return reasons

    def _decay_reasons(self, result: MonitoringResult) -> list[str]:
        """Decay beyond its limit and beyond ``decay_z`` standard errors of the window."""
        perf = result.performance or {}
        n = int(perf.get("labelled_rows", 0))
        if n < self.loop.monitoring.min_rows:
            return []
        limits = self.loop.triggers.decay
        if limits is None:  # the default: the training metric, 5% of its holdout value
            metric = self.workflow.training.metric or (
                "accuracy" if "accuracy" in perf.get("metrics", {}) else "rmse"
            )
            limits = {metric: "5%"}
        reasons = []
        for metric, limit in limits.items():
            drop = perf.get("decay", {}).get(metric)
            value = perf.get("metrics", {}).get(metric)
            holdout = perf.get("holdout", {}).get(metric)
            if drop is None or value is None or holdout is None:
                continue
            tolerated = decay_limit(limit, holdout)
            noise = self.loop.triggers.decay_z * _standard_error(metric, value, n)
            if drop > tolerated and drop > noise:
                reasons.append(
                    f"decay: {metric} fell by {drop:.3f} to {value:.3f} on {n} labelled rows "
                    f"(limit {tolerated:.3f}; noise {noise:.3f})"
                )
        return reasons

    def _grown(self, production: ModelVersion, now: datetime) -> list[str]:
        """Refit once the data since the change point the production version was trained
        after has grown ``window_growth`` times (it learnt the new concept from few rows)."""
        growth = self.loop.triggers.window_growth
        info = (self.store.state.get(_WINDOWS) or {}).get(str(production.version))
        cap = self.loop.automation.window_rows
        if not growth or not info or info.get("since") is None:
            return []
        if cap is not None and info["rows"] >= cap:
            return []
        since = datetime.fromtimestamp(info["since"], timezone.utc)
        count = self._data_since(since, now, Amount("labelled_rows", 1, None, "1 labelled row"))
        if count < growth * info["rows"]:
            return []
        return [
            f"grown: {count} labelled rows since the change point {production.ref} was "
            f"trained after, {count / info['rows']:.1f} times the {info['rows']} it learnt from"
        ]

    def _drift_addressed(self, production: ModelVersion, drifted: list[str]) -> bool:
        """Whether ``production`` came from a drift retraining on (at least) these features.

        Only with ``reference_plus_recent``: its training data then held the drifted
        records, but its drift baseline (the whole reference too) still differs from them, so
        retraining again would change nothing. Windows that slide (``sliding``,
        ``since_change``) move the baseline with the data: they retrain again after the
        cooldown.
        """
        if self.loop.automation.data_window != "reference_plus_recent":
            return False
        addressed = (self.store.state.get(_DRIFT_ADDRESSED) or {}).get(str(production.version))
        return addressed is not None and set(drifted) <= set(addressed)

    def _has_any_version(self) -> bool:
        return self.name in self.store.models.names()

    def _cooled_down(self, now: datetime) -> bool:
        """Whether the cooldown after the last successful retraining is over."""
        last = self.store.state.get(_LAST_RETRAIN)
        if not last:
            return True
        amount = self.loop.triggers.cooldown_amount
        since = datetime.fromtimestamp(last["time"], timezone.utc)
        if amount.duration is not None:
            if now - since > amount.duration:
                return True
            seen = f"{_ago(now - since)} so far"
        else:
            count = self._data_since(since, now, amount)
            if count >= amount.count:
                return True
            seen = f"{count} so far"
        self.echo(f"triggers: in the cooldown after the last retraining ({amount}; {seen})")
        return False

    def _data_since(self, since: datetime, now: datetime, amount: Amount) -> int:
        """How many rows, requests or labelled rows were logged since ``since``."""
        from ..requestlog import has_requests, read_request_log

        if not has_requests(self.request_log, self.name):
            return 0
        frame, _ = read_request_log(
            self.request_log, self.name, since=since, until=now + timedelta(seconds=1)
        )
        if not len(frame):
            return 0
        if amount.kind == "rows":
            return len(frame)
        if amount.kind == "requests":
            return int(frame["request_id"].nunique())
        labels = self.store.monitoring.labels(self.name, frame["request_id"].unique())
        keys = zip(frame["request_id"], frame["row"].astype(int), strict=True)
        return sum(key in labels for key in keys)

    def _schedule_due(self, expression: str, now: datetime) -> bool:
        from ._cron import CronSchedule

        last = self.store.state.get(_LAST_SCHEDULE)
        last_dt = datetime.fromtimestamp(last, timezone.utc) if last else None
        due = CronSchedule.parse(expression).is_due(last_dt, now)
        if due:
            self.store.state.set(_LAST_SCHEDULE, now.timestamp())
        return bool(due)

    def _new_data(self, production: ModelVersion) -> bool:
        from ..components import resolve_source

        if production.run_id is None:
            return False
        from ..components import same_source

        root = self.settings.project_dir
        current = resolve_source(self.workflow.data, root)
        for step in self.store.runs.steps(production.run_id):
            if step.name == "ingest":
                return not same_source(step.params.get("source"), current, root)
        return False

    # -- retraining --------------------------------------------------------------------------

    def _retrain(self, reasons: list[str], now: datetime) -> None:
        production = self._production()
        self.store.state.set(
            _PENDING,
            {
                "reasons": [r.removeprefix("resumed: ") for r in reasons],
                "started": time.time(),
                "holder": f"{os.uname().nodename}:{os.getpid()}",
            },
        )
        try:
            result = self._run_training(reasons, production)
        finally:
            # Finished one way or another (a failure is an event): nothing to resume.
            self.store.state.set(_PENDING, None)
        if result is None:
            return
        # The cooldown starts when a retraining succeeds, not when it starts; the first
        # model (bootstrap) starts none (decision 0004).
        if production is not None:
            self.store.state.set(
                _LAST_RETRAIN,
                {"time": time.time(), "version": production.version, "run_id": result.run.id},
            )
        verdict = result.load("bless", "blessing")
        if not verdict["blessed"]:
            failing = [r["message"] for r in verdict["reasons"] if not r["passed"]]
            self._event(
                "candidate.not_blessed", self.name, "; ".join(failing), {"run_id": result.run.id}
            )
            self.echo(
                f"bless: the candidate is not blessed ({'; '.join(failing)}); nothing changes"
            )
            return
        self._register(result, verdict, reasons, production, now)

    def _run_training(self, reasons: list[str], production: ModelVersion | None) -> Any:
        """Run the standard pipeline on the data window; None (and an event) if it failed."""
        from ..components import standard_pipeline
        from ..pipeline import Runner

        runner = Runner(self.store, self.artifacts)
        self._window = None
        try:
            config, window = self._training_config(production)
            self._event(
                "retrain.started",
                self.name,
                "; ".join(reasons),
                {
                    "data_window": self.loop.automation.data_window,
                    "source": config.data.source,
                    "rows": len(window.frame) if window else None,
                    "window": window.description if window else "the source as configured",
                    "since_change": window.since_change if window else None,
                },
            )
            self.echo(
                f"retrain: training on {config.data.source} ({self.loop.automation.data_window}"
                + (f": {window.description}" if window else "")
                + ")"
            )
            pipeline = standard_pipeline(
                config,
                self.settings.project_dir,
                name=self.name,
                store=self.store,
                champion=production.artifact_id if production else None,
            )
            return runner.run(pipeline, pipeline_ref="standard")
        except (StepFailedError, LooplineError) as exc:
            self._event("retrain.failed", self.name, str(exc))
            self.echo(f"retrain failed: {exc} — the champion keeps serving")
            self._dispatch_failure(str(exc))
            return None
        finally:
            runner.executor.shutdown()

    def _register(
        self,
        result: Any,
        verdict: dict[str, Any],
        reasons: list[str],
        production: ModelVersion | None,
        now: datetime,
    ) -> None:
        registered = self.registry.register_run(
            result.run.id, name=self.name, policy=self.promotion
        )
        assert registered is not None  # blessed runs always register
        version, _ = registered
        if self._window is not None:
            windows = dict(self.store.state.get(_WINDOWS) or {})
            windows[str(version.version)] = {
                "since": self._window_since,
                "rows": len(self._window.frame),
            }
            self.store.state.set(_WINDOWS, windows)
        if self._drifted and self.loop.automation.data_window == "reference_plus_recent":
            # Trained on recent requests too: this version has seen the drifted records.
            addressed = dict(self.store.state.get(_DRIFT_ADDRESSED) or {})
            addressed[str(version.version)] = sorted(self._drifted)
            self.store.state.set(_DRIFT_ADDRESSED, addressed)
        self._event(
            "candidate.blessed",
            version.ref,
            "; ".join(r["message"] for r in verdict["reasons"]),
            {"run_id": result.run.id},
        )
        self.echo(f"bless: {version.ref} is blessed and registered ({version.status})")
        if version.status != "approved":
            self._event(
                "candidate.awaiting_approval",
                version.ref,
                "promotion policy is manual: nothing reaches production until you approve it "
                f"with 'loopline models approve {self.name} {version.version}'",
            )
            self.echo(f"hold: {version.ref} waits for 'loopline models approve'")
            return
        auto = self.loop.automation
        if production is None or auto.canary_min_rows == 0:
            self.registry.promote(
                self.name, version.version, reason="controller: " + "; ".join(reasons)
            )
            self.echo(f"promote: {self.name}@production → {version.version}")
            return
        self.registry.promote(self.name, version.version, alias="staging", reason="canary")
        self.store.state.set(
            _CANARY,
            {
                "version": version.version,
                "champion": production.version,
                "started": time.time(),
            },
        )
        self._event(
            "canary.started",
            version.ref,
            f"{self.name}@staging → {version.version}; production stays on {production.version} "
            f"until {auto.canary_min_rows} labelled rows have come (both versions are judged on "
            f"them) or {auto.canary_minutes:g} minutes",
        )
        self.echo(
            f"canary: {version.ref} takes the canary share of traffic "
            f"(serve with --canary {self.name}@staging)"
        )

    def _dispatch_failure(self, message: str) -> None:
        if not self._rules:
            return
        from ..monitoring import Alert

        self._dispatch(
            Alert(
                rule="retrain_failed",
                state="firing",
                value=1.0,
                message=f"Retraining of {self.name} failed; the champion keeps serving: {message}",
                severity="critical",
                signal="retrain",
                time=datetime.now(timezone.utc),
                send=(),
            )
        )

    def _training_config(
        self, production: ModelVersion | None
    ) -> tuple[WorkflowConfig, TrainingWindow | None]:
        """The workflow config whose source is the data window the policy chooses."""
        auto = self.loop.automation
        policy = auto.data_window
        if policy == "all":
            return self.workflow, None
        from ..components import read_source, resolve_source

        root = self.settings.project_dir
        base = read_source(resolve_source(self.workflow.data, root), root)
        recent, meta = self._labelled_requests(list(base.columns))
        if not len(recent) and policy in ("reference_plus_recent", "since_change"):
            return self.workflow, None  # nothing recent yet: the source as it is (and its cache)
        change_at = None
        self._window_since = None
        if policy == "since_change" and production is not None:
            times = _seconds(meta["timestamp"])
            change_at = self._change_point(recent, meta, production)
            if change_at is not None:
                self._window_since = float(times[change_at])
            else:  # no new change: the one the production version was trained after, if any
                info = (self.store.state.get(_WINDOWS) or {}).get(str(production.version))
                if info and info.get("since") is not None and (times >= info["since"]).any():
                    change_at = int(np.argmax(times >= info["since"]))
                    self._window_since = float(info["since"])
        window = training_window(
            base,
            recent,
            policy=policy,
            window_rows=auto.window_rows,
            min_window_rows=auto.min_window_rows,
            change_at=change_at,
        )
        frame = window.frame
        self._window = window
        folder = self.settings.state_dir / "training"
        folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        path = folder / f"window-{digest.hexdigest()[:16]}.parquet"
        if not path.exists():
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            frame.to_parquet(partial, index=False)
            partial.replace(path)  # a killed controller leaves no half-written window
        data = self.workflow.data.model_copy(update={"source": str(path), "format": "parquet"})
        return self.workflow.model_copy(update={"data": data}), window

    def _change_point(
        self, recent: pd.DataFrame, meta: pd.DataFrame, production: ModelVersion
    ) -> int | None:
        """Position in ``recent`` of the first row after the latest change, if one is clear.

        Looked for in the production version's own answers (one model, so a shift in its
        errors is a shift in the data): its per-row errors, else the drifted features.
        """
        target = self.workflow.data.target
        mine = np.flatnonzero(meta["version"].astype(str).to_numpy() == str(production.version))
        if len(mine) < 60:
            return None
        truth, predicted = recent[target].to_numpy()[mine], meta["prediction"].to_numpy()[mine]
        if self._classification(truth):
            errors = (_as_text(predicted) != _as_text(truth)).astype(float)
        else:
            errors = np.abs(
                pd.to_numeric(pd.Series(predicted), errors="coerce").to_numpy(dtype=float)
                - pd.to_numeric(pd.Series(truth), errors="coerce").to_numpy(dtype=float)
            )
        found = change_point(errors, increase_only=True)
        if found is None:
            for feature in self._drifted:
                if feature not in recent:
                    continue
                values = pd.to_numeric(recent[feature].iloc[mine], errors="coerce").to_numpy()
                candidate = change_point(values)
                if candidate is not None and (
                    found is None or abs(candidate.statistic) > abs(found.statistic)
                ):
                    found = candidate
        return int(mine[found.index]) if found is not None else None

    def _classification(self, truth: np.ndarray) -> bool:
        task = self.workflow.data.task
        if task is not None:
            return task == "classification"
        return truth.dtype.kind not in "fc" or len(np.unique(truth)) <= 20

    def _labelled_requests(self, columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Logged records that have labels, as training rows (features + the target), oldest
        first; and beside them their ``timestamp``, ``version`` and ``prediction``."""
        from ..requestlog import has_requests, read_request_log

        target = self.workflow.data.target
        empty = (
            pd.DataFrame(columns=columns),
            pd.DataFrame(columns=["timestamp", "version", "prediction"]),
        )
        if not has_requests(self.request_log, self.name):
            return empty
        frame, _ = read_request_log(self.request_log, self.name)
        labels = self.store.monitoring.labels(self.name)
        if not len(frame) or not labels:
            return empty
        keys = list(zip(frame["request_id"], frame["row"].astype(int), strict=True))
        mask = [key in labels for key in keys]
        labelled = frame[mask].reset_index(drop=True)
        rows = pd.DataFrame(
            {c: labelled[f"in.{c}"].to_numpy() for c in columns if f"in.{c}" in labelled}
        )
        rows[target] = [labels[key] for key, keep in zip(keys, mask, strict=True) if keep]
        meta = pd.DataFrame(
            {
                "timestamp": labelled["timestamp"].to_numpy(),
                "version": labelled["version"].to_numpy(),
                "prediction": labelled["out.prediction"].to_numpy()
                if "out.prediction" in labelled
                else np.full(len(labelled), np.nan),
            }
        )
        return rows[[c for c in columns if c in rows]], meta

    # -- the canary --------------------------------------------------------------------------

    def _check_canary(self, now: datetime) -> None:
        from ..requestlog import has_requests, read_request_log

        canary = self.store.state.get(_CANARY)
        auto = self.loop.automation
        started = datetime.fromtimestamp(canary["started"], timezone.utc)
        frame = pd.DataFrame()
        if has_requests(self.request_log, self.name):
            frame, _ = read_request_log(
                self.request_log, self.name, since=started, until=now + timedelta(seconds=1)
            )
        versions = {str(canary["version"]), str(canary["champion"])}
        if len(frame):
            frame = frame[frame["version"].astype(str).isin(versions)].reset_index(drop=True)
        labels = (
            self.store.monitoring.labels(self.name, frame["request_id"].unique())
            if len(frame)
            else {}
        )
        keys = (
            list(zip(frame["request_id"], frame["row"].astype(int), strict=True))
            if len(frame)
            else []
        )
        mask = np.array([key in labels for key in keys], dtype=bool)
        labelled = frame[mask].reset_index(drop=True) if len(frame) else frame
        truth = np.array([labels[k] for k, keep in zip(keys, mask, strict=True) if keep])
        elapsed = now.timestamp() - canary["started"]
        if len(labelled) < auto.canary_min_rows and elapsed < auto.canary_minutes * 60:
            self.echo(
                f"canary: {len(labelled)}/{auto.canary_min_rows} labelled rows since version "
                f"{canary['version']} became the canary"
            )
            return
        ref_c, ref_p = f"{self.name}/{canary['version']}", f"{self.name}/{canary['champion']}"
        worse, why = self._canary_worse(labelled, truth, canary)
        self.store.state.set(_CANARY, None)
        if worse:
            self.registry.clear_alias(
                self.name, "staging", reason=f"canary failed: {ref_c} is worse than {ref_p}"
            )
            self._event("canary.failed", ref_c, why)
            self.echo(
                f"canary: {ref_c} is worse than {ref_p} ({why}); production stays on "
                f"{canary['champion']} and {self.name}@staging is removed (no more canary traffic)"
            )
            return
        self._event("canary.passed", ref_c, why)
        self.registry.promote(self.name, canary["version"], reason=f"canary passed: {why}")
        self.registry.clear_alias(self.name, "staging", reason="canary passed: promoted")
        self.echo(f"promote: {self.name}@production → {canary['version']} ({why})")

    def _canary_worse(
        self, labelled: pd.DataFrame, truth: np.ndarray, canary: dict[str, Any]
    ) -> tuple[bool, str]:
        """Both versions on the same labelled rows since the canary started: each one's own
        answer where it served the row, its offline prediction elsewhere (neither was
        trained on these rows). Worse only beyond ``canary_margin`` and ``canary_z``
        standard errors of the paired difference."""
        from ..components import metric_direction, score_predictions

        if not len(labelled):
            return False, "no labelled rows since the canary started: judged not worse"
        served = labelled["version"].astype(str).to_numpy()
        by_canary = int((served == str(canary["version"])).sum())
        answers = {}
        task = "classification"
        for role in ("version", "champion"):
            number = canary[role]
            package = self.registry.load_package(f"{self.name}/{number}")
            task = package.task
            logged = labelled["out.prediction"].to_numpy(dtype=object)
            own = served == str(number)
            prediction = logged.copy()
            if (~own).any():
                inputs = pd.DataFrame(
                    {f: labelled.loc[~own, f"in.{f}"].to_numpy() for f in package.features}
                )
                prediction[~own] = package.model.predict(inputs)
            answers[role] = prediction
        metric = self.workflow.training.metric or (
            "accuracy" if task == "classification" else "rmse"
        )
        y = truth
        if task == "classification":
            y = _as_text(truth)
            answers = {k: _as_text(v) for k, v in answers.items()}
        else:
            y = truth.astype(float)
            answers = {k: v.astype(float) for k, v in answers.items()}

        def score(rows: np.ndarray) -> tuple[float, float]:
            values = []
            for role in ("version", "champion"):
                got, _ = score_predictions(task, y[rows], answers[role][rows], metrics=[metric])
                values.append(got.get(metric, float("nan")))
            return values[0], values[1]

        everything = np.arange(len(y))
        c, p = score(everything)
        if np.isnan(c) or np.isnan(p):
            return False, f"{metric} not available on the canary rows: judged not worse"
        drop = (p - c) if metric_direction(metric) == "max" else (c - p)
        if metric == "accuracy":
            diff = (answers["version"] == y).astype(float) - (answers["champion"] == y).astype(
                float
            )
            se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("inf")
        else:  # a paired bootstrap of the difference
            rng = np.random.default_rng(0)
            draws = []
            for _ in range(100):
                rows = rng.integers(0, len(y), len(y))
                a, b = score(rows)
                draws.append((b - a) if metric_direction(metric) == "max" else (a - b))
            se = float(np.nanstd(draws))
        auto = self.loop.automation
        allowed = max(auto.canary_margin, auto.canary_z * se)
        text = (
            f"{metric} {c:.3f} vs {p:.3f} of the champion on the same {len(y)} labelled rows "
            f"({by_canary} answered by the canary); worse by {max(drop, 0.0):.3f}, "
            f"tolerated {allowed:.3f} ({auto.canary_z:g} standard errors of the difference)"
        )
        return drop > allowed, text

    # -- events ------------------------------------------------------------------------------

    def _event(
        self, kind: str, subject: str, reason: str, payload: dict[str, Any] | None = None
    ) -> None:
        self.store.events.append(
            kind, "model", subject, actor=ACTOR, reason=reason, payload=payload or {}
        )


def request_retrain(settings: Settings) -> None:
    """Ask the running controller to retrain at its next check (``loopline retrain``)."""
    from ..store import Store

    with Store(settings.store_url) as store:
        store.state.set(_MANUAL, True)
        store.events.append(
            "retrain.requested", "project", settings.name, reason="loopline retrain"
        )


def _standard_error(metric: str, value: float, n: int) -> float:
    """The standard error of a metric measured on ``n`` rows (approximate)."""
    if n <= 0:
        return float("inf")
    if metric in _SHARE_METRICS:
        return float(np.sqrt(max(value * (1 - value), 1.0 / n) / n))
    if metric in ("rmse", "mae"):
        return abs(value) / float(np.sqrt(2 * n))
    return 0.0


def _as_text(values: np.ndarray) -> np.ndarray:
    """Labels as text, with 1, 1.0 and "1" alike (JSON may turn one into the other)."""
    out = []
    for v in values:
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        out.append(str(v))
    return np.array(out, dtype=object)


def _ago(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _seconds(stamps: pd.Series) -> np.ndarray:
    """Timestamps (datetimes, naive meaning UTC, or epoch seconds) as epoch seconds."""
    if pd.api.types.is_numeric_dtype(stamps):
        return np.asarray(stamps.to_numpy(dtype=float))
    parsed = pd.to_datetime(stamps, utc=True)
    return np.asarray((parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds(), dtype=float)
