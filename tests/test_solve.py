"""Hand-checked answers for every rule of the model, on one small network a person can price.

Agency FK: 100 a year per staff, 1,000 visits per staff, one visit per resident, so the
3,500 visits always cost 350 in staff.  Limit 50 km.

    distances   s1 (existing, 500/yr)   s2 (existing, 300/yr)   c3 (candidate, 100/yr, opens for 1,000)
    a1 (1,000)        0                       40                      60
    a2 (2,000)       40                        0                      30
    a3 (  500)       80                       30                       0

Keeping s2 alone reaches everyone: 300 + 350 = 650, the optimum.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from tiny import agency, area, problem, site

from optimizer.instance import build_instance
from optimizer.orlib import pmed_tables, read_pmed
from optimizer.plan import cost_parts
from optimizer.solve import Start, price_today, solve
from optimizer.workbook import read_problem, write_input_workbook

ORLIB = Path(__file__).resolve().parents[1] / "benchmarks" / "orlib"

DISTANCES = {
    ("a1", "s1"): 0.0, ("a1", "s2"): 40.0, ("a1", "c3"): 60.0,
    ("a2", "s1"): 40.0, ("a2", "s2"): 0.0, ("a2", "c3"): 30.0,
    ("a3", "s1"): 80.0, ("a3", "s2"): 30.0, ("a3", "c3"): 0.0,
}


def network(s2_desks=None, force=None, **settings):
    force = force or {}
    sites = [
        site("s1", "existing", annual_cost=500.0, agencies_now=("FK",), force=force.get("s1")),
        site("s2", "existing", annual_cost=300.0, desks=s2_desks, agencies_now=("FK",), force=force.get("s2")),
        site("c3", "candidate", annual_cost=100.0, open_cost=1000.0, force=force.get("c3")),
    ]
    areas = [area("a1", 1000), area("a2", 2000), area("a3", 500)]
    return problem([agency("FK")], areas, sites, DISTANCES, max_distance_km=50.0, **settings)


def operating(p, solution) -> set[str]:
    return {s.site_id for s, on in zip(p.sites, solution.y) if on}


def run(p):
    return solve(build_instance(p))


def test_cheapest_network_keeps_the_site_that_reaches_everyone():
    p = network()
    solution = run(p)
    assert solution.status == "optimal"
    assert solution.objective == pytest.approx(650.0)
    assert operating(p, solution) == {"s2"}
    assert solution.n.sum() == pytest.approx(3.5)


def test_desks_split_the_demand_and_open_the_candidate():
    # s2 holds 2 staff = 2,000 visits: a1 goes to s2, a3 to c3 and a2 is split between them.
    p = network(s2_desks=2.0)
    solution = run(p)
    assert operating(p, solution) == {"s2", "c3"}
    assert solution.objective == pytest.approx(300 + 100 + 1000 / 10 + 350)
    assert solution.n[1, 0] == pytest.approx(2.0)
    assert solution.n[2, 0] == pytest.approx(1.5)


@pytest.mark.parametrize(
    "force, expected_sites, expected_cost",
    [
        ({"s1": "open"}, {"s1", "c3"}, 500 + 100 + 100 + 350),
        ({"s2": "closed"}, {"s1", "c3"}, 500 + 100 + 100 + 350),
        ({"c3": "open"}, {"s2", "c3"}, 300 + 100 + 100 + 350),
    ],
)
def test_forced_sites_are_respected(force, expected_sites, expected_cost):
    p = network(force=force)
    solution = run(p)
    assert operating(p, solution) == expected_sites
    assert solution.objective == pytest.approx(expected_cost)


def test_min_offices_adds_the_cheapest_second_site():
    p = network(min_offices=2)
    solution = run(p)
    assert operating(p, solution) == {"s2", "c3"}
    assert solution.objective == pytest.approx(850.0)


def test_max_offices_with_desks_makes_the_plan_impossible_and_says_which_rules():
    solution = run(network(s2_desks=2.0, max_offices=1))
    assert solution.status == "infeasible"
    assert not solution.has_plan
    assert "desk limits" in solution.message and "min/max offices" in solution.message


def test_an_annual_budget_below_the_cheapest_plan_reports_the_least_budget():
    solution = run(network(budget_annual=600.0))
    assert solution.status == "infeasible"
    assert "annual budget" in solution.message
    assert "cheapest annual cost is 650" in solution.message
    assert "cheapest one-off cost is 0" in solution.message


def test_a_one_off_budget_keeps_the_candidate_closed():
    # Without opening c3 (1,000 one-off) the desks force s1 and s2 both to stay.
    p = network(s2_desks=2.0, budget_one_off=500.0)
    solution = run(p)
    assert operating(p, solution) == {"s1", "s2"}
    assert solution.objective == pytest.approx(500 + 300 + 350)


def test_an_agency_budget_binds_on_presence_and_staff():
    # Presence costs 200 per office: one office (200 + 350 staff) fits 600, two do not.
    p = network(s2_desks=2.0)
    p = dataclasses.replace(p, agencies=(agency("FK", presence_cost=200.0, budget=600.0),))
    solution = run(p)
    assert solution.status == "infeasible"
    assert "agency budgets" in solution.message


def test_coverage_mode_serves_the_most_visits_the_budget_allows_then_costs_least():
    # Within 500 a year: c3 alone serves a2 and a3 (2,500 visits) for 100 + 250;
    # s2 alone could serve at most 2,000 visits (300 + 200).
    p = network(objective="coverage", budget_annual=500.0)
    inst = build_instance(p)
    solution = solve(inst)
    assert solution.status == "optimal"
    assert operating(p, solution) == {"c3"}
    covered = (inst.visits[inst.k_area, inst.k_agency] * solution.x).sum()
    assert covered == pytest.approx(2500.0)
    assert solution.objective == pytest.approx(100 + 250 + 1000 / 10)


def test_cost_mode_refuses_areas_out_of_reach_before_solving():
    far = {**DISTANCES, ("a3", "s2"): 70.0, ("a3", "c3"): 70.0}
    solution = run(dataclasses.replace(network(), distances=far))
    assert solution.status == "infeasible"
    assert "no site within the agency's distance limit" in solution.message
    assert "a3 (a3) for FK" in solution.message


def test_todays_network_is_priced_with_its_own_sites_and_agencies():
    # Today: s1 and s2 with FK; a3 is served by s2 at 30 km.
    today = price_today(build_instance(network(budget_annual=1.0)))
    assert today.status == "optimal"
    assert today.objective == pytest.approx(500 + 300 + 350)


@pytest.fixture(scope="module")
def pmed1(tmp_path_factory):
    """OR-Library pmed1 (100 nodes, p = 5, optimum 5819) and its optimal solution."""
    path = tmp_path_factory.mktemp("pmed") / "pmed1.xlsx"
    write_input_workbook(pmed_tables(read_pmed(ORLIB / "pmed1.txt")), path)
    inst = build_instance(read_problem(path))
    return inst, solve(inst)


def test_a_time_limit_too_short_for_any_plan_is_an_error_that_says_so(pmed1):
    inst, _ = pmed1
    hurried = build_instance(inst.problem.with_settings(time_limit_s=1e-6), inst.table)
    solution = solve(hurried)
    assert solution.status == "error" and not solution.has_plan
    assert "No plan was found within the time limit of 1e-06 s" in solution.message


def test_a_start_gives_a_plan_even_when_the_time_limit_stops_the_search_at_once(pmed1):
    inst, best = pmed1
    assert best.status == "optimal" and best.objective == pytest.approx(5819)
    hurried = build_instance(inst.problem.with_settings(time_limit_s=1e-6), inst.table)
    solution = solve(hurried, Start.of(inst, best))
    assert solution.status == "feasible"
    assert solution.objective == pytest.approx(5819)
    assert "The time limit stopped the search" in solution.message


def test_re_solving_from_the_previous_plan_finds_the_same_optimum():
    first = build_instance(network(s2_desks=2.0))
    previous = solve(first)
    relaxed = build_instance(first.problem.with_settings(min_offices=3), first.table)
    assert solve(relaxed, Start.of(first, previous)).objective == pytest.approx(solve(relaxed).objective)
    assert solve(relaxed).objective == pytest.approx(500 + 300 + 100 + 100 + 350)


def test_a_model_too_large_for_the_machine_is_refused_before_it_is_built(monkeypatch):
    """The estimate and the ways out are said at once, instead of an out-of-memory kill minutes later."""
    from optimizer import solve as solve_module

    p = problem([agency("FK", min_staff=1.0)], [area("a1", 10), area("a2", 10)],
                [site("s1", "existing", agencies_now=("FK",)), site("s2")], {(a, s): 1.0 for a in ("a1", "a2") for s in ("s1", "s2")})
    inst = build_instance(p)
    assert solve_module.size_refusal(inst) is None
    message = solve_module.size_refusal(inst, memory_bytes=10_000)
    assert "4 area/site/agency pairs" in message and "min_staff to 0" in message
    monkeypatch.setattr(solve_module, "machine_memory_bytes", lambda: 10_000)
    refused = solve_module.solve(inst)
    assert refused.status == "error" and refused.message == message
    assert solve_module.price_today(inst).message.startswith("Today's network was not priced.")


def test_a_bound_proven_elsewhere_replaces_a_weaker_one_and_settles_the_status():
    from optimizer.solve import Solution, with_bound

    stopped = Solution("feasible", "stopped", objective=1000.0, bound=500.0, mip_gap=0.5, y=np.ones(1, dtype=bool))
    assert with_bound(stopped, 400.0, 0.01) is stopped  # weaker: nothing changes
    closer = with_bound(stopped, 995.0, 0.01)
    assert (closer.status, closer.bound, closer.mip_gap) == ("optimal", 995.0, pytest.approx(0.005))
    assert closer.message == "Optimal within the set mip_gap: no plan costs less than this one by more than 0.50%."
    still = with_bound(stopped, 900.0, 0.01)
    assert (still.status, still.bound) == ("feasible", 900.0)
    assert still.message == "The time limit stopped the search; this is the best plan found (gap 10.00%)."


def everyone_at_s2(inst) -> Start:
    """s2 and c3 open, with everyone's 3.5 staff put at s2 (which may have fewer desks)."""
    return Start(np.array([0.0, 1.0, 1.0]), np.array([[0.0], [1.0], [1.0]]), np.array([[0.0], [3.5], [0.0]]),
                 {k: float(k[1] == 1) for k in inst.triples()})


