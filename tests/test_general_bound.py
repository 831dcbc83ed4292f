"""The assignment rows' Lagrangian: its value at any prices (of the pairs, and of the budgets
where they are priced) is the relaxed model's exact minimum, so every bound it gives lies below
the general model's optimum."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyomo.environ as pyo
import pytest

from benchmarks.generate import national
from models.office_network import agency_spend, build_model
from optimizer import general_bound, pipeline
from optimizer.general_bound import (
    LEAST_PATIENCE,
    PATIENCE,
    at_budgets,
    bound,
    first_prices,
    patience,
    prices,
    value,
)
from optimizer.instance import build_instance
from optimizer.pipeline import with_assignment_bound
from optimizer.plan import cost_parts
from optimizer.rules import keeps_rules
from optimizer.solve import Solution, run_highs, solve, watched_by
from tests.test_radius import random_problem

SEEDS = range(30)


def general_problem(seed: int):
    """A random problem with minimum staff, so that the nearest-office path does not apply."""
    rng = np.random.default_rng(1000 + seed)
    p = random_problem(seed)
    return replace(p, agencies=tuple(replace(a, min_staff=float(rng.integers(0, 4))) for a in p.agencies))


BUDGETS = ("annual_budget", "agency_budget", "one_off_budget")


def relaxed_model(inst, dropped: tuple[str, ...] = (*BUDGETS, "site_desks", "office_count")) -> pyo.ConcreteModel:
    """The general model without what the bound drops: budgets (unless priced), desks and office counts."""
    m = build_model(inst)
    for name in dropped:
        if hasattr(m, name):
            getattr(m, name).deactivate()
    return m


def budgets_less_rhs(m, inst) -> list:
    """Each budget as spending - budget, in `general_bound.budgets`' order: annual, one-off, each agency's."""
    s, agencies = inst.problem.settings, inst.problem.agencies
    return [e for e in (
        None if s.budget_annual is None else m.annual_cost - s.budget_annual,
        None if s.budget_one_off is None else m.one_off_cost - s.budget_one_off,
        *(agency_spend(m, a) - agency.budget for a, agency in enumerate(agencies) if agency.budget is not None),
    ) if e is not None]


def lagrangian_by_highs(inst, lam: np.ndarray, mu: np.ndarray | None = None) -> float:
    """sum lambda + the relaxed model's minimum with the assignment rows priced at lambda, and the
    budgets at mu, instead of kept: L(lambda, mu) by HiGHS, to check the knapsacks."""
    m = relaxed_model(inst)
    m.demand_is_served.deactivate()
    p = prices(inst)
    pair_of = {(int(i), int(a)): int(k) for i, a, k in zip(inst.k_area[p.order], inst.k_agency[p.order], p.pair)}
    m.cost.deactivate()
    priced_budgets = sum(float(u) * e for u, e in zip(mu, budgets_less_rhs(m, inst))) if mu is not None else 0.0
    m.priced = pyo.Objective(expr=m.total_cost - sum(lam[pair_of[i, a]] * m.x[i, j, a] for i, j, a in m.K)
                             + priced_budgets)
    outcome = run_highs(m, 60.0, 1e-9)
    assert outcome.status == "optimal"
    return float(lam.sum()) + outcome.objective


@pytest.mark.parametrize("seed", SEEDS)
def test_the_value_at_any_prices_is_the_relaxed_models_minimum(seed):
    inst = build_instance(general_problem(seed))
    p = prices(inst)
    rng = np.random.default_rng(seed)
    for lam in (first_prices(p), first_prices(p) * rng.uniform(0, 3, p.n_pairs) + rng.normal(0, 50, p.n_pairs)):
        expected = lagrangian_by_highs(inst, lam)
        assert value(p, lam).bound == pytest.approx(expected, rel=1e-7, abs=1e-5)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_value_with_the_budgets_priced_is_the_minimum_with_them_in_the_objective(seed):
    """Each budget r adds mu[r] (spending - budget), the staff's pay included."""
    inst = build_instance(general_problem(seed))
    p = prices(inst)
    rng = np.random.default_rng(seed)
    lam = first_prices(p) * rng.uniform(0.5, 2, p.n_pairs)
    mu = rng.uniform(0, 1, len(p.budgets.rhs))
    expected = lagrangian_by_highs(inst, lam, mu)
    assert value(at_budgets(p, mu), lam).bound == pytest.approx(expected, rel=1e-7, abs=1e-5)


def test_pricing_a_binding_budget_raises_the_bound_towards_the_lp_relaxation_with_it():
    """300 generated areas with the annual budget 2 % below what the plan without one spends: the
    relaxation without the budget lies below the LP with it, and the budget's price closes most
    of the difference.  No L may pass that LP (without desks), which is the best L can reach."""
    inst = build_instance(national(300, 100, nearest_office=False).with_settings(budget_annual=0.98 * 665_649_956))
    lps = []
    for dropped in ((*BUDGETS, "site_desks", "office_count"), ("site_desks", "office_count")):
        m = relaxed_model(inst, dropped)
        pyo.TransformationFactory("core.relax_integer_vars").apply_to(m)
        lps.append(run_highs(m, 60.0, 1e-9).objective)
    without, with_budget = lps
    found = bound(inst, 1.02 * with_budget, seconds=30.0)
    assert found <= with_budget + 1e-6 * with_budget
    assert found - without >= 0.5 * (with_budget - without) > 0


