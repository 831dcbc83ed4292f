"""The re-solve after a budget or limit move gives the plans the full solve gives: same optimum,
proven bounds, and it leaves to the full solve what it cannot prove."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

from optimizer.instance import build_instance
from optimizer.pipeline import plan, prepare
from optimizer.plan import cost_parts
from optimizer.resolve import Resolver
from optimizer.solve import solve, watched_by
from optimizer.workbook import read_problem

from tiny import agency, area, problem, site

DEMO = Path(__file__).resolve().parents[1] / "inputs" / "demo.xlsx"
SWEDEN = DEMO.with_name("sweden.xlsx")


def random_budgeted(rng: random.Random, budget: float):
    """Two agencies, five areas, four sites (two of them today's), travel priced, a budget row."""
    areas = [area(f"a{i}", rng.randint(200, 1500)) for i in range(5)]
    sites = [
        site(f"s{j}", "existing" if j < 2 else "candidate", annual_cost=rng.randint(50, 400) * 1000,
             open_cost=rng.randint(0, 300) * 1000, close_cost=rng.randint(0, 100) * 1000,
             agencies_now=("FK", "SKV") if j < 2 else ())
        for j in range(4)
    ]
    agencies = [
        agency("FK", staff_cost=60_000, visits_per_staff=400, presence_cost=20_000, min_staff=1),
        agency("SKV", staff_cost=55_000, visits_per_staff=500, presence_cost=15_000, min_staff=1,
               visits_per_capita=0.5),
    ]
    # Site s0 is within the limit of every area, so every draw has a plan without the budget.
    distances = {(a.area_id, s.site_id): float(rng.randint(1, 45 if s.site_id == "s0" else 60))
                 for a in areas for s in sites}
    return problem(agencies, areas, sites, distances, max_distance_km=45.0, travel_cost_per_km=40.0,
                   budget_annual=budget, budget_one_off=rng.choice([1e5, 3e5, 2e6]))


def full(p):
    return solve(build_instance(p))


def remembering(path: Path):
    """A workbook's problem and instance, and a resolver that knows the instance's solved plan."""
    problem_ = read_problem(path)
    inst = prepare(problem_)
    resolver = Resolver(inst)
    resolver.remember(inst, solve(inst))
    return problem_, inst, resolver


@pytest.mark.parametrize("seed", range(12))
def test_a_budget_move_finds_the_full_solves_optimum(seed):
    rng = random.Random(seed)
    p = random_budgeted(rng, budget=1e9)
    first = full(p)
    inst = build_instance(p)
    resolver = Resolver(inst)
    resolver.remember(inst, first)
    spent = first.objective
    moves = [{"budget_annual": factor * spent} for factor in (1.1, 0.9, 0.8, 0.7, 1.2)]
    moves += [{"budget_annual": 0.9 * spent, "max_distance_km": km} for km in (40.0, 30.0, 45.0)]
    for move in moves:
        moved = p.with_settings(**move)
        expected = full(moved)
        got = resolver.resolve(build_instance(moved, inst.table))
        if expected.status == "infeasible":
            assert got is None
            continue
        assert got is not None and got.status == "optimal"
        assert got.objective == pytest.approx(expected.objective, rel=1e-7, abs=1e-6)
        parts = cost_parts(build_instance(moved), got)
        assert parts["annual cost"] <= moved.settings.budget_annual * (1 + 1e-9)
        assert parts["one-off cost"] <= moved.settings.budget_one_off * (1 + 1e-9)
        assert got.bound <= expected.objective * (1 + 1e-9) + 1e-6


def test_on_the_demo_a_budget_move_agrees_with_the_full_solve_within_the_gap():
    demo, inst, resolver = remembering(DEMO)
    for budget in (10.7e6, 11.5e6, 12e6):
        moved = demo.with_settings(budget_annual=budget)
        expected, got = full(moved), resolver.resolve(prepare(moved, inst.table))
        assert got.status == "optimal" and got.mip_gap <= demo.settings.mip_gap
        assert cost_parts(prepare(moved), got)["one-off cost"] <= demo.settings.budget_one_off
        assert got.objective >= expected.bound - 1e-6 and expected.objective >= got.bound - 1e-6


def test_the_plan_through_the_pipeline_is_the_full_plan():
    demo, inst, resolver = remembering(DEMO)
    moved = prepare(demo.with_settings(budget_annual=11.5e6, max_distance_km=45.0), inst.table)
    assert resolver.serves(moved)
    fast, slow = plan(moved, with_today=False, resolver=resolver), plan(moved, with_today=False)
    assert fast.figures["annual cost"] == pytest.approx(slow.figures["annual cost"], rel=demo.settings.mip_gap)
    assert list(fast.sites.action) == list(slow.sites.action)


def test_it_answers_only_the_moves_it_can_prove():
    demo = read_problem(DEMO)
    inst = prepare(demo)
    resolver = Resolver(inst)

    def serves(**changes) -> bool:
        return resolver.serves(prepare(demo.with_settings(**changes), inst.table))

    assert serves(budget_annual=1e7, budget_one_off=None)
    assert serves(max_distance_km=30.0)
    assert not serves(max_distance_km=80.0)  # pairs the model was not built with
    assert not serves(objective="coverage")
    assert not serves(travel_cost_per_km=0.0)
    locked = replace(demo, sites=(replace(demo.sites[0], force="closed"), *demo.sites[1:]))
    assert not resolver.serves(prepare(locked, inst.table))
    without = Resolver(prepare(demo.with_settings(budget_one_off=None)))
    assert not without.serves(inst)  # the one-off budget has no row to move


def test_budgets_or_limits_nothing_can_meet_are_left_to_the_full_solve_to_explain():
    demo = read_problem(DEMO)
    inst = prepare(demo)
    resolver = Resolver(inst)
    poor = demo.with_settings(budget_annual=1_000.0)
    assert resolver.resolve(prepare(poor, inst.table)) is None
    assert "No plan fits the budgets" in full(poor).message
    near = demo.with_settings(max_distance_km=1.0)
    assert resolver.resolve(prepare(near, inst.table)) is None


def test_a_search_stopped_at_its_target_does_not_stop_the_next_one():
    """HiGHS keeps a model's interrupt flag between runs; each run must start unstopped."""
    inst = prepare(read_problem(SWEDEN))
    resolver = Resolver(inst)
    first, _ = resolver._run_mip(resolver.lower, resolver.upper, 30, 0.01, None, target=1e30)
    assert first is not None  # stopped at its first plan
    again, bound = resolver._run_mip(resolver.lower, resolver.upper, 60, 0.01, first, None)
    assert again is not None and resolver._objective(again) <= resolver._objective(first)
    assert bound >= 0.99 * resolver._objective(again) - 1e-6  # searched on to the 1 % gap


class _StopAfter:
    """A watcher that asks to stop after `calls` questions (the planner moving during a rehearsal)."""

    def __init__(self, calls: int):
        self.left = calls

    def progress(self, incumbent, bound) -> None:
        pass

    def should_stop(self) -> bool:
        self.left -= 1
        return self.left < 0


@pytest.mark.parametrize("seed", range(8))
def test_after_a_rehearsal_budget_moves_still_find_the_full_solves_optimum(seed):
    rng = random.Random(100 + seed)
    p = random_budgeted(rng, budget=1e9)
    spent = cost_parts(build_instance(p), full(p))["annual cost"]  # the budget binds below this
    p = p.with_settings(budget_annual=spent)
    inst = build_instance(p)
    resolver = Resolver(inst)
    resolver.remember(inst, full(p))
    resolver.rehearse()
    assert resolver.bases  # at least the looser budgets have an LP
    for factor in (0.95, 0.93, 1.05, 0.9, 0.8):
        moved = p.with_settings(budget_annual=factor * spent)
        expected, got = full(moved), resolver.resolve(build_instance(moved, inst.table))
        if expected.status == "infeasible":
            assert got is None or (got.status == "infeasible" and got.message.startswith("No plan fits the budgets"))
            continue
        assert got is not None and got.status == "optimal"
        assert got.objective == pytest.approx(expected.objective, rel=1e-7, abs=1e-6)
        assert cost_parts(build_instance(moved), got)["annual cost"] <= moved.settings.budget_annual * (1 + 1e-9)


def test_a_rehearsed_budget_is_answered_without_lp_iterations_and_with_its_plan_ready():
    sweden, inst, resolver = remembering(SWEDEN)
    resolver.rehearse((0.95,))
    assert len(resolver.bases) == 1 and len(resolver.rehearsed) == 1
    moved = sweden.with_settings(budget_annual=0.95 * sweden.settings.budget_annual)
    got = resolver.resolve(prepare(moved, inst.table))
    assert resolver.relaxation.getInfo().simplex_iteration_count == 0
    assert got.status == "optimal" and got.mip_gap <= sweden.settings.mip_gap
    assert resolver._objective(resolver.rehearsed[0]) == pytest.approx(got.objective)
    assert cost_parts(prepare(moved), got)["annual cost"] <= moved.settings.budget_annual * (1 + 1e-9)


def test_a_rehearsal_stops_when_asked_and_leaves_the_budgets_as_they_were():
    demo, inst, resolver = remembering(DEMO)
    limits = dict(resolver.limits)
    with watched_by(_StopAfter(0)):
        resolver.rehearse()
    assert resolver.bases == {} and resolver.rehearsed == []
    assert resolver.limits == limits
    row = resolver.rows["budget_annual"]
    assert resolver.relaxation.getLp().row_upper_[row] == pytest.approx(limits["budget_annual"])
    assert resolver.mip.getLp().row_upper_[row] == pytest.approx(limits["budget_annual"])


def test_a_budget_below_the_lps_floor_is_answered_at_once_with_the_least_it_must_be():
    demo, inst, resolver = remembering(DEMO)
    resolver.rehearse(())  # no budgets to rehearse: only the floors are learnt
    floor = resolver.floors["budget_annual"] + resolver.constants["budget_annual"]
    assert 0 < floor < demo.settings.budget_annual
    below = demo.with_settings(budget_annual=0.999 * floor)
    said = resolver.resolve(prepare(below, inst.table))
    assert said.status == "infeasible" and not said.has_plan
    assert said.message.startswith("No plan fits the budgets. Meeting every other rule, any plan needs the annual "
                                   f"budget at least {floor:,.0f} (proven lower bounds")
    assert not resolver.relaxation.getInfo().valid  # no LP has run since the budget moved
    assert full(below).status == "infeasible"
    assert resolver.resolve(prepare(demo, inst.table)).status == "optimal"  # and it still answers the rest
