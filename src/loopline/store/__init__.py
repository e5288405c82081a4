"""The metadata & lineage store: runs, step runs, artifacts, lineage, metrics, events.

Example:
    >>> from loopline.store import Store
    >>> store = Store("sqlite://")  # in memory; a project uses .loopline/loopline.db
    >>> run = store.runs.create("example")
    >>> store.runs.finish(run.id, "succeeded")
    >>> store.runs.get(run.id).status
    'succeeded'
"""

from ._browse import RunPage as RunPage
from ._browse import RunQuery as RunQuery
from ._events import default_actor as default_actor
from ._lineage import LineageGraph as LineageGraph
from ._monitoring import MonitoringRecord as MonitoringRecord
from ._records import AliasMove as AliasMove
from ._records import Artifact as Artifact
from ._records import Event as Event
from ._records import LineageEdge as LineageEdge
from ._records import Metric as Metric
from ._records import ModelVersion as ModelVersion
from ._records import Run as Run
from ._records import StepRun as StepRun
from ._store import Store as Store

__all__ = [
    "AliasMove",
    "Artifact",
    "Event",
    "LineageEdge",
    "LineageGraph",
    "Metric",
    "ModelVersion",
    "MonitoringRecord",
    "Run",
    "RunPage",
    "RunQuery",
    "StepRun",
    "Store",
    "default_actor",
]
