"""Alert delivery: ``AlertDispatcher`` sends alerts to sinks, retrying and spooling.

The dispatcher delivers alerts to sinks (``_alert_sinks``) on one background thread per
sink, so ``send`` never blocks. A failing delivery is retried with exponential backoff and
jitter; when the retries are exhausted, or ``close`` runs out of time, the alert is
appended to a spool file (JSON lines) and ``redeliver_spooled`` re-sends it on the next
start. Every queued delivery is also written ahead to a journal beside the spool (its
``.inflight`` file) and marked there once settled, so alerts still in memory when the
process is killed (``kill -9``, a power loss) are queued again by ``redeliver_spooled`` too.
Delivery is *at least once*: an alert whose webhook call was still in flight when
``close`` gave up, or when the process died, may arrive twice. Alerts to one sink are sent in order,
but a spooled alert arrives after the ones sent later; receivers should order by ``time``.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

from ._alert_rules import Alert, AlertRule
from ._alert_sinks import AlertSink, make_sink

__all__ = [
    "AlertDispatcher",
    "DispatchStats",
]

logger = logging.getLogger(__name__)

#: Seconds ``close`` waits for a lane that is writing its delivery to the spool.
_SPOOL_WRITE_TIMEOUT = 5.0


@dataclass(frozen=True)
class DispatchStats:
    """Counts of what an ``AlertDispatcher`` did with its deliveries (one per alert and sink).

    Args:
        delivered: Deliveries that succeeded.
        retried: Attempts that failed and were tried again.
        spooled: Deliveries given up on and written to the spool (or logged without one).
        pending: Deliveries queued or in progress.
        redelivered: Spooled deliveries taken back by ``redeliver_spooled``.
    """

    delivered: int = 0
    retried: int = 0
    spooled: int = 0
    pending: int = 0
    redelivered: int = 0


@dataclass(eq=False)
class _Delivery:
    alert: Alert
    sink: str
    attempts: int = 0
    claimed: bool = False  # someone (its lane, or ``close``) is delivering or spooling it
    done: bool = False  # delivered, or written to the spool
    error: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    journaled: bool = False  # written ahead to the journal: mark it settled there too


@dataclass
class _Lane:
    """One sink's queue and the thread that empties it."""

    sink: AlertSink
    queue: deque[_Delivery] = field(default_factory=deque)
    current: _Delivery | None = None
    thread: threading.Thread | None = None