def test_a_start_that_breaks_the_desks_is_completed_with_its_sites_before_the_search():
    """s2 and c3 open, but everyone's staff put at s2, beyond its 2 desks: the completion moves the
    staff that do not fit to c3, so HiGHS starts from a plan that keeps the desks, here the optimal one."""
    from models import build_model
    from optimizer.solve import apply_start, completed

    p = network(s2_desks=2.0)
    inst = build_instance(p)
    start = everyone_at_s2(inst)
    m = build_model(inst)
    assert apply_start(m, start)
    assert completed(m, time_limit_s=10.0)
    assert m.n[1, 0].value <= 2.0 + 1e-9  # within s2's desks
    assert m.n[1, 0].value + m.n[2, 0].value == pytest.approx(3.5)
    solution = solve(inst, start, complete=True)
    assert solution.objective == pytest.approx(300 + 100 + 1000 / 10 + 350)
    assert operating(p, solution) == {"s2", "c3"}


# Six towns 10 km apart along a parallel, one candidate site and one area in each.
TOWNS = [(60.0, 15.0 + k * 0.1794) for k in range(6)]  # 0.1794 degrees of longitude at 60 N: about 10 km


def line_of_towns(**settings):
    areas = [area(f"a{k}", [3000, 500, 500, 500, 500, 3000][k], lat, lon) for k, (lat, lon) in enumerate(TOWNS)]
    sites = [site(f"c{k}", annual_cost=400.0, open_cost=0.0, desks=10.0, lat=lat, lon=lon)
             for k, (lat, lon) in enumerate(TOWNS)]
    return problem([agency("FK", min_staff=1.0)], areas, sites, travel_cost_per_km=0.05, **settings)


