"""Moving offices one site at a time: every move is priced exactly, so where the search stops no
move it tries pays (checked against every such move priced from scratch), it never raises the
cost, and it never breaks a rule further than the plan it started from."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from models.nearest_office import desk_counts, staff_serving
from optimizer.instance import build_instance
from optimizer.office_moves import entries, improved, moved
from optimizer.plan import cost_parts
from optimizer.rules import keeps_budgets, keeps_rules
from optimizer.solve import Solution
from tests.test_general_bound import general_problem
from tests.tiny import agency, area, problem, site

SEEDS = range(30)
_TOL = 1e-7


def moving_problem(seed: int):
    """`general_problem` with sites placed on a map (for the moves to neighbouring sites; the
    distances stay as listed), staff that cost as much as a site's rent, whole staff on odd
    seeds, and a few sites with desks that bind."""
    rng = np.random.default_rng(2000 + seed)
    p = general_problem(seed)
    sites = tuple(replace(s, lat=60.0 + rng.uniform(0, 0.5), lon=15.0 + rng.uniform(0, 0.5),
                          desks=float(rng.integers(2, 8)) if rng.random() < 0.3 else s.desks) for s in p.sites)
    agencies = tuple(replace(a, staff_cost=float(rng.integers(0, 400))) for a in p.agencies)
    return replace(p, sites=sites, agencies=agencies).with_settings(staff_integer=bool(seed % 2))


def nearest(inst, z: np.ndarray) -> Solution | None:
    """The plan with offices z, each pair at its nearest one (the first site among equals), each
    office staffed to the minimum; None where some pair has none.  Priced from scratch."""
    forced = np.array([s.force == "open" for s in inst.problem.sites])
    pair = inst.k_agency.astype(np.int64) * inst.n_areas + inst.k_area
    order = np.lexsort((inst.k_site, inst.k_km, pair))
    open_ = z[inst.k_site[order], inst.k_agency[order]]
    x = np.zeros(len(pair))
    for p in np.unique(pair):
        run = order[(pair[order] == p) & open_]
        if len(run) == 0:
            return None
        x[run[0]] = 1.0
    minimum = np.array([a.min_staff for a in inst.problem.agencies])
    n = np.where(z, np.maximum(staff_serving(inst, x), minimum), 0.0)
    n = np.ceil(n - 1e-9) if inst.problem.settings.staff_integer else n
    return Solution("feasible", "", y=z.any(axis=1) | forced, z=z, n=n, x=x)


def rows(inst, plan: Solution) -> np.ndarray:
    """The annual, one-off and agencies' costs, which the budgets limit."""
    parts = cost_parts(inst, plan)
    agencies = inst.problem.agencies
    per_agency = (plan.z * [a.presence_cost for a in agencies] + plan.n * [a.staff_cost for a in agencies]).sum(axis=0)
    return np.r_[parts["annual cost"], parts["one-off cost"], per_agency]


def limits(inst) -> np.ndarray:
    s = inst.problem.settings
    budgets = [s.budget_annual, s.budget_one_off, *(a.budget for a in inst.problem.agencies)]
    return np.array([np.inf if b is None else b for b in budgets])


def no_further(new: np.ndarray, old: np.ndarray, limit: np.ndarray) -> bool:
    """Each kept, or broken no further than before."""
    kept = new <= limit + 1e-9 * np.maximum(1, abs(limit))
    return bool(np.all(kept | (new <= old + 1e-9 * np.maximum(1, abs(old)))))


def allowed(inst, move: Solution, plan: Solution) -> bool:
    """The move keeps every rule the plan kept and breaks none further: budgets, desks, office counts."""
    settings = inst.problem.settings
    desks = desk_counts(inst)
    opened = int(move.y.sum()) - int(plan.y.sum())
    counted = not ((opened < 0 and move.y.sum() < (settings.min_offices or 0))
                   or (opened > 0 and settings.max_offices is not None and move.y.sum() > settings.max_offices))
    return counted and no_further(rows(inst, move), rows(inst, plan), limits(inst)) and no_further(
        move.n.sum(axis=1), plan.n.sum(axis=1), desks)


def tried(inst, z: np.ndarray, neighbours: np.ndarray):
    """Every move the search tries from offices z, as the offices after it."""
    free = [j for j, s in enumerate(inst.problem.sites) if s.force is None]
    for j, s in enumerate(inst.problem.sites):
        if s.force == "closed":
            continue
        present = np.flatnonzero(z[j])
        if present.size and s.force != "open":
            yield _toggled(z, [(j, a) for a in present])
            for k in neighbours[j]:
                if k in free and not z[k].any():
                    yield _toggled(z, [(j, a) for a in present] + [(k, a) for a in present])
        for a in range(inst.n_agencies):
            if not z[j, a] or present.size > 1 or s.force == "open":
                yield _toggled(z, [(j, a)])
        for a in present:
            for k in neighbours[j]:
                if k >= 0 and inst.problem.sites[k].force != "closed" and not z[k, a] and (
                        z[k].any() or inst.problem.sites[k].force == "open" or present.size > 1 or s.force == "open"):
                    yield _toggled(z, [(j, a), (k, a)])


def _toggled(z: np.ndarray, offices) -> np.ndarray:
    changed = z.copy()
    for j, a in offices:
        changed[j, a] = not changed[j, a]
    return changed


