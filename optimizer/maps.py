"""The plan on a map: point tables, an interactive pydeck map and a static inline SVG.

Nothing here fetches anything.  `plan_deck` draws its layers on a blank canvas unless the
caller asks for a base map (which would load tiles from Carto when the machine is online);
`svg_map` is a self-contained picture with no external reference.

Colours are defined once: `ACTION_COLOURS` for what happens to a site (Okabe-Ito, safe for
colour-blind readers) and `DISTANCE_BINS` for how far an area's people travel (a sequential
purple scale, not served in grey).  `legend()` gives both as hex for an app.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pandas as pd
import pydeck

from .figures_format import format_value
from .instance import coordinates
from .problem import Problem

# What happens to a site -> hex colour.  "today" marks today's offices when there is no plan.
ACTION_COLOURS: dict[str, str] = {
    "keep": "#0072B2",  # blue
    "open": "#009E73",  # bluish green
    "merge": "#E69F00",  # orange
    "close": "#D55E00",  # vermillion
    "today": "#666666",  # grey: today's office, no plan to show
}
ACTION_LABELS: dict[str, str] = {
    "keep": "kept",
    "open": "opened",
    "merge": "merged",
    "close": "closed",
    "today": "today's office (no plan)",
}
# Drawn last, so that a closed office is not hidden under the one that replaces it.
_ON_TOP = ("merge", "close")

# (upper limit km, label, hex) from near to far; an area not served is NOT_SERVED.
DISTANCE_BINS: tuple[tuple[float, str, str], ...] = (
    (10.0, "\u2264 10 km", "#cbc9e2"),
    (25.0, "\u2264 25 km", "#9e9ac8"),
    (50.0, "\u2264 50 km", "#6a51a3"),
    (math.inf, "> 50 km", "#3f007d"),
)
NOT_SERVED = ("not served", "#b0b0b0")

_SITE_ALPHA, _AREA_ALPHA = 230, 200
# The largest office circle has a radius of this share of the map's extent.
_RADIUS_SHARE = 1 / 50
_MIN_EXTENT_M = 20_000.0
# Radii relative to the largest: the smallest operating office, and a closed or merged one.
_MIN_OPERATING, _CLOSED = 0.25, 0.3
_KM_PER_DEGREE = 111.195  # mean Earth radius 6,371 km

SITE_COLUMNS = [
    "site_id", "name", "lat", "lon", "action", "staff", "agencies_now", "agencies_after",
    "merged_into", "annual_cost", "colour", "radius_m", "tooltip",
]  # fmt: skip
AREA_COLUMNS = ["area_id", "name", "lat", "lon", "population", "distance_km", "covered", "colour", "tooltip"]


def _rgba(hex_colour: str, alpha: int = 255) -> list[int]:
    h = hex_colour.lstrip("#")
    return [int(h[k : k + 2], 16) for k in (0, 2, 4)] + [alpha]


def legend() -> dict[str, dict[str, str]]:
    """{"actions": {action: hex}, "distance": {bin label: hex}} for an app's legend."""
    distance = {label: colour for _, label, colour in DISTANCE_BINS}
    distance[NOT_SERVED[0]] = NOT_SERVED[1]
    return {"actions": dict(ACTION_COLOURS), "distance": distance}


def distance_bin(km: float | None) -> tuple[str, str]:
    """(label, hex) of the distance bin of `km`; NaN or None is not served."""
    if km is None or math.isnan(km):
        return NOT_SERVED
    for limit, label, colour in DISTANCE_BINS:
        if km <= limit:
            return label, colour
    return NOT_SERVED  # pragma: no cover - the last bin is unbounded


def _has_plan(plan) -> bool:
    return plan.solution.has_plan and len(plan.sites) > 0


