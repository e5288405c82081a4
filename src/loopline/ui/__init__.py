"""The web UI (``loopline ui``): runs, lineage, the registry and monitoring in a browser.

Server-rendered HTML with inline CSS and SVG: no script, no CDN, it works offline. Viewers
read; operators (the admin token) approve, reject, promote and roll back, with a reason,
through the registry, so every action is an event and also a CLI command.

Example:
    >>> from loopline.artifacts import ArtifactStore
    >>> from loopline.registry import Registry
    >>> from loopline.store import Store
    >>> from loopline.ui import UIOptions, create_ui_app
    >>> app = create_ui_app(Registry(Store("sqlite://"), ArtifactStore("memory://ui-example")),
    ...                     UIOptions(admin_token="s3cret"))
    >>> app.title
    'Loopline UI'
"""

from ._app import create_ui_app as create_ui_app
from ._auth import UIOptions as UIOptions

__all__ = ["UIOptions", "create_ui_app"]