@pytest.mark.parametrize("seed", SEEDS)
def test_where_the_search_stops_no_move_it_tries_pays(seed):
    inst = build_instance(moving_problem(seed))
    everywhere = np.array([[s.force != "closed"] * inst.n_agencies for s in inst.problem.sites])
    start = nearest(inst, everywhere)
    e = entries(inst)
    result = moved(inst, e, Solution("feasible", "", y=everywhere.any(axis=1), z=everywhere), lambda: False)
    if start is None:
        assert result is None  # some pair has no site within reach
        return
    again = nearest(inst, result.z)
    assert np.array_equal(result.x, again.x) and np.allclose(result.n, again.n)
    cost = cost_parts(inst, result)["objective"]
    if keeps_budgets(inst, start):  # else the moves first bring it within them, at a cost
        assert cost <= cost_parts(inst, start)["objective"] + _TOL
    assert no_further(rows(inst, result), rows(inst, start), limits(inst))
    assert no_further(result.n.sum(axis=1), start.n.sum(axis=1), desk_counts(inst))
    for z in tried(inst, result.z, e.neighbours):
        move = nearest(inst, z)
        if move is not None and allowed(inst, move, result):
            assert cost_parts(inst, move)["objective"] >= cost - 1e-9 * abs(cost) - _TOL


def test_an_office_moves_to_the_next_site_where_neither_opening_nor_closing_alone_pays():
    """One office at j, 10 km from the town it serves, and a free site k in the town.  Opening k
    costs its rent (1,000) and saves the same in travel (10 visits x 10 km x 10); j cannot close
    while it is the only office; moving the office from j to k saves j's rent."""
    p = problem(
        [agency("FK", staff_cost=0.0)],
        [area("town", 10.0)],
        [site("j", "existing", 60.0, 15.0, annual_cost=1000.0, agencies_now=("FK",)),
         site("k", "candidate", 60.0, 15.1, annual_cost=1000.0)],
        {("town", "j"): 10.0, ("town", "k"): 0.0},
        travel_cost_per_km=10.0,
    )
    inst = build_instance(p)
    at_j = Solution("feasible", "", y=np.array([True, False]), z=np.array([[True], [False]]))
    plan = improved(inst, entries(inst), at_j, lambda: False)
    assert plan.y.tolist() == [False, True]
    assert cost_parts(inst, plan)["objective"] == pytest.approx(1000.0)
    assert keeps_rules(inst, plan)


def two_towns_from_one_office(**settings):
    """Two towns 40 km apart of 50 visits each, an office at j in one of them, a free site k in the
    other: the instance and the plan the search makes from the office at j."""
    p = problem(
        [agency("FK", staff_cost=100.0, min_staff=2.0, visits_per_staff=1000.0)],
        [area("near", 50.0), area("far", 50.0)],
        [site("j", "existing", 60.0, 15.0, annual_cost=500.0, agencies_now=("FK",)),
         site("k", "candidate", 60.0, 15.7, annual_cost=500.0)],
        {("near", "j"): 0.0, ("far", "j"): 40.0, ("near", "k"): 40.0, ("far", "k"): 0.0},
        travel_cost_per_km=1.0, **settings,
    )
    inst = build_instance(p)
    one = Solution("feasible", "", y=np.array([True, False]), z=np.array([[True], [False]]))
    return inst, improved(inst, entries(inst), one, lambda: False)


def test_a_second_office_opens_where_the_travel_it_saves_pays_for_its_minimum_staff():
    """A second office, with its rent (500) and 2 staff at 100, saves the far town's 50 visits x
    40 km x 1 = 2,000 in travel."""
    inst, plan = two_towns_from_one_office()
    assert plan.y.tolist() == [True, True]
    assert plan.n.ravel().tolist() == [2.0, 2.0]
    assert cost_parts(inst, plan)["objective"] == pytest.approx(2 * 500.0 + 4 * 100.0)


def test_a_plan_beyond_its_budget_is_brought_within_it_by_the_move_that_costs_least_for_what_it_saves():
    """Both towns with an office, against an annual budget of 900 (the two spend 1,100 a year).
    Closing j saves 700 a year (rent 500, 2 staff) and costs 2,000 in travel; closing k (rent 400)
    saves 600 for the same travel: j closes, and no further move pays."""
    inst, _ = two_towns_from_one_office(budget_annual=900.0)
    inst = replace(inst, problem=replace(inst.problem, sites=(
        inst.problem.sites[0], replace(inst.problem.sites[1], annual_cost=400.0))))
    both = Solution("feasible", "", y=np.array([True, True]), z=np.array([[True], [True]]))
    plan = improved(inst, entries(inst), both, lambda: False)
    assert plan.y.tolist() == [False, True]
    assert cost_parts(inst, plan)["annual cost"] == pytest.approx(600.0)
    assert cost_parts(inst, plan)["objective"] == pytest.approx(400.0 + 200.0 + 2000.0)
    assert keeps_rules(inst, plan)


def test_no_move_breaks_a_budget_the_plan_kept():
    """The two towns with an annual budget of 900: the second office (rent 500, 2 staff at 100)
    would save 2,000 in travel but break the budget, so it is not opened."""
    inst, plan = two_towns_from_one_office(budget_annual=900.0)
    assert plan.y.tolist() == [True, False]
    assert cost_parts(inst, plan)["annual cost"] == pytest.approx(700.0)
    assert keeps_rules(inst, plan)