@pytest.mark.parametrize("seed", SEEDS)
def test_the_bound_lies_below_the_general_models_optimum(seed):
    inst = build_instance(general_problem(seed).with_settings(mip_gap=1e-9))
    general = solve(inst)
    if general.status != "optimal":
        return
    found = bound(inst, general.objective, seconds=5.0, steps=2000)
    assert found <= general.objective + 1e-6 * max(1.0, abs(general.objective))


@pytest.mark.parametrize("seed", SEEDS)
def test_the_steps_reach_the_lp_bound_of_what_stays(seed):
    """The Lagrangian dual is at least the LP relaxation of the model it prices (its sites'
    choices stay integer), so the steps must climb at least that high."""
    inst = build_instance(general_problem(seed))
    m = relaxed_model(inst)
    pyo.TransformationFactory("core.relax_integer_vars").apply_to(m)
    lp = run_highs(m, 60.0, 1e-9)
    if lp.status != "optimal":
        return  # a lock leaves some area unserved
    found = bound(inst, lp.objective * 1.5 + 1.0, seconds=5.0, steps=5000)
    assert found >= lp.objective - 1e-3 * max(1.0, abs(lp.objective))


def test_a_plan_without_proof_gets_the_bound_and_the_gap_it_proves():
    """Generated areas with minimum staff and desks, the plan's own bound taken away."""
    inst = build_instance(national(300, 100, nearest_office=False).with_settings(time_limit_s=60.0))
    plan = solve(inst)
    weak = replace(plan, status="feasible", bound=0.0, mip_gap=1.0)
    proven = with_assignment_bound(inst, weak)
    assert proven.bound > 0.9 * plan.objective
    assert proven.bound <= plan.objective
    assert proven.mip_gap == pytest.approx((plan.objective - proven.bound) / plan.objective, rel=1e-6)


def test_a_proven_plan_is_left_as_it_is(monkeypatch):
    monkeypatch.setattr(pipeline.general_bound, "bound", lambda *args, **kwargs: pytest.fail("bound was computed"))
    inst = build_instance(general_problem(0))
    proven = Solution("optimal", "", objective=1.0, bound=1.0, mip_gap=0.0)
    assert with_assignment_bound(inst, proven) is proven


def test_the_step_is_halved_sooner_when_the_time_left_allows_few_steps():
    # 10 steps in 1 s, 9 s left: 90 steps to come, so 9 steps without a better bound halve it.
    assert patience(10, 1.0, 10.0) == 9
    assert patience(100, 1.0, 10.0) == PATIENCE  # 900 to come: as ever
    assert patience(10, 9.0, 10.0) == LEAST_PATIENCE  # 1 to come


def test_a_dearer_plan_gives_way_to_a_plan_the_lagrangians_choices_make_and_it_keeps_every_rule():
    """HiGHS's optimum, reported 50 % dearer than it is: the plans made from its own offices and
    the sites' choices (nearest office, staffed, offices moved while that pays, fitted to the
    desks) replace it where they cost less, and each keeps every rule, costs what it says and no
    less than the optimum."""
    replaced = solved = 0
    for seed in SEEDS:
        inst = build_instance(general_problem(seed).with_settings(mip_gap=1e-9))
        optimum = solve(inst)
        if optimum.status != "optimal":
            continue
        solved += 1
        dear = replace(optimum, status="feasible", objective=1.5 * optimum.objective + 10.0, bound=None, mip_gap=None)
        plan = with_assignment_bound(inst, dear)
        assert plan.bound <= optimum.objective + 1e-6 * max(1.0, abs(optimum.objective))
        if plan.objective < dear.objective:
            replaced += 1
            assert keeps_rules(inst, plan)
            assert plan.objective == pytest.approx(cost_parts(inst, plan)["objective"])
            assert plan.objective >= optimum.objective - 1e-6 * max(1.0, abs(optimum.objective))
    assert solved >= 15 and replaced >= solved // 2


def offices_sorting_every_candidate(p, lam: np.ndarray) -> np.ndarray:
    """What each office adds at lambda, as first written in NumPy: every candidate that could
    fill an office's minimum staff sorted, and each office's room filled in that order."""
    size = len(p.fixed)
    reduced = p.travel - lam[p.pair]
    full = reduced < -p.staff_weight
    staff = np.bincount(p.group, p.weight * full, minlength=size)
    per_office = (p.fixed + np.bincount(p.group, (reduced + p.staff_weight) * full, minlength=size)
                  - p.staff_cost * np.minimum(staff, p.minimum))
    room = np.maximum(p.minimum - staff, 0.0)
    filling = np.flatnonzero(~full & (reduced < 0) & (room[p.group] > 0))
    filling = filling[np.lexsort((reduced[filling] / p.weight[filling], p.group[filling]))]
    group, weight = p.group[filling], p.weight[filling]
    starts = np.r_[True, group[1:] != group[:-1]] if len(group) else np.zeros(0, dtype=bool)
    before = np.cumsum(weight) - weight
    before -= np.maximum.accumulate(np.where(starts, before, 0.0)) if len(group) else 0.0
    share = np.clip(room[group] - before, 0.0, weight) / weight
    return per_office + np.bincount(group, reduced[filling] * share, minlength=size)


