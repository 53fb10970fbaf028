"""``ztad dashboard``: the analysts' pages, server-rendered on the API's app.

Pages under ``/ui``: the open incidents queue by severity (the ``open_incidents`` view), one
incident (findings, reasons, top features against the user's baseline, a timeline of the
user's day, a map of places and travel legs, the triage form), one user's history and risk,
the daily summary (findings by category and severity, alerts against the budget), model and
run health, and the upload of a CSV of events scored through ``/predict``'s code path.

Pages rather than a separate Streamlit server: one process and one port, the same bearer
tokens (kept in an HTTP-only cookie after signing in), the same queries and triage rules as
the API, and plain HTML that a browser test can read.
"""

from __future__ import annotations

import io
from datetime import date
from html import escape
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ztad.service import charts, queries
from ztad.service.auth import COOKIE, READ, TRIAGE

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
TEMPLATES.env.filters["quote"] = lambda value: quote(str(value), safe="")
#: Rows of an uploaded CSV scored at most.
MAX_UPLOAD_ROWS = 10_000


class SignIn(Exception):
    """The browser has no valid token: send it to the sign-in page."""


def add_dashboard(app: FastAPI) -> None:
    """Add the pages to ``app`` (built by :func:`ztad.service.api.create_app`)."""
    engine = app.state.store.engine

    @app.exception_handler(SignIn)
    async def sign_in(request: Request, _: SignIn):
        return RedirectResponse(f"/ui/login?next={quote(request.url.path)}", status_code=303)

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/ui", status_code=303)

    @app.get("/ui/login", include_in_schema=False, response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/ui", failed: bool = False):
        return TEMPLATES.TemplateResponse(request, "login.html", {"next": next, "failed": failed})

    @app.post("/ui/login", include_in_schema=False)
    def login(token: Annotated[str, Form()], next: Annotated[str, Form()] = "/ui") -> Response:
        if not app.state.settings.scopes_of(token):
            return RedirectResponse(f"/ui/login?failed=1&next={quote(next)}", status_code=303)
        target = next if next.startswith("/ui") else "/ui"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.get("/ui/logout", include_in_schema=False)
    def logout() -> Response:
        response = RedirectResponse("/ui/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.get("/ui", include_in_schema=False, response_class=HTMLResponse)
    def queue(request: Request, day: date | None = None):
        scopes = _scopes(request)
        where, params = ("day = :day", {"day": day}) if day else ("", {})
        rows = queries.view(
            engine, "open_incidents", where, "level_rank DESC, severity DESC, day DESC", 500, **params
        )
        counts = queries.view(engine, "open_incidents_by_severity", order="level_rank DESC")
        return _page(request, "queue.html", scopes, rows=rows, counts=counts, day=day)

    @app.get("/ui/incidents/{incident_id}", include_in_schema=False, response_class=HTMLResponse)
    def incident_page(request: Request, incident_id: str, saved: bool = False):
        scopes = _scopes(request)
        incident = queries.incident(engine, incident_id)
        if incident is None:
            return _page(request, "missing.html", scopes, what="incident", key=incident_id, status_code=404)
        day_events = _user_day(app, incident)
        return _page(
            request,
            "incident.html",
            scopes,
            incident=incident,
            saved=saved,
            statuses=_statuses(),
            timeline=charts.timeline(day_events["timeline"], "the user's day"),
            travel=charts.travel_map(day_events["places"], "places and travel legs"),
        )

    @app.post("/ui/incidents/{incident_id}/triage", include_in_schema=False)
    def triage_form(
        request: Request,
        incident_id: str,
        status: Annotated[str, Form()] = "",
        assignee: Annotated[str, Form()] = "",
        note: Annotated[str, Form()] = "",
    ) -> Response:
        from ztad.feedback.triage import TriageError, update

        if TRIAGE not in _scopes(request):
            return HTMLResponse("This token may read but not triage.", status_code=403)
        if "\x00" in status + assignee + note:  # the database cannot store it
            return HTMLResponse("Not saved: the text holds a NUL character.", status_code=422)
        try:
            update(
                app.state.store,
                "incident",
                incident_id,
                status=status or None,
                assignee=assignee if assignee.strip() else None,
                note=note or None,
            )
        except TriageError as error:
            return HTMLResponse(f"Not saved: {escape(str(error))}", status_code=422)
        return RedirectResponse(f"/ui/incidents/{quote(incident_id)}?saved=1", status_code=303)

    @app.get("/ui/users/{user_id}", include_in_schema=False, response_class=HTMLResponse)
    def user_page(request: Request, user_id: str):
        scopes = _scopes(request)
        findings = queries.view(engine, "user_findings", "user_id = :u", "event_time DESC", 200, u=user_id)
        risk = queries.view(engine, "user_risk", "user_id = :u", "day", 400, u=user_id)
        ranks = queries.view(engine, "top_risky_users", "user_id = :u", "window_days", u=user_id)
        chart = charts.bars(
            [(r["day"], round(r["risk_score"], 1)) for r in risk], "risk per day", charts.ALERT
        )
        return _page(
            request, "user.html", scopes, user_id=user_id, findings=findings, ranks=ranks, chart=chart
        )

    @app.get("/ui/summary", include_in_schema=False, response_class=HTMLResponse)
    def summary(request: Request, day: date | None = None):
        scopes = _scopes(request)
        days = [r["day"] for r in queries.view(engine, "daily_budget", order="day DESC", limit=400)]
        chosen = day.isoformat() if day else (days[0] if days else None)
        rows = []
        if chosen:
            on = date.fromisoformat(chosen)
            rows = queries.view(engine, "daily_summary", "day = :d", "level_rank DESC", 500, d=on)
        by_category, by_level = _totals(rows, "category"), _totals(rows, "severity_level")
        budget_rows = queries.view(engine, "daily_budget", order="day", limit=400)
        return _page(
            request,
            "summary.html",
            scopes,
            day=chosen,
            days=days,
            rows=rows,
            categories=charts.bars(by_category, "findings by category"),
            levels=charts.bars(by_level, "findings by severity", charts.ALERT),
            budget=charts.budget(
                [
                    {
                        "day": r["day"],
                        "alerts": r["rows_model_flagged"] or 0,
                        "expected": r["expected_alerts"] or 0.0,
                    }
                    for r in budget_rows
                ]
            ),
            budget_rows=budget_rows,
        )

    @app.get("/ui/health", include_in_schema=False, response_class=HTMLResponse)
    def health_page(request: Request):
        from ztad.service.state import NotReadyError

        scopes = _scopes(request)
        try:
            state = app.state.holder.current()
        except NotReadyError as error:
            state, problem = None, str(error)
        else:
            problem = None
        models = app.state.store.models()
        columns = [
            "model_version",
            "trained_at",
            "trained_from",
            "trained_to",
            "training_rows",
            "threshold",
            "target_fpr",
            "train_reason",
        ]
        models = [{k: queries.plain(v) for k, v in row.items()} for row in models[columns].to_dict("records")]
        return _page(
            request,
            "health.html",
            scopes,
            state=state,
            problem=problem,
            runs=queries.latest_runs(engine, 60),
            models=models,
        )

    @app.get("/ui/upload", include_in_schema=False, response_class=HTMLResponse)
    def upload_form(request: Request):
        return _page(request, "upload.html", _scopes(request), result=None, error=None)

    @app.post("/ui/upload", include_in_schema=False, response_class=HTMLResponse)
    def upload(request: Request, file: Annotated[UploadFile, File()]):
        from ztad.service.predict import BadEventError, score_request
        from ztad.service.state import NotReadyError

        scopes = _scopes(request)
        try:
            events, ignored = uploaded_events(file.file.read())
            result = score_request(app, events)
        except (ValueError, NotReadyError) as error:
            message = str(error)
            if isinstance(error, BadEventError):
                message = f"row {error.index + 1}: {error.field}: {error.reason}"
            return _page(request, "upload.html", scopes, result=None, error=message, status_code=422)
        return _page(
            request, "upload.html", scopes, result=result, error=None, ignored=ignored, name=file.filename
        )


def uploaded_events(content: bytes) -> tuple[list, list[str]]:
    """The events of an uploaded CSV (origin columns) and the columns that were ignored."""
    import pandas as pd
    from pydantic import ValidationError

    from ztad.service.predict import BadEventError, Event

    try:
        frame = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False, nrows=MAX_UPLOAD_ROWS + 1)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ValueError(f"not a readable CSV file: {error}") from None
    if len(frame) > MAX_UPLOAD_ROWS:
        raise ValueError(f"more than {MAX_UPLOAD_ROWS} rows: score a day this large with `ztad run`")
    if frame.empty:
        raise ValueError("the file holds no events")
    known = set(Event.model_fields)
    ignored = [c for c in frame.columns if c not in known]
    events = []
    for i, row in enumerate(frame[[c for c in frame.columns if c in known]].to_dict("records")):
        try:
            events.append(Event(**{k: v for k, v in row.items() if v.strip()}))
        except ValidationError as error:
            first = error.errors()[0]
            raise BadEventError(i, ".".join(str(p) for p in first["loc"]), first["msg"]) from None
    return events, ignored


def _scopes(request: Request) -> frozenset[str]:
    """The scopes of the browser's token; :class:`SignIn` without one."""
    from ztad.service.auth import bearer_token

    token = bearer_token(request.headers.get("authorization"), request.cookies.get(COOKIE))
    scopes = request.app.state.settings.scopes_of(token)
    if READ not in scopes:
        raise SignIn()
    return scopes


def _page(request: Request, template: str, scopes, status_code: int = 200, **context) -> HTMLResponse:
    context.setdefault("ignored", [])
    return TEMPLATES.TemplateResponse(
        request, template, {"can_triage": TRIAGE in scopes, **context}, status_code=status_code
    )


def _statuses() -> tuple[str, ...]:
    from ztad.store import TRIAGE_STATUSES

    return TRIAGE_STATUSES


def _totals(rows: list[dict], key: str) -> list[tuple[str, float]]:
    totals: dict[str, float] = {}
    for row in rows:
        totals[row[key]] = totals.get(row[key], 0) + row["findings"]
    return sorted(totals.items(), key=lambda item: -item[1])


def _user_day(app: FastAPI, incident: dict) -> dict:
    """The timeline and places of the incident's user on its day: every event of the user from
    the day's work files while they are kept, else the incident's findings alone."""
    import pandas as pd

    from ztad.pipeline.workfiles import day_dir, read_parquet

    findings = incident["findings"]
    alerts = {f["event_id"] for f in findings}
    user = incident.get("user_id") or (findings[0]["user_id"] if findings else None)
    path = day_dir(app.state.config, date.fromisoformat(incident["day"])) / "events.parquet"
    if user is not None and path.exists():
        events = read_parquet(path)
        events = events[events["user_id"] == user]
    elif findings:
        events = pd.DataFrame(findings).rename(columns={"event_time": "timestamp"})
        events["latitude"], events["longitude"] = float("nan"), float("nan")
    else:
        return {"timeline": [], "places": []}
    events = events.assign(timestamp=pd.to_datetime(events["timestamp"], utc=True))
    return _day_marks(events.sort_values("timestamp").reset_index(drop=True), alerts)


def _day_marks(events, alerts: set[str]) -> dict:
    """Timeline marks and map points of a user's events (a handful), in time order."""
    from ztad.behaviour.baselines import event_coordinates

    places = event_coordinates(events)
    timeline, points = [], []
    for i, event in enumerate(events.to_dict("records")):
        when, success = event["timestamp"], bool(event["login_success"])
        alert = str(event["event_id"]) in alerts
        place = event["location"] if isinstance(event["location"], str) else "unknown place"
        text = f"{when:%H:%M} {place} {'login' if success else 'failed login'}"
        timeline.append(
            {"hour": when.hour + when.minute / 60, "alert": alert, "success": success, "text": text}
        )
        lat, lon = float(places["lat"].iat[i]), float(places["lon"].iat[i])
        points.append({"lat": lat, "lon": lon, "place": place, "alert": alert})
    return {"timeline": timeline, "places": points}