def _text(value: Any) -> str | None:
    """A cell as text, None for missing (NaN, None, empty)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value)
    return text or None


def _extent_m(lat: np.ndarray, lon: np.ndarray) -> float:
    """The larger side of the points' bounding box in metres (at least `_MIN_EXTENT_M`)."""
    ok = ~(np.isnan(lat) | np.isnan(lon))
    if not ok.any():
        return _MIN_EXTENT_M
    lat, lon = lat[ok], lon[ok]
    mid = math.radians((lat.max() + lat.min()) / 2)
    height = (lat.max() - lat.min()) * _KM_PER_DEGREE * 1000
    width = (lon.max() - lon.min()) * _KM_PER_DEGREE * 1000 * math.cos(mid)
    return max(height, width, _MIN_EXTENT_M)


def _drawn(areas: pd.DataFrame, sites: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Latitudes and longitudes of everything on the map (unused candidates are not)."""
    lat = np.concatenate([areas.lat.to_numpy(dtype=float), sites.lat.to_numpy(dtype=float)])
    lon = np.concatenate([areas.lon.to_numpy(dtype=float), sites.lon.to_numpy(dtype=float)])
    return lat, lon


def _called(name: str, record_id: str) -> str:
    """"Name (id)", or the id alone when the name is the id."""
    return record_id if not name or name == record_id else f"{name} ({record_id})"


def _site_tooltip(row: dict, names: dict[str, str]) -> str:
    lines = [_called(row["name"], row["site_id"]), ACTION_LABELS.get(row["action"], row["action"])]
    if row["action"] != "today":
        lines.append(f"staff: {format_value(row['staff'], 'staff')}")
    before = _text(row["agencies_now"]) or "none"
    if row["action"] == "today":
        lines.append(f"agencies: {before}")
    else:
        lines.append(f"agencies: {before} \u2192 {_text(row['agencies_after']) or 'none'}")
        lines.append(f"annual cost: {format_value(row['annual_cost'], 'kr/year')}")
    target = _text(row["merged_into"])
    if target:
        lines.append(f"merged into {_called(names.get(target, target), target)}")
    return "\n".join(lines)


def site_points(problem: Problem, plan) -> pd.DataFrame:
    """One row per site with coordinates that the plan keeps, opens, merges or closes.

    Candidates left unused are not shown.  Without a plan (infeasible, solver error) the rows
    are today's offices with action "today" and no staff or cost.  `colour` is [r, g, b, a]
    from `ACTION_COLOURS`; `radius_m` grows with the square root of the staff (area
    proportional to staff), the largest being 1/50 of the map's extent (the bounding box of
    the areas and offices shown); closed and merged offices get a small fixed radius.  Rows
    are in the problem's site order.
    """
    names = {s.site_id: s.name for s in problem.sites}
    if _has_plan(plan):
        table = plan.sites
        rows = [
            {
                "site_id": r["site_id"],
                "name": r["name"],
                "action": r["action"],
                "staff": float(r["staff"]),
                "agencies_now": r["agencies_now"],
                "agencies_after": r["agencies_after"],
                "merged_into": _text(r["merged_into"]),
                "annual_cost": float(r["annual_cost"]),
            }
            for r in table.to_dict("records")
        ]
    else:
        rows = [
            {
                "site_id": s.site_id,
                "name": s.name,
                "action": "today",
                "staff": math.nan,
                "agencies_now": ", ".join(s.agencies_now),
                "agencies_after": None,
                "merged_into": None,
                "annual_cost": math.nan,
            }
            for s in problem.sites
            if s.is_existing
        ]
    position = {s.site_id: (s.lat, s.lon) for s in problem.sites}
    kept = []
    for row in rows:
        lat, lon = position[row["site_id"]]
        if row["action"] == "unused" or lat is None or lon is None:
            continue
        row["lat"], row["lon"] = float(lat), float(lon)
        kept.append(row)
    frame = pd.DataFrame(kept, columns=[c for c in SITE_COLUMNS if c not in ("colour", "radius_m", "tooltip")])
    area_lat, area_lon = coordinates(problem.areas)
    largest = _RADIUS_SHARE * _extent_m(
        np.concatenate([area_lat, frame.lat.to_numpy(dtype=float)]),
        np.concatenate([area_lon, frame.lon.to_numpy(dtype=float)]),
    )
    staff = np.nan_to_num(frame.staff.to_numpy(dtype=float))
    top = staff.max() if staff.size and staff.max() > 0 else 1.0
    relative = np.sqrt(np.clip(staff / top, 0, 1))
    operating = frame.action.isin(["keep", "open"]).to_numpy()
    frame["radius_m"] = largest * np.where(operating, np.maximum(relative, _MIN_OPERATING), _CLOSED)
    frame["colour"] = [_rgba(ACTION_COLOURS[a], _SITE_ALPHA) for a in frame.action]
    frame["tooltip"] = [_site_tooltip(r, names) for r in frame.to_dict("records")]
    return frame[SITE_COLUMNS].reset_index(drop=True)


def _area_tooltip(row: dict) -> str:
    lines = [_called(row["name"], row["area_id"]), f"population: {format_value(row['population'], 'count')}"]
    km = row["distance_km"]
    if km is None or math.isnan(km):
        lines.append("not served")
    else:
        lines.append(f"distance to office: {format_value(km, 'km')}")
        if not row["covered"]:
            lines.append("not every agency served")
    return "\n".join(lines)


def area_points(problem: Problem, plan) -> pd.DataFrame:
    """One row per area with coordinates and the distance its people travel to their office.

    `distance_km` is the largest of its agencies' distances (`plan.areas.distance_km`, the
    visit-weighted distance of each agency), NaN where no agency serves it (or there is no
    plan); `covered` is whether every agency it needs serves all of its visits.
    """
    distance: dict[str, float] = {}
    covered: dict[str, bool] = {}
    service = plan.areas
    if len(service):
        distance = service.groupby("area_id", sort=False).distance_km.max().to_dict()
        covered = service.groupby("area_id", sort=False).covered.all().to_dict()
    rows = []
    for a in problem.areas:
        if a.lat is None or a.lon is None:
            continue
        km = float(distance.get(a.area_id, math.nan))
        label, colour = distance_bin(km)
        rows.append(
            {
                "area_id": a.area_id,
                "name": a.name,
                "lat": float(a.lat),
                "lon": float(a.lon),
                "population": float(a.population),
                "distance_km": km,
                "covered": bool(covered.get(a.area_id, False)),
                "colour": _rgba(colour, _AREA_ALPHA),
            }
        )
    frame = pd.DataFrame(rows, columns=[c for c in AREA_COLUMNS if c != "tooltip"])
    frame["tooltip"] = [_area_tooltip(r) for r in frame.to_dict("records")]
    return frame[AREA_COLUMNS]


def _drawing_order(sites: pd.DataFrame) -> pd.DataFrame:
    """Large operating offices first, small ones over them, closed and merged ones on top."""
    on_top = sites.action.isin(_ON_TOP)
    return pd.concat(
        [sites[~on_top].sort_values("radius_m", ascending=False, kind="stable"), sites[on_top]]
    )


# --- pydeck ---------------------------------------------------------------------------


def _records(frame: pd.DataFrame) -> list[dict]:
    """JSON-safe rows: NaN becomes null (JSON has no NaN), numpy scalars plain Python."""
    out = []
    for row in frame.to_dict("records"):
        clean = {}
        for key, value in row.items():
            if hasattr(value, "item"):
                value = value.item()
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            clean[key] = value
        out.append(clean)
    return out


def _mercator_y(lat: float) -> float:
    lat = max(min(lat, 85.0), -85.0)
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def fitted_view(lat: np.ndarray, lon: np.ndarray, width_px: int = 700, height_px: int = 500) -> pydeck.ViewState:
    """A view that shows every point in a `width_px` x `height_px` Web Mercator map, with a margin."""
    ok = ~(np.isnan(lat) | np.isnan(lon))
    if not ok.any():
        return pydeck.ViewState(latitude=0.0, longitude=0.0, zoom=1)
    lat, lon = lat[ok], lon[ok]
    y0, y1 = _mercator_y(float(lat.min())), _mercator_y(float(lat.max()))
    dlon, dy = float(lon.max() - lon.min()), y1 - y0
    # deck.gl's world is 512 px wide at zoom 0.
    zooms = [12.0]
    if dlon > 0:
        zooms.append(math.log2(0.85 * width_px * 360 / (512 * dlon)))
    if dy > 0:
        zooms.append(math.log2(0.85 * height_px * 2 * math.pi / (512 * dy)))
    centre_lat = math.degrees(math.atan(math.sinh((y0 + y1) / 2)))
    centre_lon = float(lon.min() + lon.max()) / 2
    return pydeck.ViewState(latitude=centre_lat, longitude=centre_lon, zoom=round(max(min(zooms), 1.0), 2))


def plan_deck(problem: Problem, plan, basemap: bool = False, height: int = 500) -> pydeck.Deck:
    """An interactive map: areas as small dots shaded by distance, offices coloured by action.

    Layers have ids "areas" and "sites"; both are pickable and show their `tooltip` text.
    Without `basemap` there is no map provider at all and nothing is fetched: deck.gl draws
    the points on a blank canvas.  With it, Carto's light style is used (tiles load only when
    online; the points are drawn either way).  In Streamlit,
    `st.pydeck_chart(deck, on_select="rerun", selection_mode="single-object")` returns the
    picked row under `selection["objects"]["sites"]` (read its "site_id"; indices follow
    the layer's drawing order, not `site_points`' order).
    """
    sites = _drawing_order(site_points(problem, plan))
    areas = area_points(problem, plan)
    area_layer = pydeck.Layer(
        "ScatterplotLayer",
        data=_records(areas),
        id="areas",
        get_position=["lon", "lat"],
        get_fill_color="colour",
        get_radius=2,
        radius_units=pydeck.types.String("pixels"),
        pickable=True,
    )
    site_layer = pydeck.Layer(
        "ScatterplotLayer",
        data=_records(sites),
        id="sites",
        get_position=["lon", "lat"],
        get_fill_color="colour",
        get_radius="radius_m",
        radius_units=pydeck.types.String("meters"),
        radius_min_pixels=4,
        radius_max_pixels=40,
        stroked=True,
        get_line_color=[255, 255, 255, 255],
        line_width_min_pixels=1,
        pickable=True,
        auto_highlight=True,
    )
    lat, lon = _drawn(areas, sites)
    return pydeck.Deck(
        layers=[area_layer, site_layer],
        initial_view_state=fitted_view(lat, lon, height_px=height),
        map_style="light" if basemap else None,
        map_provider="carto" if basemap else None,
        tooltip={"text": "{tooltip}"},
        height=height,
    )


# --- SVG ------------------------------------------------------------------------------

_ROW = 13  # legend line height, px
_LEGEND_W = 118  # a legend column, px
_MIN_R, _MAX_R = 2.5, 16.0


def _nice_length(limit: float) -> float:
    """The largest of 1, 2, 5 x 10^n not above `limit` (a scale bar's length in km)."""
    if limit <= 0:
        return 0.0
    power = 10 ** math.floor(math.log10(limit))
    for step in (5, 2, 1):
        if step * power <= limit:
            return step * power
    return power  # pragma: no cover


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _num(value: float) -> str:
    return f"{value:.1f}"


def _legend_offices(x: float, y: float, has_plan: bool) -> tuple[list[str], float]:
    """The action legend at (x, y) (top left); returns its parts and height."""
    actions = ("keep", "open", "merge", "close") if has_plan else ("today",)
    out = [f'<text x="{_num(x)}" y="{_num(y + 10)}" font-weight="bold">Offices</text>']
    for k, action in enumerate(actions):
        base = y + 10 + (k + 1) * _ROW
        label = ACTION_LABELS[action] if action != "today" else "today (no plan)"
        out.append(
            f'<circle cx="{_num(x + 5)}" cy="{_num(base - 3.5)}" r="4.5" fill="{ACTION_COLOURS[action]}"/>'
            f'<text x="{_num(x + 14)}" y="{_num(base)}">{_e(label)}</text>'
        )
    rows = len(actions)
    if has_plan:
        rows += 1
        out.append(
            f'<text x="{_num(x)}" y="{_num(y + 10 + rows * _ROW)}" fill="#666666">circle area \u221d staff</text>'
        )
    return out, 10 + rows * _ROW + 6


def _legend_distance(x: float, y: float, has_plan: bool = True) -> tuple[list[str], float]:
    """Distance bins of the areas; without a plan, areas are plain grey dots."""
    if not has_plan:
        return [
            f'<text x="{_num(x)}" y="{_num(y + 10)}" font-weight="bold">Areas</text>'
            f'<circle cx="{_num(x + 5)}" cy="{_num(y + 10 + _ROW - 3.5)}" r="3" fill="{NOT_SERVED[1]}"/>'
            f'<text x="{_num(x + 14)}" y="{_num(y + 10 + _ROW)}">where people live</text>'
        ], 10 + _ROW + 6
    out = [f'<text x="{_num(x)}" y="{_num(y + 10)}" font-weight="bold">Distance to office</text>']
    bins = [(label, colour) for _, label, colour in DISTANCE_BINS] + [NOT_SERVED]
    for k, (label, colour) in enumerate(bins):
        base = y + 10 + (k + 1) * _ROW
        out.append(
            f'<circle cx="{_num(x + 5)}" cy="{_num(base - 3.5)}" r="3" fill="{colour}"/>'
            f'<text x="{_num(x + 14)}" y="{_num(base)}">{_e(label)}</text>'
        )
    return out, 10 + len(bins) * _ROW + 6


def _legend_scale(x: float, y: float, km_per_px: float | None, room: float) -> tuple[list[str], float]:
    """A scale bar of a round length that fits in `room` px; nothing without a projection."""
    km = _nice_length(km_per_px * room) if km_per_px else 0.0
    if km <= 0:
        return [], 0.0
    bar = km / km_per_px
    return [
        f'<rect x="{_num(x)}" y="{_num(y + 2)}" width="{_num(bar)}" height="3" fill="#333333"/>'
        f'<text x="{_num(x)}" y="{_num(y + 15)}">0</text>'
        f'<text x="{_num(x + bar)}" y="{_num(y + 15)}" text-anchor="end">{km:g} km</text>'
    ], 20.0


def _legend_size(has_plan: bool) -> tuple[float, float, float]:
    """Heights of the office block, the distance block and the scale bar."""
    return (10 + (5 if has_plan else 1) * _ROW + 6, 10 + 5 * _ROW + 6, 20.0)


def svg_map(problem: Problem, plan, width: int = 420, height: int = 560) -> str:
    """The plan as a self-contained inline SVG: areas by distance, offices by action and staff.

    Equirectangular projection with x scaled by cos(mid-latitude), fitted into `width` x
    `height` px together with a legend (actions, distance bins) and a scale bar in km; the
    legend goes below the map or, for a tall country in a wide box, beside it, whichever
    leaves the map larger.  Each circle has a <title> tooltip; closed and merged offices are
    drawn on top.  All text is escaped.  Without a plan, today's offices are shown.
    """
    sites = _drawing_order(site_points(problem, plan))
    areas = area_points(problem, plan)
    has_plan = _has_plan(plan)
    lat, lon = _drawn(areas, sites)
    ok = ~(np.isnan(lat) | np.isnan(lon))
    pad = _MAX_R + 4
    offices_h, distance_h, scale_h = _legend_size(has_plan)
    below_h = max(offices_h + scale_h, distance_h) + 4  # two columns under the map
    beside_w = _LEGEND_W + 6  # one column right of the map

    if ok.any():
        lat_min, lat_max = float(lat[ok].min()), float(lat[ok].max())
        lon_min, lon_max = float(lon[ok].min()), float(lon[ok].max())
        cos_mid = max(math.cos(math.radians((lat_min + lat_max) / 2)), 0.05)
        span_x, span_y = (lon_max - lon_min) * cos_mid, lat_max - lat_min
    else:
        lat_min = lat_max = lon_min = lon_max = 0.0
        cos_mid, span_x, span_y = 1.0, 0.0, 0.0

    def fit(box_w: float, box_h: float) -> float:
        inner_w, inner_h = max(box_w - 2 * pad, 1.0), max(box_h - 2 * pad, 1.0)
        scale = min(inner_w / span_x if span_x > 0 else math.inf, inner_h / span_y if span_y > 0 else math.inf)
        if not math.isfinite(scale):  # one point, or every point in one place
            scale = min(inner_w, inner_h) / (_MIN_EXTENT_M / 1000 / _KM_PER_DEGREE)
        return scale

    stacked_h = offices_h + distance_h + scale_h
    beside = (
        width - beside_w >= 80
        and height >= stacked_h
        and fit(width - beside_w, height) > fit(width, height - below_h)
    )
    map_w, map_h = (width - beside_w, height) if beside else (width, max(height - below_h, 40))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Arial, Helvetica, sans-serif" font-size="9" role="img">',
        f"<title>{_e('Map of the plan' if has_plan else 'Map of today' + chr(39) + 's offices (no plan)')}</title>",
        f'<rect x="0.5" y="0.5" width="{map_w - 1}" height="{map_h - 1}" fill="#ffffff" stroke="#dddddd"/>',
    ]
    km_per_px: float | None = None
    if ok.any():
        scale = fit(map_w, map_h)
        km_per_px = _KM_PER_DEGREE / scale
        off_x = (map_w - span_x * scale) / 2  # centred in the map box
        off_y = (map_h - span_y * scale) / 2

        def xy(la: float, lo: float) -> tuple[str, str]:
            return _num(off_x + (lo - lon_min) * cos_mid * scale), _num(off_y + (lat_max - la) * scale)

        parts.append('<g class="areas" stroke="none">')
        for r in areas.itertuples(index=False):
            x, y = xy(r.lat, r.lon)
            parts.append(
                f'<circle cx="{x}" cy="{y}" r="1.8" fill="{distance_bin(r.distance_km)[1]}">'
                f"<title>{_e(r.tooltip)}</title></circle>"
            )
        parts.append("</g>")
        parts.append('<g class="sites" stroke="#ffffff" stroke-width="0.7">')
        for r in sites.itertuples(index=False):
            x, y = xy(r.lat, r.lon)
            radius = min(max(r.radius_m / 1000 / km_per_px, _MIN_R), _MAX_R)
            parts.append(
                f'<circle cx="{x}" cy="{y}" r="{_num(radius)}" fill="{ACTION_COLOURS[r.action]}" '
                f'fill-opacity="0.9" data-site="{_e(r.site_id)}"><title>{_e(r.tooltip)}</title></circle>'
            )
        parts.append("</g>")
    else:
        parts.append(
            f'<text x="{map_w / 2:.0f}" y="{map_h / 2:.0f}" text-anchor="middle" fill="#666666">'
            "No positions to draw</text>"
        )

    parts.append('<g class="legend" fill="#333333">')
    if beside:
        x, y = map_w + 6, 2.0
        for block in (
            _legend_offices(x, y, has_plan),
            _legend_distance(x, y + offices_h, has_plan),
            _legend_scale(x, y + offices_h + distance_h, km_per_px, _LEGEND_W - 20),
        ):
            parts += block[0]
    else:
        y = map_h + 2
        column = max(width / 2, _LEGEND_W)
        parts += _legend_offices(4, y, has_plan)[0]
        parts += _legend_scale(4, y + offices_h, km_per_px, column - 24)[0]
        parts += _legend_distance(column, y, has_plan)[0]
    parts.append("</g></svg>")
    return "".join(parts)