class AlertDispatcher:
    """Deliver alerts in the background, retrying failures and spooling what cannot be sent.

    Each sink gets its own thread, started on first use, so a down webhook delays nothing
    but its own later alerts. An alert goes to the sinks its ``send`` names (to all sinks
    when it names none). Close the dispatcher (or use it as a context manager) so that
    pending alerts are delivered or spooled; an unclosed dispatcher spools what is pending
    when the interpreter exits.

    Args:
        *sinks: The sinks, with distinct names.
        retries: Attempts after the first before a delivery is spooled.
        backoff: Seconds before the first retry; doubled at each retry.
        max_backoff: Upper bound of the wait between retries, in seconds.
        spool_path: JSON-lines file for deliveries given up on. Without one they are
            logged at ERROR (with the alert) and lost. The journal of queued deliveries
            is kept beside it (same name, ``.inflight`` before the suffix).

    Raises:
        ValueError: Two sinks share a name.

    Example:
        >>> import logging
        >>> from loopline.monitoring import evaluate_rules, parse_rules
        >>> from loopline.monitoring._alert_sinks import ConsoleSink
        >>> sink = ConsoleSink(logger=logging.getLogger("doctest.alerts"))
        >>> with AlertDispatcher(sink) as dispatcher:
        ...     [alert] = evaluate_rules(
        ...         parse_rules([{"name": "rows", "when": "rows < 100"}]), {"rows": 3}, set()
        ...     )
        ...     dispatcher.send(alert)
        >>> dispatcher.stats.delivered
        1
    """

    def __init__(
        self,
        *sinks: AlertSink,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        spool_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self._lanes: dict[str, _Lane] = {}
        for sink in sinks:
            if sink.name in self._lanes:
                raise ValueError(f"Two alert sinks are named {sink.name!r}; names must differ.")
            self._lanes[sink.name] = _Lane(sink)
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.spool_path = None if spool_path is None else Path(spool_path)
        self.journal_path = (
            None
            if self.spool_path is None
            else self.spool_path.with_name(
                f"{self.spool_path.stem}.inflight{self.spool_path.suffix}"
            )
        )
        self._cond = threading.Condition()
        self._spool_lock = threading.Lock()
        self._abandon = threading.Event()
        self._closed = False
        self._counts = {"delivered": 0, "retried": 0, "spooled": 0, "redelivered": 0}
        self._random = random.Random()
        self._warned: set[str] = set()
        if self.journal_path is not None:
            with self._spool_lock:
                self._spool_unsettled()  # before this dispatcher journals anything itself
        self._at_exit = functools.partial(self.close, 0.0)
        atexit.register(self._at_exit)

    @classmethod
    def for_rules(
        cls,
        rules: Iterable[AlertRule],
        *,
        root: str | os.PathLike[str] | None = None,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        spool_path: str | os.PathLike[str] | None = None,
    ) -> AlertDispatcher:
        """A dispatcher with one sink for each distinct spec the rules send to.

        Args:
            rules: The configured rules.
            root: Folder relative ``file:`` paths are under (the project's folder).
            retries: See the class.
            backoff: See the class.
            max_backoff: See the class.
            spool_path: See the class.

        Returns:
            The dispatcher.
        """
        specs = dict.fromkeys(spec for rule in rules for spec in rule.send)
        sinks = [make_sink(spec, root=root) for spec in specs]
        return cls(
            *sinks,
            retries=retries,
            backoff=backoff,
            max_backoff=max_backoff,
            spool_path=spool_path,
        )

    @property
    def sinks(self) -> tuple[AlertSink, ...]:
        """The dispatcher's sinks."""
        return tuple(lane.sink for lane in self._lanes.values())

    @property
    def stats(self) -> DispatchStats:
        """What has been delivered, retried, spooled, and what is pending now."""
        with self._cond:
            return DispatchStats(pending=self._pending(), **self._counts)

    def send(self, alert: Alert) -> None:
        """Queue an alert for its sinks and return at once.

        Args:
            alert: The alert; it goes to the sinks ``alert.send`` names (all if none).
        """
        names = alert.send or tuple(self._lanes)
        for name in dict.fromkeys(names):
            if name not in self._lanes:
                self._warn_once(name, alert)
                continue
            self._enqueue(_Delivery(alert, name))

    def redeliver_spooled(self) -> int:
        """Queue again every spooled delivery whose sink this dispatcher has.

        Call it once at start. (Deliveries a killed process left unsettled in the journal
        joined the spool when this dispatcher was made.) Records for sinks this dispatcher
        does not have, and lines that cannot be read, stay in the spool.

        Returns:
            How many deliveries were queued.
        """
        if self.spool_path is None:
            return 0
        with self._spool_lock:
            try:
                lines = self.spool_path.read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                return 0
            kept: list[str] = []
            taken: list[_Delivery] = []
            for line in lines:
                delivery = self._from_spool_line(line)
                if delivery is None or delivery.sink not in self._lanes:
                    if line.strip():
                        kept.append(line)
                    continue
                taken.append(delivery)
            self._rewrite_spool(kept)
        with self._cond:
            self._counts["redelivered"] += len(taken)
        for delivery in taken:
            self._enqueue(delivery)
        return len(taken)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until nothing is pending.

        Args:
            timeout: Seconds to wait at most (``None``: no limit).

        Returns:
            Whether everything was delivered or spooled in time.
        """
        with self._cond:
            return self._cond.wait_for(lambda: self._pending() == 0, timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Stop taking alerts; wait for pending deliveries, then spool what is left.

        Args:
            timeout: Seconds to wait for pending deliveries (retries included).

        Returns:
            Whether every pending delivery finished (delivered, or spooled after its
            retries) within ``timeout``; ``False`` means some were spooled unfinished.
        """
        atexit.unregister(self._at_exit)
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for lane in self._lanes.values():
            if lane.thread is not None:
                lane.thread.join(max(0.0, deadline - time.monotonic()))
        finished = not any(lane.thread and lane.thread.is_alive() for lane in self._lanes.values())
        if not finished:
            self._abandon.set()
            with self._cond:
                left = [d for lane in self._lanes.values() for d in lane.queue]
                left += [lane.current for lane in self._lanes.values() if lane.current]
                for lane in self._lanes.values():
                    lane.queue.clear()
            for delivery in left:
                self._spool(delivery, "the dispatcher closed before it was delivered")
            # A lane that claimed its delivery first is writing it to the spool: a moment.
            with self._cond:
                self._cond.wait_for(lambda: all(d.done for d in left), _SPOOL_WRITE_TIMEOUT)
        for lane in self._lanes.values():
            if lane.thread is None or not lane.thread.is_alive():
                lane.sink.close()
        return finished

    def __enter__(self) -> AlertDispatcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ----------------------------------------------------------------- internals

    def _pending(self) -> int:
        # A delivery ``close`` spooled may still be the lane's current one for a moment.
        return sum(
            len(lane.queue) + (lane.current is not None and not lane.current.done)
            for lane in self._lanes.values()
        )

    def _enqueue(self, delivery: _Delivery) -> None:
        with self._cond:
            if not self._closed:
                lane = self._lanes[delivery.sink]
                self._journal(delivery)
                lane.queue.append(delivery)
                if lane.thread is None:
                    lane.thread = threading.Thread(
                        target=self._work,
                        args=(lane,),
                        name=f"loopline-alerts:{delivery.sink}",
                        daemon=True,
                    )
                    lane.thread.start()
                self._cond.notify_all()
                return
        self._spool(delivery, "the dispatcher was closed when it was sent")

    def _work(self, lane: _Lane) -> None:
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: bool(lane.queue) or self._closed)
                    if not lane.queue or self._abandon.is_set():
                        return
                    delivery = lane.current = lane.queue.popleft()
                try:
                    self._attempt(lane.sink, delivery)
                except Exception:  # a bug must not kill the lane and lose its alerts
                    logger.exception("Alert delivery to %s failed unexpectedly", lane.sink.name)
                    self._spool(delivery, "an unexpected error in the dispatcher")
                with self._cond:
                    lane.current = None
                    self._cond.notify_all()
        finally:
            if self._closed:
                lane.sink.close()

    def _attempt(self, sink: AlertSink, delivery: _Delivery) -> None:
        """Try one delivery until it is delivered, or spooled."""
        while not self._abandon.is_set():
            try:
                sink.deliver(delivery.alert)
            except Exception as exc:
                delivery.attempts += 1
                delivery.error = str(exc) or repr(exc)
                if not getattr(exc, "retryable", True):
                    self._spool(delivery, f"retrying cannot help: {delivery.error}")
                    return
                if delivery.attempts > self.retries:
                    self._spool(delivery, f"{delivery.attempts} attempts failed: {delivery.error}")
                    return
                with self._cond:
                    self._counts["retried"] += 1
                logger.info(
                    "Alert %r to %s failed (%s); retry %d of %d",
                    delivery.alert.rule,
                    sink.name,
                    delivery.error,
                    delivery.attempts,
                    self.retries,
                )
                self._abandon.wait(self._delay(delivery.attempts))
            else:
                if self._claim(delivery):
                    self._finish(delivery, "delivered")
                return
        self._spool(delivery, "the dispatcher closed before it was delivered")

    def _delay(self, attempt: int) -> float:
        """Exponential backoff with jitter: half the step, plus up to half again at random."""
        step = min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1))
        return step * (0.5 + self._random.random() / 2)

    def _claim(self, delivery: _Delivery) -> bool:
        """Take a delivery to settle it; ``False`` if another thread has (``close``)."""
        with self._cond:
            if delivery.claimed:
                return False
            delivery.claimed = True
            return True

    def _finish(self, delivery: _Delivery, outcome: str) -> None:
        with self._cond:
            delivery.done = True
            self._counts[outcome] += 1
            if delivery.journaled:
                self._journal_settled(delivery)
            self._cond.notify_all()

    # The journal: one line per queued delivery, one per settled one; called under _cond.

    def _journal(self, delivery: _Delivery) -> None:
        if self.journal_path is None:
            return
        self._append_journal(
            {
                "id": delivery.id,
                **self._record(delivery),
            }
        )
        delivery.journaled = True

    def _journal_settled(self, delivery: _Delivery) -> None:
        assert self.journal_path is not None
        if self._pending() == 0:  # nothing in flight: the journal has nothing to say
            self.journal_path.unlink(missing_ok=True)
        else:
            self._append_journal({"id": delivery.id, "settled": True})

    def _append_journal(self, record: dict[str, object]) -> None:
        assert self.journal_path is not None
        try:
            self.journal_path.parent.mkdir(parents=True, exist_ok=True)
            with self.journal_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError:
            logger.exception("Cannot write the alert journal %s", self.journal_path)

    def _spool_unsettled(self) -> None:
        """Move what a killed process left unsettled in the journal to the spool."""
        assert self.journal_path is not None and self.spool_path is not None
        try:
            lines = self.journal_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        queued: dict[str, dict[str, object]] = {}
        for line in lines:
            try:
                record = json.loads(line)
                if record.get("settled"):
                    queued.pop(str(record["id"]), None)
                else:
                    queued[str(record.pop("id"))] = record
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # a line cut off by the crash: its delivery is in the spool or was
        if queued:
            logger.warning(
                "%d alert deliveries were pending when the last dispatcher stopped; "
                "delivering them again",
                len(queued),
            )
            self.spool_path.parent.mkdir(parents=True, exist_ok=True)
            with self.spool_path.open("a", encoding="utf-8") as f:
                for record in queued.values():
                    f.write(json.dumps(record, ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
        self.journal_path.unlink(missing_ok=True)

    def _spool(self, delivery: _Delivery, reason: str) -> None:
        if not self._claim(delivery):
            return
        try:
            self._write_spool(delivery, reason)
        finally:
            self._finish(delivery, "spooled")

    @staticmethod
    def _record(delivery: _Delivery) -> dict[str, object]:
        return {
            "sink": delivery.sink,
            "alert": delivery.alert.to_dict(),
            "send": list(delivery.alert.send),
            "attempts": delivery.attempts,
            "error": delivery.error,
        }

    def _write_spool(self, delivery: _Delivery, reason: str) -> None:
        record = {
            **self._record(delivery),
            "spooled_at": datetime.now(timezone.utc).isoformat(),
        }
        line = json.dumps(record, ensure_ascii=False)
        if self.spool_path is None:
            logger.error(
                "Alert to %s not delivered (%s) and no spool: %s", delivery.sink, reason, line
            )
            return
        logger.warning(
            "Alert %r to %s spooled to %s (%s)",
            delivery.alert.rule,
            delivery.sink,
            self.spool_path,
            reason,
        )
        try:
            with self._spool_lock:
                self.spool_path.parent.mkdir(parents=True, exist_ok=True)
                with self.spool_path.open("a", encoding="utf-8") as f:
                    f.write(line + "\n")
                    f.flush()
                    os.fsync(f.fileno())
        except OSError:
            logger.exception(
                "Cannot write the alert spool %s; the alert was: %s", self.spool_path, line
            )

    def _from_spool_line(self, line: str) -> _Delivery | None:
        try:
            record = json.loads(line)
            alert = Alert.from_dict(record["alert"], send=record.get("send", ()))
            return _Delivery(alert, str(record["sink"]))
        except (ValueError, KeyError, TypeError):
            if line.strip():
                logger.warning(
                    "Unreadable line in the alert spool %s kept: %r", self.spool_path, line
                )
            return None

    def _rewrite_spool(self, lines: list[str]) -> None:
        assert self.spool_path is not None
        if not lines:
            self.spool_path.unlink(missing_ok=True)
            return
        temporary = self.spool_path.with_name(self.spool_path.name + ".tmp")
        temporary.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        os.replace(temporary, self.spool_path)

    def _warn_once(self, name: str, alert: Alert) -> None:
        if name not in self._warned:
            self._warned.add(name)
            logger.warning(
                "Alert %r names sink %r, which this dispatcher does not have; build it with "
                "AlertDispatcher.for_rules(rules)",
                alert.rule,
                name,
            )
