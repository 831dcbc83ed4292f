"""The pipeline prices today's network in a second process, also after HiGHS has run in this one; the
general model starts from, and is bounded by, nearest-office problems."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from benchmarks.generate import national
from models.nearest_office import eligible
from optimizer import pipeline
from optimizer import solve as solve_module
from optimizer.instance import build_instance
from optimizer.pipeline import Cheapest, general_hint, solve_instance, unsearched_plan
from optimizer.plan import cost_parts
from optimizer.rules import keeps_rules, overspend
from optimizer.solve import Solution, Start, solve
from tests.test_radius import random_problem
from tests.tiny import assert_a_plan_within_desks

ROOT = Path(__file__).resolve().parents[1]

# A process forked after HiGHS has started its worker threads spins for ever in its first
# parallel task; the Swedish sample's pricing has one.  So: solve the demo here, then plan
# the Swedish sample with today's network priced in the second process.
_TWO_PLANS = textwrap.dedent(
    """
    from optimizer.pipeline import plan, prepare
    from optimizer.workbook import read_problem

    if __name__ == "__main__":
        plan(prepare(read_problem("inputs/demo.xlsx")), with_today=False)
        result = plan(prepare(read_problem("inputs/sweden.xlsx")))
        print(result.status, round(result.figures["annual cost"] - result.today["annual cost"]))
    """
)


def test_a_second_plan_in_the_same_process_prices_today_and_ends():
    done = subprocess.run([sys.executable, "-c", _TWO_PLANS], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    status, change = done.stdout.split()
    assert status == "optimal" and int(change) < 0  # the plan costs less a year than today's network


def _with_minimum_staff_and_desks(seed: int):
    rng = np.random.default_rng(seed)
    p = random_problem(seed)
    return replace(p, agencies=tuple(replace(a, min_staff=float(rng.integers(1, 3))) for a in p.agencies),
                   sites=tuple(replace(s, desks=float(rng.integers(2, 40))) for s in p.sites))


@pytest.mark.parametrize("seed", range(30))
def test_the_relaxation_bounds_the_general_model_and_its_start_keeps_the_budgets(seed):
    """Minimum staff and desks added: the nearest-office relaxation's bound is below the general optimum,
    a start kept its budgets, and the general model started from it reaches the same optimum."""
    inst = build_instance(_with_minimum_staff_and_desks(seed))
    assert not eligible(inst)
    general = solve(inst)
    start, bound, _ = general_hint(inst)
    if general.status == "infeasible":
        assert solve_instance(inst).status == "infeasible"
        return
    scale = 1e-6 * max(1.0, abs(general.objective))
    assert bound is not None and bound <= general.objective + scale
    if start is not None:
        annual, agencies = overspend(inst, start)
        assert annual <= scale and np.all(agencies <= scale)
    assert solve_instance(inst).objective == pytest.approx(general.objective, rel=1e-7, abs=1e-6)


@pytest.mark.parametrize("seed", range(30))
def test_where_the_general_model_is_too_large_the_unsearched_plan_is_a_plan_and_its_gap_is_proven(seed):
    """The plan made without the general model keeps every rule, costs what it says, and is bracketed
    with the general optimum by its bound."""
    inst = build_instance(_with_minimum_staff_and_desks(seed))
    general = solve(inst)
    plan = unsearched_plan(inst)
    if not plan.has_plan:
        return
    assert general.status == "optimal"
    assert plan.objective == pytest.approx(cost_parts(inst, plan)["objective"])
    assert plan.bound <= general.objective + 1e-6 <= plan.objective + 2e-6
    assert plan.mip_gap == pytest.approx((plan.objective - plan.bound) / plan.objective)
    assert keeps_rules(inst, plan)
    assert_a_plan_within_desks(inst, Start.of(inst, plan))


def test_a_general_model_too_large_to_build_gets_the_unsearched_plan_with_its_gap(monkeypatch):
    inst = build_instance(_with_minimum_staff_and_desks(4))  # optimum 1,756.1; unsearched 1,756.1 (2,278.4 unmoved)
    monkeypatch.setattr(solve_module, "MODEL_BYTES_PER_TRIPLE", 10**15)  # no machine holds it
    solution = solve_instance(inst)
    assert solution.has_plan and solution.message.startswith("The general model is too large to build")
    assert f"by more than {solution.mip_gap:.2%}" in solution.message
    assert solution.objective == pytest.approx(unsearched_plan(inst).objective)
    monkeypatch.setattr(solve_module, "PLAN_BYTES_PER_TRIPLE", 10**15)  # nor its arrays: refused
    refused = solve_instance(inst)
    assert not refused.has_plan and refused.message.startswith("This problem is too large for the general model")


def _start_of_seed_4():
    """The instance of seed 4 (optimum 1,756.1) and its thinned start (2,278.4), priced."""
    inst = build_instance(_with_minimum_staff_and_desks(4))
    start = general_hint(inst, thin=True).start
    return inst, replace(start, objective=cost_parts(inst, start)["objective"])


def test_a_plan_offered_while_one_is_being_made_is_let_go_and_the_one_made_is_improved():
    inst, start = _start_of_seed_4()
    cheapest = Cheapest(inst, start, time.perf_counter() + 60.0)
    gate = threading.Event()
    offered = []
    cheapest.consider(lambda: gate.wait() and start)  # busy until the gate opens
    cheapest.consider(lambda: offered.append("made") or start)
    gate.set()
    best = cheapest.best()
    assert offered == []
    assert start.objective == pytest.approx(2278.4210526)
    assert best.objective == pytest.approx(1756.1210526)  # the optimum, by moving offices
    assert best.objective == pytest.approx(cost_parts(inst, best)["objective"])
    assert keeps_rules(inst, best)


def test_no_plan_is_started_after_the_deadline():
    inst, start = _start_of_seed_4()
    cheapest = Cheapest(inst, start, time.perf_counter() - 1.0)
    cheapest.consider(lambda: pytest.fail("a plan was made after the deadline"))
    assert cheapest.best() is start


def test_without_an_incumbent_the_first_plan_that_keeps_every_rule_is_kept():
    """The unsearched path moves its first plan before it has a start within the budgets."""
    inst, start = _start_of_seed_4()
    assert Cheapest(inst, None, time.perf_counter() + 60.0).best() is None
    cheapest = Cheapest(inst, None, time.perf_counter() + 60.0)
    cheapest.consider(lambda: start)
    best = cheapest.best()
    assert best.objective == pytest.approx(1756.1210526)  # the optimum, by moving offices
    assert keeps_rules(inst, best)


def _moved_at_a_budget(monkeypatch, rounds: int) -> tuple[list[float], Solution, object]:
    """300 generated areas x 100 sites with the annual budget 2 % below what the plan without one
    spends (665.6 M): the costs of the plans `Cheapest` keeps as it improves the relaxation's
    first plan, in `rounds` rounds of moves, and the best of them."""
    monkeypatch.setattr(pipeline, "ROOM_ROUNDS", rounds)
    base = national(300, 100, nearest_office=False)
    first = general_hint(build_instance(base)).first
    inst = build_instance(base.with_settings(budget_annual=0.98 * 665_649_956))
    cheapest = _Recording(inst, None, time.perf_counter() + 120.0)
    cheapest.consider(lambda: first)
    return cheapest.kept, cheapest.best(), inst


class _Recording(Cheapest):
    """Cheapest, with the cost of every plan it keeps, in turn."""

    def __init__(self, *args):
        super().__init__(*args)
        self.kept: list[float] = []

    def keep(self, plan: Solution, cost: float) -> None:
        self.kept.append(cost)
        super().keep(plan, cost)


def test_a_plan_the_budget_held_is_moved_again_with_the_room_its_assignment_left(monkeypatch):
    """The moves staff every office for its nearest people; the assignment then fills minimums
    from next door with fewer staff, and leaves part of the budget unspent.  A second round of
    moves, with the budget that held the first loosened by that much, spends it."""
    rounds = pipeline.ROOM_ROUNDS
    once, first_best, _ = _moved_at_a_budget(monkeypatch, rounds=1)
    kept, best, inst = _moved_at_a_budget(monkeypatch, rounds=rounds)
    assert kept[0] == pytest.approx(once[0]) and len(once) == 1
    assert len(kept) >= 2 and kept == sorted(kept, reverse=True)
    assert best.objective < first_best.objective - 1e-3 * first_best.objective  # 923.5 M, then 917.0 M
    assert best.objective == pytest.approx(cost_parts(inst, best)["objective"])
    assert keeps_rules(inst, best)
    assert cost_parts(inst, best)["annual cost"] <= inst.problem.settings.budget_annual


def test_a_general_model_too_large_for_highss_search_is_searched_from_the_moves_plan(monkeypatch):
    """300 generated areas with minimum staff and desks, as if they had more assignments than HiGHS
    can search: the plan made without HiGHS is kept where it is proven within the gap, and is
    otherwise HiGHS's start, which HiGHS improves on here."""
    inst = build_instance(national(300, 100).with_settings(time_limit_s=30.0))
    monkeypatch.setattr(solve_module, "_NEARBY_TRIPLES", len(inst.k_area) - 1)
    made = []
    monkeypatch.setattr(pipeline, "unsearched_plan",
                        lambda inst, start=None: made.append(unsearched_plan(inst, start)) or made[-1])
    plan = solve_instance(inst)
    moved = made[-1]
    assert moved.status == "feasible" and moved.mip_gap > inst.problem.settings.mip_gap
    assert not plan.message.startswith("The general model is too large")  # HiGHS searched
    assert plan.objective <= moved.objective
    assert keeps_rules(inst, plan) and plan.objective == pytest.approx(cost_parts(inst, plan)["objective"])
    assert moved.bound <= plan.bound <= plan.objective

    loose = replace(inst, problem=inst.problem.with_settings(mip_gap=0.5))
    proven = solve_instance(loose)  # the moves' plan is proven within 50 %: HiGHS does not search
    assert proven.message.startswith("The general model is too large for HiGHS to search within the time limit")
    assert proven.objective == pytest.approx(made[-1].objective)

    monkeypatch.setattr(pipeline, "unsearched_plan", lambda inst, start=None: Solution("error", "no plan", seconds=0.0))
    searched = solve_instance(inst)  # the moves found none: HiGHS looks for a plan itself
    assert searched.has_plan and keeps_rules(inst, searched)


