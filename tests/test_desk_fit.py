"""A nearest-office plan made into a start for the general model: every office at its minimum
staff, every visit served, no site over its desks, and the general model takes it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from models.office_network import build_model
from optimizer.desk_fit import nearest_plan, thinned, within_desks
from optimizer.instance import build_instance
from optimizer.plan import cost_parts
from optimizer.radius import hint, relaxed
from optimizer.solve import Solution, Start, apply_start, completed, solve
from tests.test_pipeline import _with_minimum_staff_and_desks
from tests.tiny import agency, area, assert_a_plan_within_desks, problem, site


def plan_of(inst, open_sites: list[int], served_at: dict[str, str]) -> Solution:
    """A plan with `open_sites` open, every agency present there, and each area served at its site."""
    ids = [s.site_id for s in inst.problem.sites]
    y = np.zeros(inst.n_sites, dtype=bool)
    y[open_sites] = True
    z = np.repeat(y[:, None], inst.n_agencies, axis=1)
    x = np.array([float(served_at[inst.problem.areas[i].area_id] == ids[j]) for i, j in zip(inst.k_area, inst.k_site)])
    return Solution("feasible", "", y=y, z=z, n=np.zeros(z.shape), x=x)


def start_within_desks(inst, plan: Solution) -> Start | None:
    """`within_desks`'s plan keyed by triple, as the general model takes it."""
    fitted = within_desks(inst, plan)
    return None if fitted is None else Start.of(inst, fitted)


# One agency; 1,000 visits per staff.  The town's office T (3 desks) is nearest to all 5,000
# visits; N (10 desks) is 2 km on, F (10 desks) 6 km on.
TOWN = problem(
    [agency("FK", min_staff=1.0)],
    [area("east", 2000.0), area("west", 3000.0)],
    [site("T", desks=3.0), site("N", desks=10.0), site("F", desks=10.0)],
    {("east", "T"): 1.0, ("east", "N"): 3.0, ("east", "F"): 7.0,
     ("west", "T"): 1.0, ("west", "N"): 2.0, ("west", "F"): 6.0},
    travel_cost_per_km=1.0,
)


def test_an_office_over_its_desks_sends_visits_to_an_open_office_with_room_nearest_first():
    inst = build_instance(TOWN)
    start = start_within_desks(inst, plan_of(inst, [0, 1, 2], {"east": "T", "west": "T"}))
    assert_a_plan_within_desks(inst, start)
    assert start.n[:, 0].tolist() == pytest.approx([3.0, 2.0, 1.0])  # F keeps its minimum only
    # West is 1 km farther from N, east 2 km: west's visits move first, 2 staff worth of them.
    assert start.x[1, 1, 0] == pytest.approx(2 / 3) and start.x.get((0, 1, 0), 0.0) == 0.0  # unserved: not keyed


def test_where_no_open_office_has_room_the_one_that_can_take_most_is_opened():
    inst = build_instance(TOWN)
    start = start_within_desks(inst, plan_of(inst, [0], {"east": "T", "west": "T"}))
    assert_a_plan_within_desks(inst, start)
    assert start.y.tolist() == [1.0, 1.0, 0.0]  # N, not F: both could take the 2 staff over
    assert start.n[:, 0].tolist() == pytest.approx([3.0, 2.0, 0.0])


def test_whole_staff_are_counted_when_staff_are_whole():
    inst = build_instance(replace(TOWN, settings=replace(TOWN.settings, staff_integer=True)))
    start = start_within_desks(inst, plan_of(inst, [0, 1], {"east": "T", "west": "N"}))
    assert start.n[:, 0].tolist() == [2.0, 3.0, 0.0]  # already within the desks: nothing moves
    tight = replace(TOWN, sites=(site("T", desks=3.0), site("N", desks=2.5), site("F", desks=10.0)))
    inst = build_instance(replace(tight, settings=replace(tight.settings, staff_integer=True)))
    start = start_within_desks(inst, plan_of(inst, [0, 1], {"east": "T", "west": "T"}))
    assert_a_plan_within_desks(inst, start)
    assert start.n[:, 0].tolist() == [3.0, 2.0, 0.0]  # N holds 2 whole staff, not 2.5


