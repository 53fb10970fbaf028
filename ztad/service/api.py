"""The HTTP API of ``ztad serve``: scoring, findings, incidents, triage, health and metrics.

:func:`create_app` builds the FastAPI app over one state folder and findings database (a
:class:`ztad.config.JobConfig`); ``ztad dashboard`` adds the pages of
:mod:`ztad.service.dashboard` to the same app. Every route needs a bearer token
(:mod:`ztad.service.auth`); the OpenAPI document is at ``/openapi.json``, the docs at ``/docs``.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from typing import Annotated, Literal

from fastapi import Cookie, Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from ztad.config import JobConfig
from ztad.service import queries
from ztad.service.auth import READ, TRIAGE, ServiceSettings, bearer_token
from ztad.service.metrics import ServiceMetrics
from ztad.service.predict import (
    EXPLAIN_MODES,
    FILLED_TEXT,
    NO_NUL,
    BadEventError,
    Batch,
    Event,
    Predictions,
    predictions_json,
    readable_errors,
    score_document,
)
from ztad.service.state import LatestRun, NotReadyError, StateHolder
from ztad.store import SEVERITY_LEVELS, TRIAGE_STATUSES

log = logging.getLogger(__name__)

Severity = Literal[SEVERITY_LEVELS]  # type: ignore[valid-type]
Status = Literal[("open", *TRIAGE_STATUSES)]  # type: ignore[valid-type]
TriageStatus = Literal[TRIAGE_STATUSES]  # type: ignore[valid-type]
Explain = Literal[EXPLAIN_MODES]  # type: ignore[valid-type]
_bearer = HTTPBearer(
    auto_error=False, description="ZTAD_API_TOKEN (read, triage) or ZTAD_API_READ_TOKEN (read)"
)


class Page(BaseModel):
    """One page of rows, with the number of rows matching the filters."""

    total: int
    limit: int
    offset: int
    items: list[dict]


class Triage(BaseModel):
    """A triage decision, under the rules of ``ztad triage``: the note is appended, time stamped.

    At least one field; an empty ``assignee`` unassigns.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    status: TriageStatus = None
    assignee: str = Field(None, max_length=200, pattern=NO_NUL)
    note: str = Field(None, min_length=1, max_length=4000, pattern=FILLED_TEXT)

    @model_validator(mode="after")
    def _something(self) -> Triage:
        if self.status is None and self.assignee is None and self.note is None:
            raise ValueError("nothing to change: give status, assignee or note")
        return self


class Message(BaseModel):
    """Why a request was refused."""

    detail: str


#: Answers every route may give besides its own.
COMMON_RESPONSES = {
    401: {"model": Message, "description": "no token, or not a valid one"},
    403: {"model": Message, "description": "the token lacks the scope"},
    503: {
        "model": Message,
        "description": "the findings database is unreachable or no run has scored a day yet",
    },
}
NOT_FOUND = {404: {"model": Message, "description": "no such id"}}


class Health(BaseModel):
    status: Literal["ok", "not_ready", "degraded"]
    database: bool = Field(description="the findings database answered")
    model_version: str | None
    baseline_day: str | None
    last_run: dict | None


def create_app(
    config: JobConfig,
    settings: ServiceSettings,
    *,
    dashboard: bool = False,
    pinned: LatestRun | None = None,
    worker_of: str | None = None,
) -> FastAPI:
    """The API over ``config``'s findings database and state folder.

    ``pinned`` judges ``/predict`` as of one day with one model version instead of following
    the nightly runs (to replay a day). ``dashboard`` adds the analysts' pages.
    ``worker_of`` makes the app one of ``ztad serve --workers N``'s worker processes: the
    folder the workers' metrics are shared in (:mod:`ztad.service.workers`); the parent process
    has brought the database's schema up to date already.
    """
    from ztad.store import FindingsStore

    settings.require_token()
    store = FindingsStore(config.resolved_database_url)
    if worker_of is None:
        store.create_schema()
    holder = StateHolder(config, store, settings.check_seconds, pinned)
    metrics = ServiceMetrics(lambda: _finished(store.engine), shared_dir=worker_of)
    app = FastAPI(
        title="ztad",
        summary="Scores authentication events and serves the nightly job's findings.",
        version="1",
        responses=COMMON_RESPONSES,
    )
    app.state.config, app.state.store, app.state.holder = config, store, holder
    app.state.settings, app.state.metrics = settings, metrics
    _observe_requests(app, metrics)
    _handle_errors(app)
    _routes(app, store, holder, metrics)
    if dashboard:
        from ztad.service.dashboard import add_dashboard

        add_dashboard(app)
    return app


