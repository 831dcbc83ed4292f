"""The budget re-solve gives the plans the full solve gives: same optimum, proven bounds, same refusals."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

from optimizer.instance import build_instance
from optimizer.pipeline import plan, prepare
from optimizer.plan import cost_parts
from optimizer.resolve import BudgetResolver
from optimizer.solve import solve
from optimizer.workbook import read_problem

from tiny import agency, area, problem, site

DEMO = Path(__file__).resolve().parents[1] / "inputs" / "demo.xlsx"


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


@pytest.mark.parametrize("seed", range(12))
def test_a_budget_move_finds_the_full_solves_optimum(seed):
    rng = random.Random(seed)
    p = random_budgeted(rng, budget=1e9)
    first = full(p)
    resolver = BudgetResolver(build_instance(p))
    resolver.remember(first)
    spent = first.objective
    for factor in (1.1, 0.9, 0.8, 0.7, 1.2):
        moved = p.with_settings(budget_annual=factor * spent)
        expected = full(moved)
        got = resolver.resolve(moved)
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
    demo = read_problem(DEMO)
    inst = prepare(demo)
    resolver = BudgetResolver(inst)
    resolver.remember(solve(inst))
    for budget in (10.7e6, 11.5e6, 12e6):
        moved = demo.with_settings(budget_annual=budget)
        expected, got = full(moved), resolver.resolve(moved)
        assert got.status == "optimal" and got.mip_gap <= demo.settings.mip_gap
        assert cost_parts(prepare(moved), got)["one-off cost"] <= demo.settings.budget_one_off
        assert got.objective >= expected.bound - 1e-6 and expected.objective >= got.bound - 1e-6


def test_the_plan_through_the_pipeline_is_the_full_plan():
    demo = read_problem(DEMO)
    inst = prepare(demo)
    resolver = BudgetResolver(inst)
    resolver.remember(solve(inst))
    moved = prepare(demo.with_settings(budget_annual=11.5e6), inst.table)
    fast, slow = plan(moved, with_today=False, resolver=resolver), plan(moved, with_today=False)
    assert fast.figures["annual cost"] == pytest.approx(slow.figures["annual cost"], rel=demo.settings.mip_gap)
    assert list(fast.sites.action) == list(slow.sites.action)


def test_it_answers_only_budget_moves_it_can_prove():
    demo = read_problem(DEMO)
    resolver = BudgetResolver(prepare(demo))
    assert resolver.serves(demo.with_settings(budget_annual=1e7, budget_one_off=None))
    assert not resolver.serves(demo.with_settings(max_distance_km=40.0))
    assert not resolver.serves(demo.with_settings(objective="coverage"))
    assert not resolver.serves(demo.with_settings(travel_cost_per_km=0.0))
    assert not resolver.serves(replace(demo, sites=(replace(demo.sites[0], force="closed"), *demo.sites[1:])))
    without = BudgetResolver(prepare(demo.with_settings(budget_one_off=None)))
    assert not without.serves(demo)  # the one-off budget has no row to move


def test_budgets_nothing_can_meet_are_left_to_the_full_solve_to_explain():
    demo = read_problem(DEMO)
    resolver = BudgetResolver(prepare(demo))
    assert resolver.resolve(demo.with_settings(budget_annual=1_000.0)) is None
    assert "No plan fits the budgets" in full(demo.with_settings(budget_annual=1_000.0)).message