def test_filling_the_minimum_from_bins_gives_what_sorting_every_candidate_gives():
    """300 generated areas with minimum staff: thousands of candidates per office, few of them
    needed, so only the bin that fills an office's room in part is sorted (`_filled`)."""
    p = prices(build_instance(national(300, 100, nearest_office=False)))
    rng = np.random.default_rng(7)
    for spread in (1.0, 1.2, 1.5):
        lam = first_prices(p) * rng.uniform(1.0, spread, p.n_pairs)
        per_office = general_bound._choices(p, lam).per_group
        assert per_office == pytest.approx(offices_sorting_every_candidate(p, lam), rel=1e-12, abs=1e-6)


def test_a_plans_prices_add_up_to_its_cost_where_every_open_office_serves_someone():
    """sum(lambda) + constant is the plan's objective: each pair pays its travel and its share of
    its office's and site's costs, so the steps begin where the plan is.  An office or site that
    serves nobody (a site forced open) has no pair to pay for it."""
    equal = 0
    for seed in SEEDS:
        inst = build_instance(general_problem(seed))
        plan = solve(inst)
        if not plan.has_plan:
            continue
        p = prices(inst)
        lam = general_bound.plan_prices(p, plan)
        cost = cost_parts(inst, plan)["objective"]
        serving = np.zeros(plan.z.shape, dtype=bool)
        serving[inst.k_site[plan.x > 0], inst.k_agency[plan.x > 0]] = True
        if np.array_equal(serving, plan.z & plan.y[:, None]) and np.array_equal(serving.any(axis=1), plan.y):
            equal += 1
            assert lam.sum() + p.constant == pytest.approx(cost, rel=1e-9)
        else:
            assert lam.sum() + p.constant <= cost + 1e-9 * abs(cost)
    assert equal >= 10


class _Stopped:
    def progress(self, incumbent, bound):
        pass

    def should_stop(self):
        return True


def test_a_plan_the_planner_stopped_is_returned_as_it_is(monkeypatch):
    """Once the planner has asked to stop, neither the Lagrangian nor the moves run on the plan."""
    monkeypatch.setattr(pipeline.general_bound, "bound", lambda *args, **kwargs: pytest.fail("bound was computed"))
    inst = build_instance(general_problem(0))
    stopped = Solution("feasible", "stopped", objective=10.0, bound=1.0, mip_gap=0.9)
    with watched_by(_Stopped()):
        assert with_assignment_bound(inst, stopped) is stopped


def test_the_sign_steps_raise_the_bound_and_return_the_prices_where_it_was_found():
    """Each price moves by its own length in its subgradient's direction; L is a bound at any
    prices, so the best of them is kept, with the prices that give it."""
    raised = 0
    for seed in SEEDS:
        p = prices(build_instance(general_problem(seed)))
        start = first_prices(p)
        lam, best = general_bound.sign_steps(p, start, seconds=5.0, steps=200)
        assert value(p, lam).bound == best
        assert best >= value(p, start).bound
        raised += best > value(p, start).bound + 1e-9 * abs(best)
    assert raised >= 20


def test_the_sign_steps_end_when_the_watcher_asks():
    p = prices(build_instance(general_problem(0)))
    start = first_prices(p)
    heard = []
    lam, best = general_bound.sign_steps(p, start, seconds=5.0, steps=200, stop=lambda b: heard.append(b) or True)
    assert lam is start and heard == [best] and best == value(p, start).bound


def test_the_bound_stops_in_its_sign_steps_when_the_planner_asks():
    """The app's Stop is heard from the first step, not only once Polyak's steps begin."""
    inst = build_instance(general_problem(0))
    with watched_by(_Stopped()):
        found = bound(inst, 1e9, seconds=30.0)
    assert found == value(prices(inst), first_prices(prices(inst))).bound


def test_the_sign_steps_end_once_a_window_of_them_raises_the_bound_by_less_than_the_level():
    """They creep on where Polyak's steps would do better: a re-solve must not wait for them."""
    p = prices(build_instance(general_problem(1)))
    heard = []
    general_bound.sign_steps(p, first_prices(p), seconds=60.0, steps=100_000, stop=lambda b: heard.append(b) or False)
    window = general_bound.SIGN_WINDOW
    assert window < len(heard) < 100_000
    assert heard[-1] - heard[-1 - window] < general_bound.SIGN_LEVEL * abs(heard[-1])
    assert all(later - earlier >= general_bound.SIGN_LEVEL * abs(later)
               for earlier, later in zip(heard[:-1 - window], heard[window:-1]))