def test_a_re_solve_too_large_for_highss_search_begins_with_the_previous_plans_offices(monkeypatch):
    """The same 300 areas, re-solved from their plan after the annual budget is cut by 2 %: the
    moves begin from the previous plan's offices (no nearest-office relaxation is solved), bring
    them within the new budget, and the plan keeps every rule."""
    inst = build_instance(national(300, 100).with_settings(time_limit_s=30.0))
    monkeypatch.setattr(solve_module, "_NEARBY_TRIPLES", len(inst.k_area) - 1)
    previous = solve_instance(inst)
    annual = cost_parts(inst, previous)["annual cost"]
    cut = replace(inst, problem=inst.problem.with_settings(budget_annual=0.98 * annual, mip_gap=0.5))
    assert not keeps_rules(cut, previous)
    monkeypatch.setattr(pipeline, "general_hint", lambda *args, **kwargs: pytest.fail("the relaxation was solved"))
    plan = solve_instance(cut, Start.of(inst, previous))
    assert plan.message.startswith("The general model is too large for HiGHS to search")
    assert "the offices of the previous plan" in plan.message
    assert keeps_rules(cut, plan) and plan.objective == pytest.approx(cost_parts(cut, plan)["objective"])
    assert cost_parts(cut, plan)["annual cost"] <= 0.98 * annual * (1 + 1e-9)
    assert plan.bound <= plan.objective and plan.mip_gap <= 0.5


def test_an_earlier_plans_offices_become_a_plan_of_the_instance_that_serves_every_pair():
    inst = build_instance(national(300, 100))
    previous = solve_instance(inst)
    begun = pipeline.from_start(inst, Start.of(inst, previous))
    assert np.array_equal(begun.z, previous.z & previous.y[:, None])
    pair = inst.k_agency.astype(np.int64) * inst.n_areas + inst.k_area
    assert np.allclose(np.bincount(np.unique(pair, return_inverse=True)[1], begun.x), 1.0)
    assert cost_parts(inst, begun)["objective"] >= previous.objective - 1e-6 * previous.objective
    other = build_instance(national(300, 120))
    assert pipeline.from_start(other, Start.of(inst, previous)) is None  # other sites
