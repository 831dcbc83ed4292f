"""Solving by the radius formulation gives the general model's optimum, and a plan that is nearest office."""

from __future__ import annotations

import numpy as np
import pytest

from models.nearest_office import eligible
from optimizer import pipeline, radius
from optimizer.instance import build_instance
from optimizer.pipeline import plan, price, solve_instance
from optimizer.problem import Problem
from optimizer.radius import price_today_nearest, solve_nearest
from optimizer.solve import Start, price_today, solve
from tests.tiny import agency, area, problem, site


def random_problem(seed: int) -> Problem:
    """Listed whole-km distances (so levels tie), 1-2 agencies, budgets, locks and office counts."""
    rng = np.random.default_rng(seed)
    n_areas, n_sites, n_agencies = rng.integers(4, 10), rng.integers(3, 8), rng.integers(1, 3)
    agencies = [
        agency(f"A{a}", staff_cost=float(rng.integers(0, 5)), visits_per_staff=float(rng.integers(5, 20)),
               presence_cost=float(rng.integers(0, 300)), setup_cost=float(rng.integers(0, 100)),
               max_distance_km=None if rng.random() < 0.5 else 6.0,
               budget=None if rng.random() < 0.7 else float(rng.integers(300, 2000)))
        for a in range(n_agencies)
    ]
    sites = [
        site(f"s{j}", "existing" if rng.random() < 0.5 else "candidate", annual_cost=float(rng.integers(0, 1000)),
             open_cost=float(rng.integers(0, 500)), close_cost=float(rng.integers(0, 300)),
             desks=None if rng.random() < 0.5 else 1e6, agencies_now=("A0",) if rng.random() < 0.5 else (),
             force=[None, None, None, "open", "closed"][rng.integers(5)])
        for j in range(n_sites)
    ]
    areas = [area(f"a{i}", float(rng.integers(1, 100))) for i in range(n_areas)]
    distances = {(a.area_id, s.site_id): float(rng.integers(0, 10)) for a in areas for s in sites}
    return problem(
        agencies, areas, sites, distances,
        travel_cost_per_km=float(rng.integers(0, 5)),
        min_offices=None if rng.random() < 0.5 else int(rng.integers(1, 3)),
        max_offices=None if rng.random() < 0.5 else int(rng.integers(2, 5)),
        budget_annual=None if rng.random() < 0.5 else float(rng.integers(1000, 6000)),
        budget_one_off=None if rng.random() < 0.5 else float(rng.integers(300, 3000)),
        max_distance_km=None,
    )


@pytest.mark.parametrize("seed", range(40))
def test_the_optimum_is_the_general_models(seed):
    inst = build_instance(random_problem(seed))
    assert eligible(inst)
    general, nearest = solve(inst), solve_nearest(inst)
    if general.status == "infeasible":
        assert nearest is None  # the general model then says why
        return
    assert nearest.status == general.status == "optimal"
    assert nearest.objective == pytest.approx(general.objective, rel=1e-7, abs=1e-6)


@pytest.mark.parametrize("seed", range(10))
def test_pairs_are_deepened_until_the_plan_is_exact(seed, monkeypatch):
    """With one level to start from, every pair beyond it must be found short and deepened."""
    monkeypatch.setattr(radius, "FIRST_LEVELS", 1)
    inst = build_instance(random_problem(seed))
    general, nearest = solve(inst), solve_nearest(inst)
    if general.status != "infeasible":
        assert nearest.objective == pytest.approx(general.objective, rel=1e-7, abs=1e-6)


def test_everyone_is_served_at_the_nearest_office_and_staff_follow_the_visits():
    inst = build_instance(random_problem(7))
    sol = solve_nearest(inst)
    assert np.allclose(np.bincount(np.unique(np.c_[inst.k_area, inst.k_agency], axis=0, return_inverse=True)[1].ravel(),
                                   weights=sol.x), 1.0)
    chosen = sol.x > 0.5
    assert sol.z[inst.k_site[chosen], inst.k_agency[chosen]].all()
    for k in np.flatnonzero(chosen):
        same_pair = (inst.k_area == inst.k_area[k]) & (inst.k_agency == inst.k_agency[k])
        open_there = sol.z[inst.k_site, inst.k_agency] & same_pair
        assert inst.k_km[k] == inst.k_km[open_there].min()
    visits = inst.visits[inst.k_area, inst.k_agency] * sol.x
    per_staff = np.array([1 / a.visits_per_staff for a in inst.problem.agencies])[inst.k_agency]
    staff = np.zeros_like(sol.n)
    np.add.at(staff, (inst.k_site, inst.k_agency), visits * per_staff)
    assert np.allclose(sol.n, staff)


def test_the_plan_figures_agree_with_the_solution():
    inst = build_instance(random_problem(0))
    result = plan(inst, with_today=False)
    assert result.figures["objective"] == pytest.approx(result.solution.objective)


def test_a_start_plan_is_priced_and_kept_when_nothing_beats_it():
    inst = build_instance(random_problem(1))
    first = solve_nearest(inst)
    again = solve_nearest(inst, Start.of(inst, first))
    assert again.objective == pytest.approx(first.objective)


def test_today_is_priced_without_a_model_as_the_general_model_prices_it():
    for seed in range(8):
        inst = build_instance(random_problem(seed))
        general, nearest = price_today(inst), price_today_nearest(inst)
        assert nearest.status == ("optimal" if general.status == "optimal" else "infeasible")
        if general.status == "optimal":
            assert nearest.objective == pytest.approx(general.objective, rel=1e-7)
            assert nearest.message == "Today's network."


def test_the_pipeline_takes_the_radius_path_only_when_it_applies(monkeypatch):
    inst = build_instance(random_problem(4))
    expected, today = solve(inst), price_today(inst)

    def general_model(*args):
        raise AssertionError("the general model was used")

    monkeypatch.setattr(pipeline, "solve", general_model)
    monkeypatch.setattr(pipeline, "price_today", general_model)
    assert solve_instance(inst).objective == pytest.approx(expected.objective)
    assert price(inst).objective == pytest.approx(today.objective)
    monkeypatch.undo()
    minimum = build_instance(
        problem([agency("FK", min_staff=1.0)], [area("a1", 10)], [site("s1")], {("a1", "s1"): 1.0})
    )
    assert not eligible(minimum)
    assert solve_instance(minimum).objective == pytest.approx(solve(minimum).objective)


def test_unreachable_areas_leave_the_answer_to_the_general_model():
    p = problem([agency("FK", max_distance_km=5.0)], [area("a1", 10), area("a2", 10)], [site("s1")],
                {("a1", "s1"): 1.0, ("a2", "s1"): 9.0})
    inst = build_instance(p)
    assert solve_nearest(inst) is None
    assert solve_instance(inst).status == "infeasible"
