"""Plans side by side: the headline figures in columns with their differences, and the sites
whose fate differs.  Pure functions of plans, shared by the app's compare view and its tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from .figures_format import Headline, format_change, format_value
from .plan import Plan


def figures_side_by_side(rows: Sequence[Headline], figures: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """One row per headline figure, one column per plan, then the change of each later plan
    against the first (the reference the planner picked first)."""
    names = list(figures)
    table: dict[str, list[str]] = {"figure": [row.label for row in rows]}
    for name in names:
        table[name] = [format_value(figures[name].get(row.key), row.unit) for row in rows]
    first = names[0] if names else None
    for name in names[1:]:
        table[f"{name} vs {first}"] = [
            format_change(figures[name].get(row.key), figures[first].get(row.key), row.unit) for row in rows
        ]
    return pd.DataFrame(table)


def sites_that_differ(plans: Mapping[str, Plan]) -> pd.DataFrame:
    """Sites whose action or agencies differ between the plans, one action column per plan.

    A site missing from a plan (other inputs) shows as blank there and counts as differing.
    """
    merged: pd.DataFrame | None = None
    for name, plan in plans.items():
        if plan.sites.empty:
            continue
        part = plan.sites[["site_id", "name", "action", "agencies_after"]].rename(
            columns={"action": name, "agencies_after": f"agencies: {name}"}
        )
        merged = part if merged is None else merged.merge(part, on=["site_id", "name"], how="outer")
    if merged is None:
        return pd.DataFrame(columns=["site_id", "name"])
    names = [name for name in plans if name in merged.columns]
    actions = merged[names].astype("string").fillna("")
    agencies = merged[[f"agencies: {name}" for name in names]].astype("string").fillna("")
    differs = (actions.nunique(axis=1) > 1) | (agencies.nunique(axis=1) > 1)
    return merged.loc[differs].reset_index(drop=True)
