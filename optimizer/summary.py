"""A one-page summary of a plan for decision makers: a self-contained HTML document.

Inline CSS and inline SVG only (no script, font, image or link to fetch), laid out for one
A4 page: the status, the headline figures today and in the plan, what happens to the
offices, the map, the split of the yearly cost and the list of changes.

The labels, units and number formatting come from `optimizer.figures_format` and are
re-exported here (`HEADLINE`, `headline`, `format_value`, `format_change`) so that an app
shows the same words and numbers as the printed page.
"""

from __future__ import annotations

import datetime as _dt
import html
import math

from .figures_format import (
    ACTION_COUNTS,
    AGENCY_HEADLINE,
    HEADLINE,
    MISSING,
    Headline,
    format_change,
    format_number,
    format_value,
    headline,
)
from .maps import ACTION_COLOURS, svg_map
from .problem import Problem

__all__ = [
    "ACTION_COUNTS",
    "AGENCY_HEADLINE",
    "COST_SPLIT",
    "HEADLINE",
    "MISSING",
    "Headline",
    "cost_split",
    "format_change",
    "format_number",
    "format_value",
    "headline",
    "summary_html",
]

# The parts of the yearly cost the plan minimises: (figure key, label).  `cost_split`
# divides the one-off cost by `amortization_years`, as the objective does.
COST_SPLIT: tuple[tuple[str, str], ...] = (
    ("annual cost: sites", "Premises"),
    ("annual cost: agency presence", "Agency presence"),
    ("annual cost: staff", "Staff"),
    ("one-off cost", "One-off cost \u00f7 {years} years"),
    ("travel cost", "Travel"),
)
MAX_CHANGES = 15
MAP_SIZE = (218, 480)  # px: 58 mm wide at 96 px per inch, its natural size on the page

_STATUS_COLOURS = {"optimal": "#0072B2", "feasible": "#0072B2", "infeasible": "#D55E00", "error": "#D55E00"}

_CSS = """
@page { size: A4 portrait; margin: 12mm; }
* { box-sizing: border-box; }
html, body { margin: 0; padding: 0; }
body { font-family: Arial, Helvetica, sans-serif; font-size: 8pt; line-height: 1.25; color: #222; }
.page { width: 186mm; margin: 0 auto; }
header { border-bottom: 0.4mm solid #222; padding-bottom: 1.5mm; margin-bottom: 2mm; }
h1 { font-size: 15pt; margin: 0 0 0.8mm 0; }
h2 { font-size: 10pt; margin: 2mm 0 0.8mm 0; }
.meta { color: #555; }
.status { margin-top: 1mm; }
.pill { display: inline-block; color: #fff; border-radius: 1mm; padding: 0.2mm 1.5mm; font-weight: bold; }
.diagnosis { margin: 0.8mm 0 0 4mm; padding: 0; color: #444; }
.row { display: flex; gap: 5mm; align-items: flex-start; }
.left { flex: 1 1 auto; min-width: 0; }
.right { flex: 0 0 58mm; }
.map svg { max-width: 100%; height: auto; display: block; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: 0.4mm 1mm; border-bottom: 0.2mm solid #ddd; vertical-align: top; }
th { text-align: left; border-bottom: 0.3mm solid #888; font-weight: bold; }
td.n, th.n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.counts { display: flex; gap: 2mm; margin: 1.5mm 0 0 0; }
.count { flex: 1; border: 0.3mm solid #ccc; border-left-width: 1.5mm; padding: 0.8mm 1.5mm; }
.count b { font-size: 12pt; display: block; }
.costs svg { max-width: 100%; height: auto; display: block; }
table.figures td:first-child { white-space: nowrap; }
table.changes td:first-child { width: 38%; }
table.changes td:nth-child(2) { width: 17%; white-space: nowrap; }
.changes td { word-break: break-word; }
.more { color: #555; margin-top: 0.8mm; }
.muted { color: #777; }
footer { margin-top: 2mm; color: #777; font-size: 7pt; }
@media print { .page { width: auto; } }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _called(name: object, record_id: str) -> str:
    """"Name (id)", or the id alone when the name is the id."""
    name = "" if name is None else str(name)
    return record_id if not name or name == record_id else f"{name} ({record_id})"


def _number(value: object) -> float | None:
    if value is None:
        return None
    try:
        value = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def cost_split(problem: Problem, figures: dict[str, float] | None) -> list[tuple[str, float | None]]:
    """(label, kr/year) of each part of the yearly cost; the one-off cost divided by the amortization years."""
    figures = figures or {}
    years = problem.settings.amortization_years
    rows = []
    for key, label in COST_SPLIT:
        value = _number(figures.get(key))
        if key == "one-off cost" and value is not None:
            value /= years
        rows.append((label.format(years=f"{years:g}"), value))
    return rows


# --- parts of the page ------------------------------------------------------------------


def _status(plan) -> str:
    colour = _STATUS_COLOURS.get(plan.status, "#666666")
    parts = [
        f'<div class="status"><span class="pill" style="background:{colour}">{_e(plan.status)}</span> '
        f"{_e(plan.message)}</div>"
    ]
    diagnosis = [line for line in plan.solution.diagnosis if line != plan.message]
    if diagnosis:
        parts.append('<ul class="diagnosis">' + "".join(f"<li>{_e(line)}</li>" for line in diagnosis[:6]) + "</ul>")
    return "".join(parts)


def _cells(value: object, before: object, unit, with_today: bool) -> str:
    """The plan's value, or today's value, the plan's and the change."""
    if not with_today:
        return f'<td class="n">{_e(format_value(value, unit))}</td>'
    return (
        f'<td class="n">{_e(format_value(before, unit))}</td>'
        f'<td class="n">{_e(format_value(value, unit))}</td>'
        f'<td class="n">{_e(format_change(value, before, unit))}</td>'
    )


