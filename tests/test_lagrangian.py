"""The Lagrangian search: every bound is below the optimum, every plan keeps the rules, and no
single move improves a plan the local search returns."""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import replace

import numpy as np
import pytest

from benchmarks.generate import national
from models.nearest_office import demand_levels
from optimizer import radius
from optimizer.instance import build_instance
from optimizer.lagrangian import Multipliers, Relaxation, search
from optimizer.radius import solve_nearest, true_cost
from optimizer.solve import Start, solve
from tests.test_radius import random_problem

SEEDS = range(30)


class _Best:
    """The incumbent as `search` reads it."""

    def __init__(self):
        self.cost, self.plan = math.inf, None


def _setup(seed: int):
    inst = build_instance(random_problem(seed))
    lv = demand_levels(inst)
    return inst, lv, Relaxation(inst, lv), solve(inst)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_bound_lies_below_the_optimum_and_every_plan_keeps_the_rules(seed):
    inst, lv, relaxation, general = _setup(seed)
    if general.status == "infeasible" or not relaxation.covered:
        return
    best = _Best()
    for n, step in enumerate(search(relaxation, best)):
        assert math.isfinite(step.bound)
        assert step.bound <= general.objective + 1e-6 * max(1.0, abs(general.objective))
        if step.plan is not None and relaxation.allows(*step.plan):
            cost = true_cost(inst, lv, *step.plan)
            assert cost >= general.objective - 1e-6 * max(1.0, abs(general.objective))
            if cost < best.cost:
                best.cost, best.plan = cost, step.plan
        if n >= 60:
            break


@pytest.mark.parametrize("seed", SEEDS)
def test_any_multipliers_give_a_lower_bound_and_dual_ascent_only_raises_it(seed):
    _, _, relaxation, general = _setup(seed)
    if general.status == "infeasible" or not relaxation.covered:
        return
    rng = np.random.default_rng(seed)
    start = relaxation.start()
    for _ in range(20):
        m = Multipliers(start.u * rng.uniform(0, 3, start.u.shape) + rng.uniform(0, 50, start.u.shape),
                        rng.uniform(0, 2, start.lam.shape))
        before = relaxation.bound(m)[0]
        assert before <= general.objective + 1e-6 * max(1.0, abs(general.objective))
        relaxation.ascend(m)
        assert relaxation.bound(m)[0] >= before - 1e-6 * max(1.0, abs(before))
        assert relaxation.bound(m)[0] <= general.objective + 1e-6 * max(1.0, abs(general.objective))


def _neighbours(z: np.ndarray):
    """Every plan one move away: an agency's office added, dropped or swapped within its agency,
    a site closed, or a site's agencies moved to a closed site."""
    n_sites, n_agencies = z.shape
    for j, a in itertools.product(range(n_sites), range(n_agencies)):
        flipped = z.copy()
        flipped[j, a] = not z[j, a]
        yield flipped
        if z[j, a]:
            for k in range(n_sites):
                if not z[k, a]:
                    swapped = flipped.copy()
                    swapped[k, a] = True
                    yield swapped
    for j in range(n_sites):
        if z[j].any():
            closed = z.copy()
            closed[j] = False
            yield closed
            for k in range(n_sites):
                if not z[k].any():
                    moved = closed.copy()
                    moved[k] = z[j]
                    yield moved


@pytest.mark.parametrize("seed", SEEDS)
def test_no_single_move_improves_a_plan_of_the_local_search(seed):
    inst, lv, relaxation, general = _setup(seed)
    if general.status == "infeasible" or not relaxation.covered:
        return
    m = relaxation.start()
    relaxation.ascend(m)
    y, z = relaxation.plan(relaxation.bound(m)[2])
    if not relaxation.allows(y, z):
        return  # the rows could not be met from this start; the radius model takes over then
    cost = true_cost(inst, lv, y, z)
    assert math.isfinite(cost)
    forced_open = relaxation.prices.forced_open
    for other in _neighbours(z):
        other_y = other.any(axis=1) | forced_open
        if relaxation.allows(other_y, other):
            assert true_cost(inst, lv, other_y, other) >= cost - 1e-6 * max(1.0, abs(cost))


@pytest.mark.parametrize("seed", SEEDS)
def test_the_lagrangian_search_alone_proves_what_it_claims(seed, monkeypatch):
    """Without the radius model (as at national scale), the plan is within its stated gap of the optimum."""
    monkeypatch.setattr(radius, "MOST_LEVEL_ROWS", 0)
    p = random_problem(seed)
    inst = build_instance(p.with_settings(mip_gap=0.01, time_limit_s=1.0))
    general = solve(build_instance(p))
    alone = solve_nearest(inst)
    if general.status == "infeasible":
        assert alone is None or not alone.has_plan
        return
    if alone is None or not alone.has_plan:
        return  # no plan met the rows within the second: said so, not claimed
    scale = 1e-6 * max(1.0, abs(general.objective))
    assert alone.bound <= general.objective + scale
    assert alone.objective >= general.objective - scale
    assert alone.objective - alone.bound <= alone.mip_gap * abs(alone.objective) + scale
    if alone.status == "optimal":
        assert alone.objective <= general.objective * 1.01 + scale


def test_a_start_that_breaks_a_new_budget_is_not_taken_for_the_plan():
    p = random_problem(3).with_settings(budget_annual=None, budget_one_off=None)
    first = solve_nearest(build_instance(p))
    annual = first.objective  # the objective is at least the annual cost here: a budget below it binds
    tighter = build_instance(p.with_settings(budget_annual=0.8 * annual))
    expected = solve(tighter)
    again = solve_nearest(tighter, Start(first.y, first.z, first.n, {}))
    if expected.status == "infeasible":
        assert again is None
    else:
        assert again.objective == pytest.approx(expected.objective, rel=1e-7)


def test_a_national_grid_is_proven_within_one_percent_by_the_lagrangian_search_alone(monkeypatch):
    """2,000 areas x 603 sites x 4 agencies, generated like Sweden: the radius model's exact optimum is
    918.9 M; the Lagrangian search proves a plan within 1 % of it without that model."""
    inst = build_instance(national(2000, 600, nearest_office=True).with_settings(mip_gap=0.0, time_limit_s=120))
    exact = solve_nearest(inst)
    assert exact.status == "optimal"
    assert exact.objective == pytest.approx(918_897_283.5, rel=1e-6)
    monkeypatch.setattr(radius, "MOST_LEVEL_ROWS", 0)
    alone = solve_nearest(replace(inst, problem=inst.problem.with_settings(mip_gap=0.01)))
    assert alone.status == "optimal"
    assert alone.mip_gap <= 0.01
    assert alone.bound <= exact.objective <= alone.objective <= exact.objective * 1.01


def test_a_budget_no_plan_can_keep_is_proven_impossible_by_the_bound_alone(monkeypatch):
    """The staff bill alone is over the annual budget: the bound climbs past every plan's cost."""
    monkeypatch.setattr(radius, "MOST_LEVEL_ROWS", 0)
    p = random_problem(5).with_settings(budget_annual=1.0, budget_one_off=None, time_limit_s=30.0)
    inst = build_instance(p)
    assert solve(inst).status == "infeasible"
    started = time.perf_counter()
    assert solve_nearest(inst) is None
    assert time.perf_counter() - started < 5.0
