"""From a solution to a plan a person reads: what happens to each site, who is served where, the figures.

Everything here is computed from the solution's arrays and the instance; the model is not
consulted again, so the same functions price today's network and any saved plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .distances import geodesic_km
from .instance import Instance, coordinates
from .solve import Solution

# Shares of people within these distances of an operating office are reported.
REPORTED_RADII_KM = (10.0, 25.0, 50.0)
# A share of demand below this is solver round-off, not an assignment.
_SERVED = 1e-6


@dataclass(frozen=True, eq=False)
class Plan:
    """A solved (or failed) plan with every table and figure of the plan workbook."""

    status: str
    message: str
    solution: Solution
    figures: dict[str, float]
    today: dict[str, float] | None
    today_message: str
    sites: pd.DataFrame
    assignments: pd.DataFrame
    areas: pd.DataFrame
    changes: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)


# --- costs ------------------------------------------------------------------------------


def cost_parts(inst: Instance, sol: Solution) -> dict[str, float]:
    """The objective's parts recomputed from the decisions (the model's expressions, in numpy)."""
    p = inst.problem
    sites, agencies = p.sites, p.agencies
    existing = np.array([s.is_existing for s in sites])
    annual_cost = np.array([s.annual_cost for s in sites])
    presence = np.array([a.presence_cost for a in agencies])
    staff_cost = np.array([a.staff_cost for a in agencies])
    setup = np.array([a.setup_cost for a in agencies])
    new_presence = sol.z & ~inst.present_today
    opening = np.array([s.open_cost for s in sites]) @ (sol.y & ~existing)
    closing = np.array([s.close_cost for s in sites]) @ (~sol.y & existing)
    parts = {
        "annual cost: sites": float(annual_cost @ sol.y),
        "annual cost: agency presence": float((sol.z * presence).sum()),
        "annual cost: staff": float((sol.n * staff_cost).sum()),
    }
    parts["annual cost"] = sum(parts.values())
    parts["one-off cost"] = float(opening + closing + (new_presence * setup).sum())
    served = inst.visits[inst.k_area, inst.k_agency] * sol.x
    parts["travel cost"] = float(p.settings.travel_cost_per_km * (served * inst.k_km).sum())
    parts["objective"] = (
        parts["annual cost"] + parts["one-off cost"] / p.settings.amortization_years + parts["travel cost"]
    )
    return parts


# --- who is served where ----------------------------------------------------------------


def service_by_area(inst: Instance, sol: Solution) -> pd.DataFrame:
    """One row per (area, agency) with visits: the share covered and the distance travelled.

    An area split between offices travels the visit-weighted mean distance; its maximum
    distance is that of its farthest office.
    """
    I, A = inst.n_areas, inst.n_agencies
    share = np.zeros((I, A))
    weighted_km = np.zeros((I, A))
    max_km = np.full((I, A), np.nan)
    used = sol.x > _SERVED
    np.add.at(share, (inst.k_area, inst.k_agency), sol.x)
    np.add.at(weighted_km, (inst.k_area, inst.k_agency), sol.x * inst.k_km)
    np.fmax.at(max_km, (inst.k_area[used], inst.k_agency[used]), inst.k_km[used])
    i, a = np.nonzero(inst.visits > 0)
    covered = np.minimum(share[i, a], 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_km = np.where(covered > _SERVED, weighted_km[i, a] / share[i, a], np.nan)
    areas, agencies = inst.problem.areas, inst.problem.agencies
    return pd.DataFrame(
        {
            "area_id": [areas[k].area_id for k in i],
            "area": [areas[k].name for k in i],
            "agency_id": [agencies[k].agency_id for k in a],
            "population": [areas[k].population for k in i],
            "visits": inst.visits[i, a],
            "covered_share": covered,
            "covered": covered >= 1 - _SERVED,
            "distance_km": mean_km,
            "max_distance_km": max_km[i, a],
        }
    )


def assignments_table(inst: Instance, sol: Solution) -> pd.DataFrame:
    """Every (area, agency, site) that carries demand, with its distance and visits."""
    k = np.nonzero(sol.x > _SERVED)[0]
    areas, sites, agencies = inst.problem.areas, inst.problem.sites, inst.problem.agencies
    return pd.DataFrame(
        {
            "area_id": [areas[i].area_id for i in inst.k_area[k]],
            "area": [areas[i].name for i in inst.k_area[k]],
            "agency_id": [agencies[a].agency_id for a in inst.k_agency[k]],
            "site_id": [sites[j].site_id for j in inst.k_site[k]],
            "site": [sites[j].name for j in inst.k_site[k]],
            "distance_km": inst.k_km[k],
            "share": sol.x[k],
            "visits": inst.visits[inst.k_area[k], inst.k_agency[k]] * sol.x[k],
        }
    )


# --- what happens to each site ----------------------------------------------------------


def _site_km(lat: np.ndarray, lon: np.ndarray, j: int, others: np.ndarray) -> np.ndarray:
    """Geodesic km from site j to the sites `others`; NaN where a position is missing."""
    if np.isnan(lat[j]) or np.isnan(lon[j]) or not len(others):
        return np.full(len(others), np.nan)
    return geodesic_km(lat[j], lon[j], lat[others], lon[others])


def site_actions(inst: Instance, sol: Solution) -> tuple[list[str], list[str | None]]:
    """keep | close | merge | open | unused for each site, and the site a merged one goes into.

    A closed existing site is merged when an operating site within the merge radius hosts
    every agency it had; the nearest such site is named.
    """
    sites = inst.problem.sites
    lat, lon = coordinates(sites)
    operating = np.nonzero(sol.y)[0]
    # The radius is in the model's km (circuity applied), like every other distance.
    radius = inst.problem.settings.merge_radius_km / inst.problem.settings.circuity_factor
    actions: list[str] = []
    merged_into: list[str | None] = []
    for j, site in enumerate(sites):
        target = None
        if sol.y[j]:
            action = "keep" if site.is_existing else "open"
        elif not site.is_existing:
            action = "unused"
        else:
            had = np.nonzero(inst.present_today[j])[0]
            hosts = operating[np.all(sol.z[np.ix_(operating, had)], axis=1)]
            km = _site_km(lat, lon, j, hosts)
            near = np.nonzero(km <= radius + 1e-9)[0]
            if near.size:
                target = sites[hosts[near[np.argmin(km[near])]]].site_id
            action = "close" if target is None else "merge"
        actions.append(action)
        merged_into.append(target)
    return actions, merged_into


def sites_table(inst: Instance, sol: Solution, actions: list[str], merged_into: list[str | None]) -> pd.DataFrame:
    """Every site with its action, agencies before and after, staff and visits per agency, cost."""
    p = inst.problem
    agency_ids = [a.agency_id for a in p.agencies]
    visits_at = np.zeros((inst.n_sites, inst.n_agencies))
    np.add.at(visits_at, (inst.k_site, inst.k_agency), inst.visits[inst.k_area, inst.k_agency] * sol.x)
    presence = np.array([a.presence_cost for a in p.agencies])
    staff_cost = np.array([a.staff_cost for a in p.agencies])
    annual = np.array([s.annual_cost for s in p.sites]) * sol.y + sol.z @ presence + sol.n @ staff_cost
    table = pd.DataFrame(
        {
            "site_id": [s.site_id for s in p.sites],
            "name": [s.name for s in p.sites],
            "status": [s.status for s in p.sites],
            "action": actions,
            "merged_into": merged_into,
            "agencies_now": [", ".join(s.agencies_now) for s in p.sites],
            "agencies_after": [", ".join(a for a, on in zip(agency_ids, row) if on) for row in sol.z],
            "staff": sol.n.sum(axis=1),
            "visits": visits_at.sum(axis=1),
            "annual_cost": annual,
        }
    )
    for a, agency_id in enumerate(agency_ids):
        table[f"staff {agency_id}"] = sol.n[:, a]
    for a, agency_id in enumerate(agency_ids):
        table[f"visits {agency_id}"] = visits_at[:, a]
    return table


def changes_table(sites: pd.DataFrame) -> pd.DataFrame:
    """Only what differs from today: sites opened, closed or merged, agencies added or removed."""
    rows = []
    for site in sites.itertuples(index=False):
        before = set(filter(None, site.agencies_now.split(", ")))
        after = set(filter(None, site.agencies_after.split(", ")))
        if site.action in ("close", "merge", "open"):
            detail = {"close": "closed", "merge": f"merged into {site.merged_into}", "open": "opened"}[site.action]
            if site.action == "open":
                detail += f" with {site.agencies_after or 'no agency'}"
            rows.append((site.site_id, site.name, site.action, detail))
        elif site.action == "keep":
            for agency_id in sorted(after - before):
                rows.append((site.site_id, site.name, "agency added", f"{agency_id} added"))
            for agency_id in sorted(before - after):
                rows.append((site.site_id, site.name, "agency removed", f"{agency_id} removed"))
    return pd.DataFrame(rows, columns=["site_id", "name", "change", "detail"])


# --- figures ----------------------------------------------------------------------------


def nearest_operating_km(inst: Instance, y: np.ndarray) -> np.ndarray:
    """Per area, the distance to the nearest operating site (inf beyond the distance table)."""
    best = np.full(inst.n_areas, np.inf)
    t = inst.table
    open_pair = y[t.site]
    np.minimum.at(best, t.area[open_pair], t.km[open_pair])
    return best


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    total = weights.sum()
    return float((values * weights).sum() / total) if total > 0 else float("nan")


def figures(inst: Instance, sol: Solution, service: pd.DataFrame, actions: list[str]) -> dict[str, float]:
    """The headline figures of a plan, in a fixed order, comparable between plans."""
    p = inst.problem
    out = cost_parts(inst, sol)
    for action in ("keep", "merge", "close", "open", "unused"):
        out[f"offices: {action}"] = actions.count(action)
    out["offices operating"] = int(sol.y.sum())
    for a, agency in enumerate(p.agencies):
        out[f"staff: {agency.agency_id}"] = float(sol.n[:, a].sum())
    out["staff"] = float(sol.n.sum())
    population = np.array([a.population for a in p.areas])
    out["visits: total"] = float(inst.visits.sum())
    out["visits: covered"] = float((service.visits * service.covered_share).sum())
    worst_share = service.groupby("area_id", sort=False).covered_share.min()
    uncovered = set(worst_share.index[worst_share < 1 - _SERVED])
    area_ids = [a.area_id for a in p.areas]
    out["population: total"] = float(population.sum())
    out["population: covered"] = float(sum(pop for pop, i in zip(population, area_ids) if i not in uncovered))
    for agency in p.agencies:
        rows = service[(service.agency_id == agency.agency_id) & (service.covered_share > _SERVED)]
        out[f"mean distance km: {agency.agency_id}"] = _weighted_mean(rows.distance_km.to_numpy(), rows.population.to_numpy())
        out[f"max distance km: {agency.agency_id}"] = float(rows.max_distance_km.max()) if len(rows) else float("nan")
    nearest = nearest_operating_km(inst, sol.y)
    for radius in REPORTED_RADII_KM:
        share = population[nearest <= radius].sum() / population.sum() if population.sum() else float("nan")
        out[f"population within {radius:g} km of an office (share)"] = float(share)
    return out


def no_plan(sol: Solution, today: dict[str, float] | None = None, today_message: str = "") -> Plan:
    """The plan of a solve that found none: its status and message, and today's figures if known."""
    empty = pd.DataFrame()
    return Plan(sol.status, sol.message, sol, {}, today, today_message, empty, empty, empty, empty)