def _figures_table(problem: Problem, plan) -> str:
    """The headline figures that apply to every plan (`HEADLINE`)."""
    today = plan.today
    figures = plan.figures or {}
    known = set(figures) | set(today or {})
    columns = ("Today", "Plan", "Change") if today is not None else ("Plan",)
    head = "<tr><th>Figure</th>" + "".join(f'<th class="n">{c}</th>' for c in columns) + "</tr>"
    before = today or {}
    rows = [
        f"<tr><td>{_e(row.label)}</td>"
        f"{_cells(figures.get(row.key), before.get(row.key), row.unit, today is not None)}</tr>"
        for row in HEADLINE
        if row.key in known
    ]
    if not rows:
        return '<p class="muted">No figures: there is no plan and today\'s network was not priced.</p>'
    return f'<table class="figures">{head}{"".join(rows)}</table>'


def _distance_table(problem: Problem, plan) -> str:
    """Per agency, the mean and the largest distance (`AGENCY_HEADLINE`), side by side."""
    today = plan.today
    figures = plan.figures or {}
    known = set(figures) | set(today or {})
    span = 3 if today is not None else 1
    sub = ("Today", "Plan", "Change") if today is not None else ("Plan",)
    head = (
        '<tr><th rowspan="2">Agency</th>'
        + "".join(f'<th class="n" colspan="{span}">{_e(row.label.split(",")[0])}</th>' for row in AGENCY_HEADLINE)
        + "</tr><tr>"
        + "".join(f'<th class="n">{c}</th>' for _ in AGENCY_HEADLINE for c in sub)
        + "</tr>"
    )
    rows = []
    for agency in problem.agencies:
        keys = [row.key.format(id=agency.agency_id) for row in AGENCY_HEADLINE]
        if not any(key in known for key in keys):
            continue
        cells = "".join(
            _cells(figures.get(key), (today or {}).get(key), row.unit, today is not None)
            for key, row in zip(keys, AGENCY_HEADLINE)
        )
        rows.append(f"<tr><td>{_e(_called(agency.name, agency.agency_id))}</td>{cells}</tr>")
    if not rows:
        return ""
    return f'<h2>Distance to the office, per agency</h2><table class="figures distances">{head}{"".join(rows)}</table>'


def _counts(plan) -> str:
    figures = plan.figures or {}
    if not figures:
        return ""
    boxes = []
    for key, label in ACTION_COUNTS:
        action = key.removeprefix("offices: ")
        boxes.append(
            f'<div class="count" style="border-left-color:{ACTION_COLOURS[action]}">'
            f"<b>{_e(format_value(figures.get(key), 'count'))}</b>{_e(label)}</div>"
        )
    return f'<div class="counts">{"".join(boxes)}</div>'


