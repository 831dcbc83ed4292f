"""Small problems for the specifications, built in code so each test shows every number it uses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from optimizer.instance import build_instance
from optimizer.plan import Plan, make_plan
from optimizer.problem import Agency, Area, Problem, Settings, Site
from optimizer.solve import Start, price_today, solve


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


def served(inst, start: Start) -> dict[tuple[int, int], float]:
    """The share of each demand pair's visits the start serves."""
    total: dict[tuple[int, int], float] = {}
    for (i, _, a), share in start.x.items():
        total[i, a] = total.get((i, a), 0.0) + share
    return total


def assert_a_plan_within_desks(inst, start: Start) -> None:
    """Every visit served where the agency is present, staff for the visits and the minimum, desks kept."""
    p = inst.problem
    assert all(share == pytest.approx(1.0) for share in served(inst, start).values())
    need = np.zeros(start.n.shape)
    for (i, j, a), share in start.x.items():
        assert share <= 1e-9 or (start.y[j] and start.z[j, a])
        need[j, a] += share * inst.visits[i, a] / p.agencies[a].visits_per_staff
    minimum = np.array([a.min_staff for a in p.agencies]) * start.z
    assert np.all(start.n >= np.maximum(need, minimum) - 1e-7)
    desks = np.array([math.inf if s.desks is None else s.desks for s in p.sites])
    assert np.all(start.n.sum(axis=1) <= desks + 1e-7)