def test_the_sites_beside_an_open_one_are_the_nearest_closed_ones():
    from optimizer.solve import nearby_sites

    inst = build_instance(line_of_towns())
    assert nearby_sites(inst, np.array([0, 0, 1, 0, 0, 0])).tolist() == [False, True, True, False, False, False]
    assert nearby_sites(inst, np.array([1, 0, 0, 0, 0, 1]), neighbours=2).tolist() == [True, True, True, True, True, True]


def searched_from_c2(most_neighbours: int, monkeypatch):
    """The nearby search on the line of towns from c2 alone (everyone travels to the middle)."""
    from models import build_model
    from optimizer import solve as solve_module

    monkeypatch.setattr(solve_module, "_MOST_NEIGHBOURS", most_neighbours)
    inst = build_instance(line_of_towns())
    at_c2 = {k: float(k[1] == 2) for k in inst.triples()}
    m = build_model(inst)
    start = Start(np.eye(6)[2], np.eye(6)[2][:, None], np.array([[0], [0], [8], [0], [0], [0]]), at_c2)
    assert solve_module.apply_start(m, start) and solve_module.completed(m, 10.0)
    start_cost = pyo_value(m.total_cost)
    found = solve_module.searched_nearby(m, inst, solve_module._Outcome("feasible", start_cost, 100.0, 0.99, 0.0), 60.0)
    assert found.objective < start_cost and found.bound == 100.0 and found.status == "feasible"
    assert found.gap == pytest.approx((found.objective - 100.0) / found.objective)
    return inst, m, found


