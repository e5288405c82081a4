"""The web UI's FastAPI application: server-rendered pages, forms for the operator's actions.

Pages: ``/runs`` (filters, sort, pages), ``/runs/{id}`` (DAG, timings, cache hits, metrics,
logs, report), ``/compare?run=..`` (2-5 runs), ``/artifacts/{id}/lineage``, ``/models``,
``/models/{name}`` (versions, aliases, history, actions), ``/models/{name}/monitoring``,
``/events``; the reports at ``/runs/{id}/report`` and ``/monitoring/{id}/report``.
Actions (``POST /models/{name}/approve|reject|promote|rollback``) need the operator role and
a reason, go through :class:`~loopline.registry.Registry`, and are recorded as events with
the actor ``ui``. Every response carries ``Server-Timing: app;dur=<ms>``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .._version import __version__
from ..errors import (
    BackendUnavailableError,
    ConflictError,
    InvalidInputError,
    LooplineError,
    NotFoundError,
)
from ..registry import Registry
from ..reports import escape, format_timestamp, render_table
from ._auth import COOKIE, AuthError, Role, UIOptions, bearer, require_operator, role_of
from ._layout import link, message, page
from ._lineage import lineage_body
from ._models import model_body, models_body
from ._monitoring import monitoring_body
from ._reports import ReportRenderer
from ._runs import (
    check_compare_ids,
    compare_body,
    parse_run_query,
    run_body,
    runs_list_body,
)

#: Our errors to HTTP statuses (first match wins), as in the prediction service.
STATUS_BY_ERROR: list[tuple[type[LooplineError], int]] = [
    (NotFoundError, 404),
    (ConflictError, 409),
    (InvalidInputError, 422),
    (BackendUnavailableError, 503),
    (LooplineError, 500),
]
#: The most bytes an action's form may have.
MAX_FORM_BYTES = 16_384
ACTOR = "ui"


def create_ui_app(registry: Registry, options: UIOptions | None = None) -> FastAPI:
    """The UI over ``registry`` (its store and artifact store).

    Args:
        registry: Where runs, models, events and artifacts are read, and actions go.
        options: The tokens (see :class:`UIOptions`); by default reading is open and
            actions are off.

    Returns:
        The ASGI application (run it with uvicorn).
    """
    options = options or UIOptions()
    store = registry.store
    reports = ReportRenderer(registry)
    app = FastAPI(
        title="Loopline UI", version=__version__, docs_url=None, redoc_url=None, openapi_url=None
    )

    @app.middleware("http")
    async def timing(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - start) * 1e3:.2f}"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        return response

    @app.exception_handler(LooplineError)
    async def on_error(request: Request, exc: LooplineError) -> Response:
        status = _status_of(exc)
        hint = f"<p>{escape(exc.hint)}</p>" if getattr(exc, "hint", None) else ""
        body = message(str(exc), tone="bad") + hint
        if status == 401:
            body += _login_form(request.url.path if request.method == "GET" else "/runs")
        role = _role(request, options)
        return HTMLResponse(
            page("Error" if status != 401 else "Sign in", body, role=role), status_code=status
        )

    def viewer(request: Request) -> Role:
        role = _role(request, options)
        if role is None:
            raise AuthError("This UI needs a token to be read (LOOPLINE_TOKEN).")
        return role

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse)
    def root() -> Response:
        return RedirectResponse("/runs", status_code=303)

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> str:
        target = request.query_params.get("next") or "/runs"
        return page("Sign in", _login_form(target), role=_role(request, options))

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await _form(request)
        token = form.get("token", "")
        target = form.get("next") or "/runs"
        if not target.startswith("/") or target.startswith("//"):
            target = "/runs"  # never redirect off this site
        if role_of(token, options) is None or not token:
            raise AuthError("That token is neither the viewer's nor the operator's.")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        _check_origin(request)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.get("/runs", response_class=HTMLResponse)
    def runs(request: Request) -> str:
        role = viewer(request)
        params = dict(request.query_params)
        body = runs_list_body(store, parse_run_query(params), params)
        return page("Runs", body, role=role, active="/runs")

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run(request: Request, run_id: str) -> str:
        role = viewer(request)
        found = store.runs.get(run_id)
        return page(
            f"Run {found.id[:8]} · {found.name}",
            run_body(store, found),
            role=role,
            active="/runs",
            crumbs=[("/runs", "Runs")],
        )

    @app.get("/runs/{run_id}/report", response_class=HTMLResponse)
    def run_report(request: Request, run_id: str) -> str:
        viewer(request)
        return reports.run_report(run_id)

    @app.get("/compare", response_class=HTMLResponse)
    def compare(request: Request) -> str:
        role = viewer(request)
        ids = check_compare_ids(request.query_params.getlist("run"))
        found = [store.runs.get(i) for i in ids]
        return page(
            f"Compare {len(found)} runs",
            compare_body(store, found),
            role=role,
            active="/runs",
            crumbs=[("/runs", "Runs")],
        )

    @app.get("/artifacts/{artifact_id}/lineage", response_class=HTMLResponse)
    def lineage(request: Request, artifact_id: int) -> str:
        role = viewer(request)
        down = request.query_params.get("direction", "up") == "down"
        return page(
            f"Lineage of artifact #{artifact_id}",
            lineage_body(store, artifact_id, down=down),
            role=role,
        )

    @app.get("/models", response_class=HTMLResponse)
    def models(request: Request) -> str:
        return page("Models", models_body(store), role=viewer(request), active="/models")

    @app.get("/models/{name}", response_class=HTMLResponse)
    def model(request: Request, name: str) -> str:
        role = viewer(request)
        notice = request.query_params.get("done")
        body = model_body(
            store,
            name,
            operator=role == "operator" and options.admin_token is not None,
            notice=message(notice, tone="good") if notice else "",
        )
        return page(
            f"Model {name}", body, role=role, active="/models", crumbs=[("/models", "Models")]
        )

    @app.get("/models/{name}/monitoring", response_class=HTMLResponse)
    def monitoring(request: Request, name: str) -> str:
        role = viewer(request)
        return page(
            f"Monitoring {name}",
            monitoring_body(store, name),
            role=role,
            active="/models",
            crumbs=[("/models", "Models"), (f"/models/{name}", name)],
        )

    @app.get("/monitoring/{report_id}/report", response_class=HTMLResponse)
    def monitoring_report(request: Request, report_id: int) -> str:
        viewer(request)
        return reports.monitoring_report(report_id)

    @app.get("/events", response_class=HTMLResponse)
    def events(request: Request) -> str:
        role = viewer(request)
        kind = request.query_params.get("kind") or None
        rows = [
            [
                format_timestamp(e.time),
                e.kind,
                f"{e.subject_type} {e.subject_id}",
                e.actor,
                e.reason or "",
            ]
            for e in store.events.list(kind=kind, limit=200)
        ]
        body = (
            '<form class="filters" method="get" action="/events"><label>kind (or prefix.*)'
            f'<input name="kind" value="{escape(kind or "")}"></label>'
            '<button type="submit">Filter</button></form>'
            + render_table(["time", "event", "subject", "who", "why"], rows, empty="No events.")
            + '<p class="muted">CLI: <code>loopline events --kind KIND</code></p>'
        )
        return page("Events", body, role=role, active="/events")

    async def act(request: Request, name: str, verb: str) -> Response:
        _check_origin(request)
        require_operator(_role(request, options), options)
        form = await _form(request)
        reason = (form.get("reason") or "").strip()
        if not reason:
            raise InvalidInputError(
                f"To {verb}, give a reason: it is recorded with the decision.",
                hint="Fill in the reason field.",
            )
        actor = Registry(registry.store, registry.artifacts, actor=ACTOR)
        alias = form.get("alias") or "production"
        if verb == "rollback":
            move = actor.rollback(name, alias=alias, reason=reason)
            done = f"{alias} rolled back to version {move.version}."
        else:
            version = _int(form.get("version"), "version")
            if verb == "approve":
                actor.approve(name, version, reason=reason)
                done = f"Version {version} approved."
            elif verb == "reject":
                actor.reject(name, version, reason=reason)
                done = f"Version {version} rejected."
            else:
                actor.promote(name, version, alias=alias, reason=reason)
                done = f"{alias} now points at version {version}."
        return RedirectResponse(
            f"/models/{name}?{urlencode({'done': done})}#versions", status_code=303
        )

    for verb in ("approve", "reject", "promote", "rollback"):
        app.add_api_route(
            f"/models/{{name}}/{verb}",
            _bind(act, verb),
            methods=["POST"],
            name=f"model_{verb}",
        )
    return app


def _bind(
    act: Callable[[Request, str, str], Awaitable[Response]], verb: str
) -> Callable[[Request, str], Awaitable[Response]]:
    async def endpoint(request: Request, name: str) -> Response:
        return await act(request, name, verb)

    return endpoint


def _role(request: Request, options: UIOptions) -> Role | None:
    given = bearer(request.headers.get("authorization", "")) or request.cookies.get(COOKIE)
    return role_of(given, options)


def _check_origin(request: Request) -> None:
    """Refuse a cross-site form post (the SameSite cookie already stops most)."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        if urlsplit(origin).netloc != host:
            raise AuthError(
                f"A form from {origin} may not act here.",
                status=403,
                hint="Use the UI's own pages (or the CLI) to act.",
            )