def scope(needed: str):
    """A dependency that lets a request through only with a token granting ``needed``.

    A coroutine: it only compares text, so it runs on the event loop rather than being
    handed to a worker thread and back, a fixed cost on every request.
    """

    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        ztad_token: Annotated[str | None, Cookie(include_in_schema=False)] = None,
    ) -> frozenset[str]:
        header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
        token = bearer_token(header or request.headers.get("authorization"), ztad_token)
        granted = request.app.state.settings.scopes_of(token)
        if not granted:
            raise HTTPException(401, "a valid bearer token is needed", headers={"WWW-Authenticate": "Bearer"})
        if needed not in granted:
            raise HTTPException(403, f"this token does not grant the {needed!r} scope")
        return granted

    return check


Reader = Annotated[frozenset[str], Depends(scope(READ))]
Triager = Annotated[frozenset[str], Depends(scope(TRIAGE))]


def _routes(app: FastAPI, store, holder: StateHolder, metrics: ServiceMetrics) -> None:
    engine = store.engine

    @app.post("/predict", response_model=Predictions, tags=["scoring"])
    async def predict(
        body: Batch | Event,
        _: Reader,
        explain: Annotated[
            Explain,
            Query(
                description="path: path attributions behind every alert's top features (fast); "
                "exact: exact TreeSHAP for the highest-scored alerts, as the nightly job"
            ),
        ] = "path",
    ) -> Response:
        """Score one event or a batch against the current model and each user's baseline."""
        events = body.events if isinstance(body, Batch) else [body]
        if len(events) <= INLINE_EVENTS and holder.fresh():
            answer = _answer(app, events, explain)
        else:
            answer = await run_in_threadpool(_answer, app, events, explain)
        return Response(answer, media_type="application/json")

    @app.get("/findings", response_model=Page, tags=["findings"])
    def list_findings(_: Reader, filters: Annotated[Filters, Depends()]) -> dict:
        """Findings, most severe first, filtered and paged."""
        return queries.findings_page(engine, filters.to_query())

    @app.get("/findings/{finding_id}", tags=["findings"], responses=NOT_FOUND)
    def get_finding(finding_id: Annotated[str, Path(min_length=1)], _: Reader) -> dict:
        """One finding."""
        return _found(queries.finding(engine, finding_id), "finding", finding_id)

    @app.get("/incidents", response_model=Page, tags=["findings"])
    def list_incidents(_: Reader, filters: Annotated[Filters, Depends()]) -> dict:
        """Incidents, most severe first, filtered and paged."""
        return queries.incidents_page(engine, filters.to_query())

    @app.get("/incidents/{incident_id}", tags=["findings"], responses=NOT_FOUND)
    def get_incident(incident_id: Annotated[str, Path(min_length=1)], _: Reader) -> dict:
        """One incident with its findings."""
        return _found(queries.incident(engine, incident_id), "incident", incident_id)

    @app.patch("/incidents/{incident_id}", tags=["triage"], responses=NOT_FOUND)
    def triage_incident(incident_id: Annotated[str, Path(min_length=1)], body: Triage, _: Triager) -> dict:
        """Set status, assignee or a note; the incident's findings that follow it get its status."""
        return triage(store, "incident", incident_id, body)

    @app.patch("/findings/{finding_id}", tags=["triage"], responses=NOT_FOUND)
    def triage_finding(finding_id: Annotated[str, Path(min_length=1)], body: Triage, _: Triager) -> dict:
        """Set a finding's status, assignee or a note."""
        return triage(store, "finding", finding_id, body)

    @app.get("/health", response_model=Health, tags=["service"])
    def health(_: Reader, response: Response) -> Health:
        """The model in use, the last run and whether the database answers."""
        try:
            last = queries.last_run(engine)
        except OperationalError:
            response.status_code = 503
            return Health(
                status="degraded", database=False, model_version=None, baseline_day=None, last_run=None
            )
        try:
            state = holder.current()
        except NotReadyError:
            return Health(
                status="not_ready", database=True, model_version=None, baseline_day=None, last_run=last
            )
        return Health(
            status="ok",
            database=True,
            model_version=state.model_version,
            baseline_day=state.day.isoformat(),
            last_run=last,
        )

    @app.get(
        "/metrics",
        tags=["service"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
    )
    def prometheus(_: Reader) -> Response:
        """Requests, latency, events scored and the age of the last run, in Prometheus text."""
        return Response(metrics.text(), media_type="text/plain; version=0.0.4; charset=utf-8")


#: Requests of up to this many events are scored on the event loop itself, when the state is
#: loaded and due no check (:meth:`StateHolder.fresh`): handing a few milliseconds of work to a
#: worker thread and back costs two thread wake-ups, which on a busy machine each wait for a
#: core. Larger requests, a state load and the check for a newer run go to a worker thread, so
#: that the loop keeps answering meanwhile.
INLINE_EVENTS = 64


def _answer(app: FastAPI, events: list[Event], explain: str) -> bytes:
    """The predictions of ``events`` as the JSON bytes ``/predict`` answers: written straight
    from plain values, the spec declares them as :class:`Predictions`."""
    return predictions_json(score_document(app, events, explain))


class Filters:
    """The query parameters of the listings."""

    def __init__(
        self,
        day: date | None = None,
        user: Annotated[str | None, Query(min_length=1)] = None,
        severity: Severity | None = None,
        status: Annotated[
            Status | None, Query(description="a triage status, or open (new, investigating)")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=queries.MAX_LIMIT)] = 50,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ):
        self.day, self.user, self.severity, self.status = day, user, severity, status
        self.limit, self.offset = limit, offset

    def to_query(self) -> queries.Filters:
        return queries.Filters(self.day, self.user, self.severity, self.status, self.limit, self.offset)