def test_an_agency_whose_minimum_staff_does_not_fit_leaves_for_an_office_with_room():
    two = problem(
        [agency("FK", min_staff=2.0), agency("PM", min_staff=2.0)],
        [area("east", 1000.0)],
        [site("T", desks=3.0), site("N", desks=10.0)],
        {("east", "T"): 1.0, ("east", "N"): 3.0},
    )
    inst = build_instance(two)
    start = start_within_desks(inst, plan_of(inst, [0, 1], {"east": "T"}))
    assert_a_plan_within_desks(inst, start)
    # 1 staff of visits each, 2 of minimum each: 4 at T's 3 desks.  FK (first among equals) leaves.
    assert start.z.tolist() == [[0.0, 1.0], [1.0, 1.0]]
    assert start.n.tolist() == [[0.0, 2.0], [2.0, 2.0]]


def test_no_start_when_no_office_within_reach_has_room():
    cramped = replace(TOWN, sites=tuple(replace(s, desks=1.0) for s in TOWN.sites))
    inst = build_instance(cramped)
    assert within_desks(inst, plan_of(inst, [0], {"east": "T", "west": "T"})) is None


@pytest.mark.parametrize("seed", range(30))
def test_the_relaxations_plan_fitted_to_the_desks_is_a_start_the_general_model_completes(seed):
    """Random problems with minimum staff and desks (2 to 39 a site), budgets and office counts
    aside: the repair gives a start for each one that has a plan (17 of the 25 the relaxation
    plans; 21 of those 25 were over some site's desks), and HiGHS completes it."""
    p = _with_minimum_staff_and_desks(seed)
    p = replace(p, agencies=tuple(replace(a, budget=None) for a in p.agencies)).with_settings(
        budget_annual=None, budget_one_off=None, min_offices=None, max_offices=None)
    inst = build_instance(p)
    nearest = hint(inst, relaxed(p))
    if nearest is None:
        return  # locks no plan can keep
    start = start_within_desks(inst, nearest)
    if start is None:
        assert solve(inst).status == "infeasible"
        return
    assert_a_plan_within_desks(inst, start)
    m = build_model(inst)
    assert apply_start(m, start) and completed(m, 60.0)
    within = within_desks(inst, nearest)
    thin = thinned(inst, within)
    assert_a_plan_within_desks(inst, Start.of(inst, thin))
    assert cost_parts(inst, thin)["objective"] <= cost_parts(inst, within)["objective"] + 1e-6
    assert cost_parts(inst, thin)["objective"] >= solve(inst).objective - 1e-6


# One agency (staff 1,000 a year, at least 1 at an office, 1,000 visits each; presence 500 a year);
# sites cost 2,000 a year; travel 1 a km.  T serves the town (5,000 visits), N a village of 200
# visits 3 km nearer than T, F a hamlet of 100 visits 39 km nearer than T.
def _thinly_served(**agency_fields):
    fields = dict(min_staff=1.0, staff_cost=1000.0, presence_cost=500.0, **agency_fields)
    return problem(
        [agency("FK", **fields)],
        [area("town", 5000.0), area("village", 200.0), area("hamlet", 100.0)],
        [site(s, annual_cost=2000.0) for s in ("T", "N", "F")],
        {("town", "T"): 1.0, ("village", "N"): 1.0, ("village", "T"): 4.0, ("hamlet", "F"): 1.0, ("hamlet", "T"): 40.0},
        travel_cost_per_km=1.0,
    )


