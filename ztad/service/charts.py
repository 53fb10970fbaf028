"""Small inline SVG charts for the dashboard: bars, a day's timeline and a map of travel legs.

Plain SVG text, no JavaScript and no map tiles fetched from the internet: the pages work on an
isolated network and print as they look. Labels are escaped here; the templates insert the
result as markup.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

ALERT, NORMAL, FAILED, MUTED = "#c0392b", "#2c7fb8", "#e67e22", "#95a5a6"


def _svg(width: int, height: int, body: list[str], label: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" style="max-width:100%;height:auto" role="img" aria-label="{escape(label)}">'
        + "".join(body)
        + "</svg>"
    )


def bars(items: list[tuple[str, float]], label: str, color: str = NORMAL, width: int = 460) -> Markup:
    """Horizontal bars, one per ``(name, value)``, largest value full width."""
    if not items:
        return Markup(f"<p class=empty>No data for {escape(label)}.</p>")
    top = max(v for _, v in items) or 1.0
    row, left = 22, 170
    body = []
    for i, (name, value) in enumerate(items):
        y = i * row
        length = (width - left - 50) * value / top
        body.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{escape(str(name))}</text>')
        body.append(f'<rect x="{left}" y="{y + 4}" width="{length:.1f}" height="14" fill="{color}"/>')
        body.append(f'<text x="{left + length + 4:.1f}" y="{y + 15}">{value:g}</text>')
    return _svg(width, row * len(items) + 4, body, label)


def budget(rows: list[dict], label: str = "alerts against the budget", width: int = 640) -> Markup:
    """Per day: the alerts raised (bars) against the budget's expected alerts (a tick)."""
    if not rows:
        return Markup("<p class=empty>No scored days yet.</p>")
    height, bottom, left = 200, 170, 40
    top = max(max(r["alerts"], r["expected"]) for r in rows) or 1.0
    step = (width - left) / len(rows)
    body = [f'<line x1="{left}" y1="{bottom}" x2="{width}" y2="{bottom}" stroke="#555"/>']
    for i, r in enumerate(rows):
        x = left + i * step
        h = (bottom - 10) * r["alerts"] / top
        e = bottom - (bottom - 10) * r["expected"] / top
        over = r["alerts"] > r["expected"] * 1.25
        body.append(
            f'<rect x="{x + step * 0.2:.1f}" y="{bottom - h:.1f}" width="{step * 0.6:.1f}" '
            f'height="{h:.1f}" fill="{ALERT if over else NORMAL}"><title>{escape(r["day"])}: '
            f"{r['alerts']:g} alerts, {r['expected']:.1f} expected</title></rect>"
        )
        body.append(
            f'<line x1="{x + step * 0.1:.1f}" y1="{e:.1f}" x2="{x + step * 0.9:.1f}" y2="{e:.1f}" '
            'stroke="#000" stroke-width="2" stroke-dasharray="4 2"/>'
        )
        if len(rows) <= 16 or i % max(1, len(rows) // 8) == 0:
            body.append(
                f'<text x="{x + step / 2:.1f}" y="{bottom + 16}" text-anchor="middle">'
                f"{escape(r['day'][5:])}</text>"
            )
    body.append(f'<text x="4" y="14">{top:g}</text><text x="4" y="{bottom}">0</text>')
    return _svg(width, height, body, label)


def timeline(events: list[dict], label: str, width: int = 640) -> Markup:
    """A day from 00:00 to 24:00 UTC: one mark per event, alerts red, failed logins orange.

    Each event is ``{"hour", "alert", "success", "text"}``.
    """
    if not events:
        return Markup("<p class=empty>No events of this day are kept.</p>")
    left, right, mid = 20, width - 20, 40
    scale = (right - left) / 24
    body = [f'<line x1="{left}" y1="{mid}" x2="{right}" y2="{mid}" stroke="#555"/>']
    for hour in range(0, 25, 3):
        x = left + hour * scale
        body.append(f'<line x1="{x:.1f}" y1="{mid - 4}" x2="{x:.1f}" y2="{mid + 4}" stroke="#555"/>')
        body.append(f'<text x="{x:.1f}" y="{mid + 20}" text-anchor="middle">{hour:02d}:00</text>')
    for e in sorted(events, key=lambda e: e["alert"]):  # alerts drawn last, on top
        x = left + e["hour"] * scale
        color = ALERT if e["alert"] else (NORMAL if e["success"] else FAILED)
        radius = 7 if e["alert"] else 4
        body.append(
            f'<circle cx="{x:.1f}" cy="{mid}" r="{radius}" fill="{color}" fill-opacity="0.8">'
            f"<title>{escape(e['text'])}</title></circle>"
        )
    return _svg(width, 64, body, label)


def travel_map(points: list[dict], label: str, width: int = 640) -> Markup:
    """Places on a plain longitude/latitude grid, with the legs between successive ones.

    ``points`` are in time order, each ``{"lat", "lon", "place", "alert"}``; a leg into an
    alert is red. The view is fitted to the points (with a margin), so that a trip within one
    country is as readable as one across the world.
    """
    located = [p for p in points if p["lat"] == p["lat"] and p["lon"] == p["lon"]]  # not NaN
    if not located:
        return Markup("<p class=empty>No located events this day.</p>")
    lats, lons = [p["lat"] for p in located], [p["lon"] for p in located]
    span = max(max(lats) - min(lats), max(lons) - min(lons), 10.0) * 1.3
    clat, clon = (max(lats) + min(lats)) / 2, (max(lons) + min(lons)) / 2
    height = int(width / 2)
    unit = min(width, height * 2) / (span * 2)

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return width / 2 + (lon - clon) * unit, height / 2 - (lat - clat) * unit

    body = [f'<rect width="{width}" height="{height}" fill="#eef3f7"/>']
    for degrees in range(-180, 181, 15):
        x, _ = xy(0, degrees)
        _, y = xy(max(-90, min(90, degrees)), 0)
        body.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height}" stroke="#d0dbe5"/>')
        if -90 <= degrees <= 90:
            body.append(f'<line x1="0" y1="{y:.1f}" x2="{width}" y2="{y:.1f}" stroke="#d0dbe5"/>')
    for a, b in zip(located, located[1:]):
        if (a["lat"], a["lon"]) == (b["lat"], b["lon"]):
            continue
        (x1, y1), (x2, y2) = xy(a["lat"], a["lon"]), xy(b["lat"], b["lon"])
        color = ALERT if b["alert"] else MUTED
        body.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{color}" '
            'stroke-width="2" '
            f'marker-end="url(#arrow)"><title>{escape(a["place"])} to {escape(b["place"])}</title></line>'
        )
    seen = set()
    for p in located:
        x, y = xy(p["lat"], p["lon"])
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{ALERT if p["alert"] else NORMAL}"/>')
        if p["place"] not in seen:
            seen.add(p["place"])
            body.append(f'<text x="{x + 7:.1f}" y="{y - 6:.1f}">{escape(p["place"])}</text>')
    arrow = (
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>'
    )
    return _svg(width, height, [arrow, *body], label)
