"""Small problems for the specifications, built in code so each test shows every number it uses."""

from __future__ import annotations

from optimizer.instance import build_instance
from optimizer.plan import Plan, make_plan
from optimizer.problem import Agency, Area, Problem, Settings, Site
from optimizer.solve import price_today, solve


def agency(agency_id: str = "FK", **fields) -> Agency:
    defaults = dict(name=agency_id, staff_cost=100.0, visits_per_staff=1000.0, min_staff=0.0, visits_per_capita=1.0)
    return Agency(agency_id, **{**defaults, **fields})


def area(area_id: str, population: float, lat: float | None = None, lon: float | None = None, **fields) -> Area:
    return Area(area_id, area_id, population, lat, lon, **fields)


def site(site_id: str, status: str = "candidate", lat: float | None = None, lon: float | None = None, **fields) -> Site:
    return Site(site_id, site_id, status, lat, lon, **fields)


def problem(agencies, areas, sites, distances=None, demand=None, **settings) -> Problem:
    """A problem whose distances are listed (no coordinates needed), as the OR-Library tests use."""
    settings = {"staff_integer": False, "mip_gap": 0.0, **settings}
    return Problem(
        Settings(**settings), tuple(agencies), tuple(areas), tuple(sites), dict(demand or {}), dict(distances or {})
    )


def solved(p: Problem) -> Plan:
    inst = build_instance(p)
    return make_plan(inst, solve(inst), price_today(inst))
