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
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import LooplineError, NotFoundError, StepFailedError
from ._config import LoopConfig, parse_loop_config

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


def _parse_duration(text: str) -> timedelta:
    from ..config import parse_duration

    return parse_duration(text, what="monitoring.window")


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
        from ..store import Store

        self.settings = settings
        path = str(settings.project_dir / "loopline.toml")
        self.workflow: WorkflowConfig = parse_workflow_config(settings.raw, path)
        self.loop: LoopConfig = parse_loop_config(settings.raw, path)
        self.name = self.workflow.model.name or settings.name
        self.store = Store(settings.store_url)
        self.artifacts = ArtifactStore(settings.artifacts_url)
        self.registry = Registry(self.store, self.artifacts, actor=ACTOR)
        self.request_log = settings.state_dir / "requests"
        self.echo = echo or (lambda line: None)
        self.promotion = self.loop.automation.promotion or self.workflow.model.approval
        self._rules = self._alert_rules()
        self._dispatcher: Any = None
        #: The last monitoring window of :meth:`run_once` (None before, or without production).
        self.last_window: MonitoringResult | None = None
        self._drifted: list[str] = []  # the drift that fired this check's trigger, if any

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
        result = self.last_window = self._monitor(now)
        if result is not None:
            self._send_alerts(result)
        reasons = self._fired_triggers(result, manual, now)
        if self.store.state.get(_CANARY) is not None:
            if reasons:
                self._event(
                    "trigger.coalesced", self.name, "; ".join(reasons) + " (a canary is running)"
                )
            self._check_canary(now)
        elif reasons:
            self._retrain(reasons, now)
        return [e.kind for e in reversed(self.store.events.list(limit=200)) if e.id > first]

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
        result = monitor(
            self.registry,
            f"{self.name}@production",
            request_log=self.request_log,
            window=_parse_duration(cfg.window),
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
        from ..monitoring._alert_rules import parse_rules

        return list(
            parse_rules(self.loop.alerts, where=str(self.settings.project_dir / "loopline.toml"))
        )

    def _send_alerts(self, result: MonitoringResult) -> None:
        if not self._rules or result.rows < self.loop.monitoring.min_rows:
            return
        from ..monitoring._alert_rules import active_after, evaluate_rules

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
        from ..monitoring._alert_delivery import AlertDispatcher

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
        if result is not None and result.rows >= self.loop.monitoring.min_rows and cooled:
            if triggers.drift and result.drift.dataset_drift:
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
            decay = (result.performance or {}).get("decay", {})
            for metric, limit in triggers.decay.items():
                if metric in decay and decay[metric] > limit:
                    reasons.append(f"decay: {metric} fell by {decay[metric]:.3f} (limit {limit})")
        if triggers.schedule and self._schedule_due(triggers.schedule, now):
            reasons.append(f"schedule: {triggers.schedule}")
        if triggers.new_data and cooled and self._new_data(production):
            reasons.append("new data: the training source changed since the production model")
        for reason in reasons:
            self._event("trigger.fired", self.name, reason)
            self.echo(f"trigger: {reason}")
        return reasons

    def _drift_addressed(self, production: ModelVersion, drifted: list[str]) -> bool:
        """Whether ``production`` came from a drift retraining on (at least) these features.

        Its training data then held the drifted records, but its drift baseline (all of
        its training data) still differs from them; retraining again would change nothing.
        """
        addressed = (self.store.state.get(_DRIFT_ADDRESSED) or {}).get(str(production.version))
        return addressed is not None and set(drifted) <= set(addressed)

    def _has_any_version(self) -> bool:
        return self.name in self.store.models.names()

    def _cooled_down(self, now: datetime) -> bool:
        """Whether the cooldown after the last retraining run is over."""
        last = self.store.state.get(_LAST_RETRAIN)
        if not last:
            return True
        cooldown = _parse_duration(self.loop.triggers.cooldown).total_seconds()
        if now.timestamp() - last["time"] > cooldown:
            return True
        self.echo(
            f"triggers: in the cooldown after the last retraining ({self.loop.triggers.cooldown})"
        )
        return False

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
        from ..components._ingest import same_source

        root = self.settings.project_dir
        current = resolve_source(self.workflow.data, root)
        for step in self.store.runs.steps(production.run_id):
            if step.name == "ingest":
                return not same_source(step.params.get("source"), current, root)
        return False

    # -- retraining --------------------------------------------------------------------------

    def _retrain(self, reasons: list[str], now: datetime) -> None:
        from ..components import standard_pipeline
        from ..pipeline import Runner

        production = self._production()
        if production is not None and not any(
            r.startswith(("manual", "schedule")) for r in reasons
        ):
            # Only retraining that monitoring asked for starts the cooldown.
            self.store.state.set(
                _LAST_RETRAIN, {"time": now.timestamp(), "version": production.version}
            )
        runner = Runner(self.store, self.artifacts)
        try:
            config = self._training_config()
            self._event(
                "retrain.started",
                self.name,
                "; ".join(reasons),
                {"data_window": self.loop.automation.data_window, "source": config.data.source},
            )
            self.echo(
                f"retrain: training on {config.data.source} ({self.loop.automation.data_window})"
            )
            pipeline = standard_pipeline(
                config,
                self.settings.project_dir,
                name=self.name,
                store=self.store,
                champion=production.artifact_id if production else None,
            )
            result = runner.run(pipeline, pipeline_ref="standard")
        except (StepFailedError, LooplineError) as exc:
            self._event("retrain.failed", self.name, str(exc))
            self.echo(f"retrain failed: {exc} — the champion keeps serving")
            self._dispatch_failure(str(exc))
            return
        finally:
            runner.executor.shutdown()
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
        registered = self.registry.register_run(
            result.run.id, name=self.name, policy=self.promotion
        )
        assert registered is not None  # blessed runs always register
        version, _ = registered
        if self._drifted and self.loop.automation.data_window != "all":
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
                "promotion policy is manual: approve with "
                f"'loopline models approve {self.name} {version.version}'",
            )
            self.echo(f"hold: {version.ref} waits for 'loopline models approve'")
            return
        if production is None or self.loop.automation.canary_requests == 0:
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
                "started": now.timestamp(),
            },
        )
        self._event(
            "canary.started",
            version.ref,
            f"{self.name}@staging → {version.version}; production stays on {production.version} "
            f"until {self.loop.automation.canary_requests} canary requests or "
            f"{self.loop.automation.canary_minutes:g} minutes",
        )
        self.echo(
            f"canary: {version.ref} takes the canary share of traffic "
            f"(serve with --canary {self.name}@staging)"
        )

    def _dispatch_failure(self, message: str) -> None:
        if not self._rules:
            return
        from ..monitoring._alert_rules import Alert

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

    def _training_config(self) -> WorkflowConfig:
        """The workflow config whose source is the data window the policy chooses."""
        policy = self.loop.automation.data_window
        if policy == "all":
            return self.workflow
        from ..components import resolve_source
        from ..components._ingest import read_source

        root = self.settings.project_dir
        base = read_source(resolve_source(self.workflow.data, root), root)
        recent = self._labelled_requests(list(base.columns))
        if not len(recent) and policy == "reference_plus_recent":
            return self.workflow  # nothing recent yet: the source as it is (and its cache)
        frame = pd.concat([base, recent], ignore_index=True) if len(recent) else base
        if policy == "sliding" and self.loop.automation.window_rows:
            frame = frame.tail(self.loop.automation.window_rows)
        folder = self.settings.state_dir / "training"
        folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        path = folder / f"window-{digest.hexdigest()[:16]}.parquet"
        if not path.exists():
            frame.to_parquet(path, index=False)
        data = self.workflow.data.model_copy(update={"source": str(path), "format": "parquet"})
        return self.workflow.model_copy(update={"data": data})

    def _labelled_requests(self, columns: list[str]) -> pd.DataFrame:
        """Logged records that have labels, as training rows (features + the target)."""
        from ..serving import read_request_log

        target = self.workflow.data.target
        if not (self.request_log / f"model={self.name}").exists():
            return pd.DataFrame(columns=columns)
        frame, _ = read_request_log(self.request_log, self.name)
        labels = self.store.monitoring.labels(self.name)
        if not len(frame) or not labels:
            return pd.DataFrame(columns=columns)
        keys = list(zip(frame["request_id"], frame["row"].astype(int), strict=True))
        mask = [key in labels for key in keys]
        labelled = frame[mask]
        rows = pd.DataFrame(
            {c: labelled[f"in.{c}"].to_numpy() for c in columns if f"in.{c}" in labelled}
        )
        rows[target] = [labels[key] for key, keep in zip(keys, mask, strict=True) if keep]
        return rows[[c for c in columns if c in rows]]

    # -- the canary --------------------------------------------------------------------------

    def _check_canary(self, now: datetime) -> None:
        from ..monitoring import window_performance
        from ..serving import read_request_log

        canary = self.store.state.get(_CANARY)
        auto = self.loop.automation
        started = datetime.fromtimestamp(canary["started"], timezone.utc)
        frame = pd.DataFrame()
        if (self.request_log / f"model={self.name}").exists():
            frame, _ = read_request_log(
                self.request_log, self.name, since=started, until=now + timedelta(seconds=1)
            )
        versions = frame["version"].astype(str) if len(frame) else pd.Series(dtype=str)
        canary_rows = frame[versions == str(canary["version"])] if len(frame) else frame
        champion_rows = frame[versions == str(canary["champion"])] if len(frame) else frame
        served = int(canary_rows["request_id"].nunique()) if len(canary_rows) else 0
        elapsed = now.timestamp() - canary["started"]
        if served < auto.canary_requests and elapsed < auto.canary_minutes * 60:
            self.echo(
                f"canary: {served}/{auto.canary_requests} requests served by version "
                f"{canary['version']}"
            )
            return
        ref_c, ref_p = f"{self.name}/{canary['version']}", f"{self.name}/{canary['champion']}"
        perf_c = window_performance(
            self.store, self.name, self.registry.load_package(ref_c), canary_rows
        )
        perf_p = window_performance(
            self.store, self.name, self.registry.load_package(ref_p), champion_rows
        )
        worse, why = self._canary_worse(perf_c, perf_p, served)
        self.store.state.set(_CANARY, None)
        if worse:
            self._event("canary.failed", ref_c, why)
            self.echo(
                f"canary: {ref_c} is worse than {ref_p} ({why}); production stays on "
                f"{canary['champion']}"
            )
            return
        self._event("canary.passed", ref_c, why)
        self.registry.promote(self.name, canary["version"], reason=f"canary passed: {why}")
        self.echo(f"promote: {self.name}@production → {canary['version']} ({why})")

    def _canary_worse(
        self, canary: dict[str, Any] | None, champion: dict[str, Any] | None, served: int
    ) -> tuple[bool, str]:
        from ..components import metric_direction

        if not canary or not champion:
            return False, f"{served} canary requests, no labels to compare yet: not worse on errors"
        metric = self.workflow.training.metric or next(iter(sorted(canary["metrics"])), "accuracy")
        if metric not in canary["metrics"] or metric not in champion["metrics"]:
            return False, f"{metric} not available for both: judged not worse"
        c, p = canary["metrics"][metric], champion["metrics"][metric]
        drop = (p - c) if metric_direction(metric) == "max" else (c - p)
        text = (
            f"{metric} {c:.3f} on {canary['labelled_rows']} labelled canary records vs "
            f"{p:.3f} on {champion['labelled_rows']} of the champion"
        )
        return drop > self.loop.automation.canary_margin, text

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
