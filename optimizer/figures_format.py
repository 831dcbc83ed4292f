"""Which figures a decision maker sees first, their labels and units, and how numbers are written.

One convention everywhere (summary page, map tooltips, the app's metrics): a comma between
thousands and a point before decimals, then the unit: "1,234,567 kr/year", "8.5 km",
"73.9%".  A missing figure (no plan, NaN) is written as an en dash.

`HEADLINE` lists the figures that apply to every plan; `headline(problem)` adds the mean and
the largest distance of each agency (their keys carry the agency id).  Each row says which
direction is better, so that an app can colour a change (`st.metric(..., delta_color=...)`).
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

from .problem import Problem

Unit = Literal["kr/year", "kr", "count", "staff", "share", "km"]
Better = Literal["lower", "higher"] | None

MISSING = "\u2013"  # en dash


class Headline(NamedTuple):
    key: str  # the key in `Plan.figures` / `Plan.today`
    label: str
    unit: Unit
    better: Better  # which way a change is an improvement; None when neither


HEADLINE: tuple[Headline, ...] = (
    Headline("annual cost", "Annual cost", "kr/year", "lower"),
    Headline("one-off cost", "One-off cost", "kr", "lower"),
    Headline("offices operating", "Offices operating", "count", None),
    Headline("staff", "Staff", "staff", None),
    Headline("population within 10 km of an office (share)", "Population within 10 km", "share", "higher"),
    Headline("population within 25 km of an office (share)", "Population within 25 km", "share", "higher"),
    Headline("population within 50 km of an office (share)", "Population within 50 km", "share", "higher"),
)

# Per agency; "{id}" is the agency id (as in the figure keys), "{name}" its name.
AGENCY_HEADLINE: tuple[Headline, ...] = (
    Headline("mean distance km: {id}", "Mean distance, {name}", "km", "lower"),
    Headline("max distance km: {id}", "Max distance, {name}", "km", "lower"),
)

# The counts of what happens to the offices, in the order they are shown.
ACTION_COUNTS: tuple[tuple[str, str], ...] = (
    ("offices: keep", "Kept"),
    ("offices: open", "Opened"),
    ("offices: merge", "Merged"),
    ("offices: close", "Closed"),
)


def headline(problem: Problem) -> list[Headline]:
    """`HEADLINE` followed by each agency's mean and largest distance, in the problem's agency order."""
    rows = list(HEADLINE)
    for agency in problem.agencies:
        for row in AGENCY_HEADLINE:
            rows.append(
                row._replace(
                    key=row.key.format(id=agency.agency_id),
                    label=row.label.format(id=agency.agency_id, name=agency.name or agency.agency_id),
                )
            )
    return rows


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True


def _staff(value: float) -> str:
    # Whole staff are written without decimals, part-time totals with one.
    if abs(value - round(value)) < 0.05:
        return f"{round(value):,}"
    return f"{value:,.1f}"


def format_number(value: float | None, unit: Unit, signed: bool = False) -> str:
    """The number alone, without its unit ("1,234,567", "73.9%", "8.5")."""
    if _missing(value):
        return MISSING
    value = float(value)  # type: ignore[arg-type]
    sign = "+" if signed and value > 0 else ""
    if unit == "share":
        text = f"{sign}{value * 100:.1f}"
    elif unit == "km":
        text = f"{sign}{value:,.1f}"
    elif unit == "staff":
        text = sign + _staff(value)
    else:
        text = f"{sign}{value:,.0f}"
    # A change that rounds to nothing carries no sign ("-0.0" -> "0.0").
    return text.lstrip("+-") if not text.strip("+-0.,") else text


def format_value(value: float | None, unit: Unit) -> str:
    """A figure as a person reads it: "1,234,567 kr/year", "520,000 kr", "121", "842.7", "73.9%", "8.5 km"."""
    text = format_number(value, unit)
    if text == MISSING:
        return text
    if unit == "share":
        return f"{text}%"
    if unit in ("kr/year", "kr", "km"):
        return f"{text} {unit}"
    return text


def format_change(value: float | None, before: float | None, unit: Unit) -> str:
    """The change from `before` to `value`, signed: "-102,575,852 kr/year", "+3", "-0.3 pp" for shares."""
    if _missing(value) or _missing(before):
        return MISSING
    delta = float(value) - float(before)  # type: ignore[arg-type]
    text = format_number(delta, unit, signed=True)
    if unit == "share":
        return f"{text} pp"
    if unit in ("kr/year", "kr", "km"):
        return f"{text} {unit}"
    return text


def format_short(value: float | None, unit: Unit) -> str:
    """A figure short enough for a dashboard tile: kronor in millions ("763.3 M kr/year")."""
    if unit in ("kr/year", "kr") and not _missing(value) and abs(float(value)) >= 1e6:  # type: ignore[arg-type]
        return f"{float(value) / 1e6:,.1f} M {unit}"  # type: ignore[arg-type]
    return format_value(value, unit)


def format_short_change(value: float | None, before: float | None, unit: Unit) -> str:
    """`format_change` in the units of `format_short`."""
    if unit in ("kr/year", "kr") and not (_missing(value) or _missing(before)):
        delta = float(value) - float(before)  # type: ignore[arg-type]
        if abs(delta) >= 1e5:
            return f"{delta / 1e6:+,.1f} M {unit}"
    return format_change(value, before, unit)