def test_a_search_among_nearby_sites_improves_the_plan_and_keeps_the_whole_models_bound(monkeypatch):
    """With the closed site beside each open one, the search moves step by step from c2 to c0 and c3
    (5,354), where it cannot improve, and says only what the whole model proved.  The optimum
    (2,751) needs c5, which is beside no open site: a local search, with the whole model's gap."""
    from optimizer.solve import nearby_sites, run_highs

    inst, m, found = searched_from_c2(1, monkeypatch)
    assert [round(m.y[j].value) for j in m.J] == [1, 0, 0, 1, 0, 0] and found.objective == pytest.approx(5353.94)
    for j in np.flatnonzero(~nearby_sites(inst, np.array([round(m.y[j].value) for j in m.J]))):
        m.y[j].fix(0)
    assert run_highs(m, 60.0, 0.0).objective == pytest.approx(found.objective)
    assert solve(inst).objective == pytest.approx(2750.79)


def test_where_one_site_beside_each_brings_nothing_better_two_are_tried(monkeypatch):
    """From c0 and c3, the two closed sites beside each free c1, c2, c4 and c5 as well: the
    search reaches an optimum here (c0, c2 and c5; c3 for c2 costs the same)."""
    inst, m, found = searched_from_c2(2, monkeypatch)
    assert found.objective == pytest.approx(solve(inst).objective) == pytest.approx(2750.79)
    assert [round(m.y[j].value) for j in m.J] == [1, 0, 1, 0, 0, 1]


def pyo_value(expr) -> float:
    import pyomo.environ as pyo

    return float(pyo.value(expr))


class _StopsAfterCompletion:
    """A planner who presses Stop while HiGHS completes the start."""

    def __init__(self):
        self.pressed = False

    def progress(self, incumbent, bound):
        pass

    def should_stop(self):
        return self.pressed


def test_a_stop_while_the_start_is_completed_gives_the_completed_start_without_a_search(monkeypatch):
    """HiGHS hears no Stop inside its root LP, so no search may begin once the planner has asked."""
    from optimizer import solve as solve_module
    from optimizer.solve import watched_by

    p = network(s2_desks=2.0, travel_cost_per_km=0.01)  # priced travel: no nearest-office stage after
    inst = build_instance(p)
    start = everyone_at_s2(inst)
    planner = _StopsAfterCompletion()
    runs = []
    run_highs = solve_module.run_highs

    def counted(*args, **kwargs):
        runs.append(args)
        outcome = run_highs(*args, **kwargs)
        planner.pressed = True
        return outcome

    monkeypatch.setattr(solve_module, "run_highs", counted)
    with watched_by(planner):
        solution = solve(inst, start, complete=True)
    assert len(runs) == 1  # the completion's, and no search after it
    assert solution.status == "feasible" and solution.bound is None
    assert operating(p, solution) == {"s2", "c3"}  # the start's sites
    assert solution.n[1, 0] <= 2.0 + 1e-9 and solution.n[1, 0] + solution.n[2, 0] == pytest.approx(3.5)
    assert solution.objective == pytest.approx(cost_parts(inst, solution)["objective"])
    assert solution.message == "You stopped the search; this is the best plan found (gap unknown)."