def make_plan(inst: Instance, sol: Solution, today: Solution | None = None) -> Plan:
    """Tables and figures for the solution, and today's figures when today's network is priced."""
    today_figures, today_message = None, "Today's network was not priced."
    if today is not None:
        today_message = today.message
        if today.has_plan:
            today_service = service_by_area(inst, today)
            today_figures = figures(inst, today, today_service, site_actions(inst, today)[0])
    if not sol.has_plan:
        return no_plan(sol, today_figures, today_message)
    actions, merged_into = site_actions(inst, sol)
    service = service_by_area(inst, sol)
    sites = sites_table(inst, sol, actions, merged_into)
    return Plan(
        sol.status,
        sol.message,
        sol,
        figures(inst, sol, service, actions),
        today_figures,
        today_message,
        sites,
        assignments_table(inst, sol),
        service,
        changes_table(sites),
    )


def agencies_table(problem, plan: Plan) -> pd.DataFrame:
    """Per agency: offices it is present in before and after, staff, and distances travelled."""
    rows = []
    for agency in problem.agencies:
        a = agency.agency_id
        present = plan.sites.agencies_after.str.split(", ").map(lambda ids, a=a: a in ids)
        before = sum(a in site.agencies_now for site in problem.sites)
        rows.append({
            "agency_id": a,
            "agency": agency.name,
            "offices today": before,
            "offices in plan": int(present.sum()),
            "staff": float(plan.sites[f"staff {a}"].sum()),
            "staff cost (kr/year)": float(plan.sites[f"staff {a}"].sum() * agency.staff_cost),
            "mean distance (km)": plan.figures.get(f"mean distance km: {a}"),
            "max distance (km)": plan.figures.get(f"max distance km: {a}"),
        })
    return pd.DataFrame(rows)
