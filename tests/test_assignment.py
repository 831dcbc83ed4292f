"""The cheapest assignment and staff for chosen offices: the general model's optimum with its y and
z fixed, found by an LP (a MIP in n where staff are whole), never dearer than the plan it starts
from, and None where the offices cannot serve everyone within the rules."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from models.assignment import cheapest_assignment
from models.office_network import build_model
from optimizer.instance import build_instance
from optimizer.plan import cost_parts
from optimizer.rules import keeps_rules
from optimizer.solve import Solution, run_highs, solve
from tests.test_general_bound import general_problem
from tests.test_office_moves import nearest
from tests.tiny import agency, area, problem, site

SEEDS = range(20)
WITH_PLANS = 12


def offices_free(seed: int):
    """`general_problem` with whole staff on odd seeds, desks that may bind on some sites, and
    without the rules on y and z alone (forced sites, office counts, the one-off budget): those are
    for the plan that chooses the offices to keep, not for its assignment."""
    rng = np.random.default_rng(3000 + seed)
    p = general_problem(seed).with_settings(staff_integer=bool(seed % 2))
    sites = tuple(replace(s, force=None, desks=float(rng.integers(3, 9)) if rng.random() < 0.4 else s.desks)
                  for s in p.sites)
    return replace(p, sites=sites).with_settings(
        budget_one_off=None, min_offices=None, max_offices=None)


def with_optima(count: int = WITH_PLANS):
    """The first `count` of these problems that have a plan, each with its optimum."""
    found = 0
    for seed in range(100):
        inst = build_instance(offices_free(seed))
        optimum = solve(inst)
        if optimum.status == "optimal":
            yield seed, inst, optimum
            found += 1
            if found == count:
                return


def fixed_offices_optimum(inst, y: np.ndarray, z: np.ndarray) -> float | None:
    """The general model's optimum with y and z fixed, by HiGHS through Pyomo."""
    m = build_model(inst)
    for j in m.J:
        m.y[j].fix(int(y[j]))
    for j, a in m.JA:
        m.z[j, a].fix(int(z[j, a]))
    outcome = run_highs(m, 60.0, 1e-9)
    return outcome.objective if outcome.status == "optimal" else None


def with_assignment(plan: Solution, found) -> Solution:
    x, n = found
    return replace(plan, x=x, n=n)


def assert_whole_where_staff_are(inst, plan: Solution) -> None:
    if inst.problem.settings.staff_integer:
        assert np.allclose(plan.n, np.round(plan.n))


def test_the_optimums_offices_get_the_optimums_cost():
    for _, inst, optimum in with_optima():
        plan = with_assignment(optimum, cheapest_assignment(inst, optimum.y, optimum.z, 60.0))
        assert cost_parts(inst, plan)["objective"] == pytest.approx(optimum.objective, rel=1e-6)
        assert keeps_rules(inst, plan)
        assert_whole_where_staff_are(inst, plan)


def test_other_offices_get_the_general_models_optimum_with_them_fixed():
    """The optimum's offices with a few flipped: some of these cannot serve everyone within the rules."""
    nones = 0
    for seed, inst, optimum in with_optima():
        rng = np.random.default_rng(seed)
        for _ in range(3):
            z = optimum.z.copy()
            flip = rng.integers(inst.n_sites, size=2), rng.integers(inst.n_agencies, size=2)
            z[flip] = ~z[flip]
            y = z.any(axis=1)
            found = cheapest_assignment(inst, y, z, 60.0)
            expected = fixed_offices_optimum(inst, y, z)
            if expected is None:
                assert found is None
                nones += 1
                continue
            plan = with_assignment(Solution("feasible", "", y=y, z=z), found)
            assert cost_parts(inst, plan)["objective"] == pytest.approx(expected, rel=1e-6)
            assert keeps_rules(inst, plan)
            assert_whole_where_staff_are(inst, plan)
    assert 0 < nones < 3 * WITH_PLANS


@pytest.mark.parametrize("seed", SEEDS)
def test_never_dearer_than_sending_everyone_to_the_nearest_office(seed):
    p = offices_free(seed)
    loose = replace(p, sites=tuple(replace(s, desks=None) for s in p.sites),
                    agencies=tuple(replace(a, budget=None) for a in p.agencies)).with_settings(budget_annual=None)
    inst = build_instance(loose)
    z = np.ones((inst.n_sites, inst.n_agencies), dtype=bool)
    z[np.random.default_rng(seed).integers(inst.n_sites)] = False  # one site closed
    plan = nearest(inst, z)
    if plan is None:
        pytest.skip("a pair has no other site")
    found = cheapest_assignment(inst, plan.y, plan.z, 60.0)
    assert found is not None
    assert cost_parts(inst, with_assignment(plan, found))["objective"] <= cost_parts(inst, plan)["objective"] + 1e-6


def _two_towns(travel_cost_per_km: float = 1.0, **settings):
    """Town B (500 people) has an office of its own that needs one staff; town A (1,500 people)
    lies 10 km from its own office and 20 km from B's.  A visit costs 1 per km to travel and
    0.1 in staff (100 / 1,000 visits), so filling B's spare staff pays."""
    fk = agency(staff_cost=100.0, visits_per_staff=1000.0, min_staff=1.0)
    return build_instance(problem(
        [fk], [area("A", 1500.0), area("B", 500.0)], [site("SA"), site("SB")],
        distances={("A", "SA"): 10.0, ("A", "SB"): 20.0, ("B", "SB"): 0.0},
        max_distance_km=50.0, travel_cost_per_km=travel_cost_per_km, **settings))


def test_people_go_past_their_nearest_office_to_fill_ones_minimum_staff():
    inst = _two_towns()
    both = np.array([[True], [True]])
    x, n = cheapest_assignment(inst, both.any(axis=1), both, 60.0)
    # B's one staff could serve 500 of A's visits, saving 0.5 staff at A (50), but those visits
    # would travel 10 km further (5,000): everyone goes to the nearest office.
    assert n.ravel().tolist() == pytest.approx([1.5, 1.0])
    inst = _two_towns(travel_cost_per_km=0.001)
    x, n = cheapest_assignment(inst, both.any(axis=1), both, 60.0)
    # At 0.001 a km it pays: 500 of A's visits go to B, whose one staff serve them and B's own.
    assert n.ravel().tolist() == pytest.approx([1.0, 1.0])
    assert x.tolist() == pytest.approx([2 / 3, 1 / 3, 1.0])


def test_the_budgets_limit_the_staff_and_no_assignment_is_found_beyond_them():
    inst = _two_towns(travel_cost_per_km=0.001, budget_annual=200.0)
    both = np.array([[True], [True]])
    found = cheapest_assignment(inst, both.any(axis=1), both, 60.0)
    assert found is not None and found[1].sum() == pytest.approx(2.0)  # 200: two staff, as filled
    inst = _two_towns(budget_annual=199.0)
    assert cheapest_assignment(inst, both.any(axis=1), both, 60.0) is None


def test_no_assignment_where_a_pair_has_no_open_office():
    inst = _two_towns()
    only_a = np.array([[True], [False]])
    assert cheapest_assignment(inst, only_a.any(axis=1), only_a, 60.0) is None