def test_an_office_that_costs_more_than_it_saves_is_taken_out_and_one_that_pays_stays():
    inst = build_instance(_thinly_served())
    plan = thinned(inst, plan_of(inst, [0, 1, 2], {"town": "T", "village": "N", "hamlet": "F"}))
    # N: its minimum staff, presence and site (3,500) against 0.2 staff at T and 600 of travel: out.
    # F: 3,500 against 0.1 staff at T and 3,900 of travel: stays.
    assert plan.y.tolist() == [True, False, True]
    assert plan.n[:, 0].tolist() == pytest.approx([5.2, 0.0, 1.0])
    assert cost_parts(inst, plan)["objective"] == pytest.approx(17_100.0)
    assert solve(inst).objective == pytest.approx(17_100.0)  # and that is the optimum


def test_a_site_whose_agencies_pay_only_together_closes_with_all_of_them():
    """Two agencies at the village's office: either one leaving saves its staff and presence (1,500)
    and costs 0.2 staff at T and 1,400 of travel; both leaving also close the site (4,000)."""
    two = problem(
        [agency(a, min_staff=1.0, staff_cost=1000.0, presence_cost=500.0) for a in ("FK", "PM")],
        [area("town", 5000.0), area("village", 200.0)],
        [site("T", annual_cost=2000.0), site("N", annual_cost=4000.0)],
        {("town", "T"): 1.0, ("village", "N"): 1.0, ("village", "T"): 8.0},
        travel_cost_per_km=1.0,
    )
    inst = build_instance(two)
    plan = thinned(inst, plan_of(inst, [0, 1], {"town": "T", "village": "N"}))
    assert plan.y.tolist() == [True, False] and plan.z.tolist() == [[True, True], [False, False]]
    assert cost_parts(inst, plan)["objective"] == pytest.approx(solve(inst).objective)


def test_an_existing_site_is_not_closed_beyond_the_one_off_budget_or_the_office_count():
    base = _thinly_served()
    existing = replace(base, sites=tuple(replace(s, status="existing", close_cost=5000.0) for s in base.sites))
    served = {"town": "T", "village": "N", "hamlet": "F"}
    for settings in ({"budget_one_off": 4000.0}, {"min_offices": 3}):
        inst = build_instance(existing.with_settings(**settings))
        assert thinned(inst, plan_of(inst, [0, 1, 2], served)).y.tolist() == [True, True, True]
    inst = build_instance(existing.with_settings(budget_one_off=5000.0))  # 500 a year over 10 years: pays
    assert thinned(inst, plan_of(inst, [0, 1, 2], served)).y.tolist() == [True, False, True]


# Two agencies; the village V is 40 km from T and 10 km from N, within FK's 50 km but only
# PM's reach of N.  C is forced closed.
REACH = problem(
    [agency("FK", max_distance_km=50.0), agency("PM", max_distance_km=20.0)],
    [area("town", 1000.0), area("village", 300.0)],
    [site("T"), site("N"), site("C", force="closed")],
    {("town", "T"): 1.0, ("town", "N"): 30.0, ("town", "C"): 2.0,
     ("village", "T"): 40.0, ("village", "N"): 10.0, ("village", "C"): 5.0},
)


def test_the_chosen_offices_serve_each_pair_at_its_nearest_and_an_office_is_opened_for_pairs_without_one():
    inst = build_instance(REACH)
    z = np.array([[True, True], [True, False], [True, True]])  # C chosen too: it stays closed
    plan = nearest_plan(inst, z)
    start = Start.of(inst, plan)
    assert plan.z.tolist() == [[True, True], [True, True], [False, False]]  # PM opened at N for the village
    assert plan.y.tolist() == [True, True, False]
    assert {k: share for k, share in start.x.items() if share} == {(0, 0, 0): 1.0, (1, 1, 0): 1.0, (0, 0, 1): 1.0, (1, 1, 1): 1.0}


def test_no_plan_from_the_choices_when_a_pair_reaches_only_sites_forced_closed():
    walled = replace(REACH, distances={**REACH.distances, ("village", "N"): 60.0})
    inst = build_instance(walled)
    assert nearest_plan(inst, np.ones((3, 2), dtype=bool)) is None