async def _form(request: Request) -> dict[str, str]:
    """The url-encoded form of a POST (last value of each field), bounded in size."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InvalidInputError(
            f"The form is {len(body)} bytes; at most {MAX_FORM_BYTES} are accepted.",
            value=len(body),
        )
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError as exc:
        raise InvalidInputError("The form is not UTF-8 text.") from exc
    return {k: v[-1] for k, v in fields.items()}


def _int(text: str | None, name: str) -> int:
    try:
        return int(text or "")
    except ValueError:
        raise InvalidInputError(
            f"The {name!r} field must be a whole number. Got {text!r} instead.", value=text
        ) from None


def _status_of(error: LooplineError) -> int:
    own = getattr(error, "status", None)
    if isinstance(own, int):
        return own
    return next(code for cls, code in STATUS_BY_ERROR if isinstance(error, cls))


def _login_form(target: str) -> str:
    return (
        '<form class="action" method="post" action="/login" id="login-form">'
        '<label>token<input type="password" name="token" autocomplete="current-password">'
        f'</label><input type="hidden" name="next" value="{escape(target)}">'
        '<button type="submit">Sign in</button></form>'
        '<p class="muted">The viewer token is LOOPLINE_TOKEN; the operator token is '
        f"LOOPLINE_ADMIN_TOKEN. {link('/runs', 'Back to runs')}</p>"
    )