def _cost_chart(problem: Problem, plan, width: int = 440) -> str:
    """Horizontal bars of the yearly cost split: the plan, and today's beside it when priced."""
    plan_rows = cost_split(problem, plan.figures)
    today_rows = cost_split(problem, plan.today) if plan.today is not None else None
    if not plan.figures and today_rows is None:
        return '<p class="muted">No costs: there is no plan.</p>'
    values = [v for _, v in plan_rows] + ([v for _, v in today_rows] if today_rows else [])
    top = max([v for v in values if v is not None and v > 0] or [1.0])
    label_w, value_w = 118, 112
    bar_w = width - label_w - value_w - 8
    bar_h = 8
    bars = 2 if today_rows else 1
    row_h = bars * (bar_h + 2) + 5
    legend_h = 14 if today_rows else 0
    height = legend_h + len(plan_rows) * row_h + 2
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Arial, Helvetica, sans-serif" font-size="9" role="img">'
        "<title>Yearly cost split</title>"
    ]
    plan_colour, today_colour = "#0072B2", "#a6bddb"
    if today_rows:
        out.append(
            f'<rect x="{label_w}" y="2" width="8" height="8" fill="{today_colour}"/>'
            f'<text x="{label_w + 11}" y="9.5">today</text>'
            f'<rect x="{label_w + 50}" y="2" width="8" height="8" fill="{plan_colour}"/>'
            f'<text x="{label_w + 61}" y="9.5">plan</text>'
        )
    for k, (label, value) in enumerate(plan_rows):
        y = legend_h + k * row_h + 2
        out.append(f'<text x="0" y="{y + bar_h + (bar_h + 2) / 2 * (bars - 1):.1f}">{_e(label)}</text>')
        series = ([(today_rows[k][1], today_colour)] if today_rows else []) + [(value, plan_colour)]
        for b, (v, colour) in enumerate(series):
            yb = y + b * (bar_h + 2)
            w = 0.0 if v is None else max(v, 0.0) / top * bar_w
            text = _e(format_value(v, "kr/year"))
            out.append(
                f'<rect x="{label_w}" y="{yb:.1f}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>'
                f'<text x="{width}" y="{yb + bar_h - 0.5:.1f}" text-anchor="end">{text}</text>'
            )
    out.append("</svg>")
    objective = format_value(plan.figures.get("objective"), "kr/year")
    totals = f"Total per year (the plan's objective): <b>{_e(objective)}</b>"
    if plan.today is not None:
        totals += f"; today {_e(format_value(plan.today.get('objective'), 'kr/year'))}"
    return f'<div class="costs">{"".join(out)}</div><div class="more">{totals}</div>'


def _changes(plan) -> str:
    changes = plan.changes
    if not plan.solution.has_plan:
        return '<p class="muted">No plan, so no changes.</p>'
    if not len(changes):
        return '<p class="muted">No changes: the plan keeps today\'s network.</p>'
    names = dict(zip(plan.sites.site_id, plan.sites.name)) if len(plan.sites) else {}
    targets = dict(zip(plan.sites.site_id, plan.sites.merged_into)) if len(plan.sites) else {}
    rows = []
    for change in changes.head(MAX_CHANGES).itertuples(index=False):
        detail = change.detail
        target = targets.get(change.site_id)
        if change.change == "merge" and isinstance(target, str):
            detail = f"merged into {_called(names.get(target, target), target)}"
        office = _called(change.name, change.site_id)
        rows.append(f"<tr><td>{_e(office)}</td><td>{_e(change.change)}</td><td>{_e(detail)}</td></tr>")
    more = len(changes) - MAX_CHANGES
    tail = f'<div class="more">and {more:,} more</div>' if more > 0 else ""
    return (
        '<table class="changes"><tr><th>Office</th><th>Change</th><th>Detail</th></tr>'
        + "".join(rows)
        + f"</table>{tail}"
    )


def summary_html(problem: Problem, plan, title: str, date: _dt.date | None = None) -> str:
    """The plan on one A4 page: a complete HTML document with inline CSS and SVG, nothing to fetch.

    `date` (default today) is printed under the title.  All user text is escaped.
    """
    date = date or _dt.date.today()
    source = problem.source
    meta = f"{date.isoformat()}"
    if source is not None:
        meta += f" \u00b7 input {source.file_name} (SHA-256 {source.sha256[:12]})"
    today_note = "" if plan.today is not None else f'<div class="meta">{_e(plan.today_message)}</div>'
    body = [
        '<div class="page">',
        "<header>",
        f"<h1>{_e(title)}</h1>",
        f'<div class="meta">{_e(meta)}</div>',
        _status(plan),
        today_note,
        "</header>",
        '<div class="row"><div class="left">',
        "<h2>Headline figures</h2>",
        _figures_table(problem, plan),
        _distance_table(problem, plan),
        "<h2>Offices</h2>" if plan.figures else "",
        _counts(plan),
        "<h2>Yearly cost</h2>",
        _cost_chart(problem, plan),
        "</div>",
        '<div class="right map">',
        "<h2>" + ("Map of the plan" if plan.solution.has_plan else "Today's offices") + "</h2>",
        svg_map(problem, plan, width=MAP_SIZE[0], height=MAP_SIZE[1]),
        "</div></div>",
        f"<h2>Changes{'' if not len(plan.changes) else f' ({len(plan.changes):,})'}</h2>",
        _changes(plan),
        "<footer>Figures per year unless marked; thousands separated by commas; "
        "distances in km as the model counts them (geodesic \u00d7 circuity factor, or as listed). "
        "Made by officeplan.</footer>",
        "</div>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