def triage(store, target: str, target_id: str, body: Triage) -> dict:
    """Apply a triage decision with :func:`ztad.feedback.triage.update`."""
    from ztad.feedback.triage import TriageError, UnknownTargetError, update

    try:
        row = update(store, target, target_id, status=body.status, assignee=body.assignee, note=body.note)
    except UnknownTargetError as error:
        raise HTTPException(404, str(error)) from None
    except TriageError as error:
        raise RequestValidationError([{"loc": ["body"], "msg": str(error), "type": "value_error"}]) from None
    return {k: queries.plain(v) for k, v in row.items()}


def _found(row: dict | None, what: str, key: str) -> dict:
    if row is None:
        raise HTTPException(404, f"no {what} with id {key!r}")
    return row


def _finished(engine) -> float | None:
    last = queries.last_run(engine)
    if not last or not last.get("finished_at"):
        return None
    from datetime import datetime

    return datetime.fromisoformat(last["finished_at"]).timestamp()


def _observe_requests(app: FastAPI, metrics: ServiceMetrics) -> None:
    app.add_middleware(ObserveRequests, metrics=metrics)


class ObserveRequests:
    """ASGI middleware counting each HTTP request and timing it, by method, route and status.

    Plain ASGI rather than Starlette's ``BaseHTTPMiddleware``, which runs the rest of the app
    in a task of its own and streams the response through: a fixed cost on every request.
    """

    def __init__(self, app, metrics: ServiceMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        begin, status = time.perf_counter(), [500]

        async def sent(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        await self.app(scope, receive, sent)
        route = getattr(scope.get("route"), "path", "unmatched")
        self.metrics.observe(scope["method"], route, status[0], time.perf_counter() - begin)


def _handle_errors(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        return JSONResponse(status_code=422, content={"detail": readable_errors(error.errors(), error.body)})

    @app.exception_handler(BadEventError)
    async def bad_event(request: Request, error: BadEventError):
        loc = ["body", "events", error.index, error.field]
        return JSONResponse(
            status_code=422,
            content={"detail": [{"loc": loc, "msg": error.reason, "type": "value_error"}]},
        )

    @app.exception_handler(NotReadyError)
    async def not_ready(request: Request, error: NotReadyError):
        return JSONResponse(status_code=503, content={"detail": str(error)})

    @app.exception_handler(OperationalError)
    async def database_down(request: Request, error: OperationalError):
        log.warning("findings database unreachable: %s", type(error.orig).__name__)
        return JSONResponse(status_code=503, content={"detail": "the findings database is unreachable"})
