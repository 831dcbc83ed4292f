"""Solving nearest-office problems with the radius formulation (`models.nearest_office`), exactly.

Each pair starts with the levels of its few nearest sites.  A model that keeps fewer levels
than a pair needs under-prices it, so every solve gives a lower bound, and every plan has
a true cost: everyone at the nearest office.  So:

1. the LP relaxation is solved and the pairs whose deepest w is still positive are
   deepened in place, from the last basis, until none is: the bound of the full LP;
2. if that LP's sites and agencies are already whole, it is the plan;
3. otherwise the MIP is solved from the best plan so far; pairs its plan shows short are
   deepened and the MIP solved again, until the best plan is proven within the gap.

On the p-median instances and the national scale series, most pairs never need more than
a handful of rows, which is where the speed comes from.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import replace

import highspy
import numpy as np

from models.nearest_office import (
    Columns,
    Levels,
    RadiusModel,
    decision_costs,
    demand_levels,
    pair_travel,
    staff_serving,
)

from . import lagrangian
from .instance import Instance
from .lagrangian import Relaxation, Step
from .problem import Problem
from .solve import Solution, Start, current_watcher, hand_start, optimal_message, stopped_message, watched_by

log = logging.getLogger(__name__)

# Levels each pair starts with; a pair whose plan needs more gets at least twice as many.
FIRST_LEVELS = 8
# Steps of the Lagrangian search before the radius model takes over the proof.
LAGRANGIAN_STEPS = 60
# Beyond this many level rows the radius model's LP takes minutes (20,000 areas x 2,000 sites:
# 1.2 million rows, 166 s for one LP), and the Lagrangian search goes on alone instead.
MOST_LEVEL_ROWS = 300_000
# HiGHS's heuristics that look for plans; proving pmed16 from its optimal plan takes 25 s
# with them and 15 s without.
_HEURISTICS = ("mip_heuristic_run_rins", "mip_heuristic_run_rens", "mip_heuristic_run_root_reduced_cost",
               "mip_heuristic_run_feasibility_jump")
# HiGHS's own absolute gap: a relative gap of 0 is met by a difference this small.
_ABS_GAP = 1e-6


def nearest_level(inst: Instance, lv: Levels, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: the position (into `lv.order`) of its nearest open triple and that triple's level.

    A pair with no office of its agency open gets position len(order) and level n_levels.
    """
    triples = lv.order
    is_open = z[inst.k_site[triples], inst.k_agency[triples]]
    positions = np.where(is_open, np.arange(len(triples)), len(triples))
    nearest = np.minimum.reduceat(positions, lv.start[:-1])
    level = np.append(lv.level, 0)[nearest]
    return nearest, np.where(nearest < len(triples), level, lv.n_levels)


def true_cost(inst: Instance, lv: Levels, y: np.ndarray, z: np.ndarray) -> float:
    """The plan's objective with everyone at the nearest office (inf when a pair has none)."""
    _, level = nearest_level(inst, lv, z)
    if np.any(level >= lv.n_levels):
        return math.inf
    costs, constant = decision_costs(inst, Columns(inst.n_sites, inst.n_agencies))
    travel = pair_travel(inst, lv)[lv.first + level].sum()
    return float(costs @ np.concatenate([y, z.ravel()]) + constant + travel)


def first_depth(inst: Instance, lv: Levels, plan: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """FIRST_LEVELS per pair, and as many as the best plan so far needs to be priced exactly."""
    depth = np.minimum(lv.n_levels - 1, FIRST_LEVELS)
    if plan is not None:
        _, level = nearest_level(inst, lv, plan[1])
        depth = np.maximum(depth, np.minimum(lv.n_levels - 1, level))
    return depth


def _fits(inst: Instance, start: Start | None) -> bool:
    return start is not None and start.z.shape == (inst.n_sites, inst.n_agencies)


class _Search:
    """The best plan so far, the best bound so far, and the clock."""

    def __init__(self, inst: Instance, lv: Levels):
        self.inst, self.lv = inst, lv
        self.settings = inst.problem.settings
        self.started = time.perf_counter()
        self.cost, self.plan, self.lower = math.inf, None, -math.inf

    def offer(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Keep the plan if it is the best so far; returns each pair's nearest level in it."""
        z = z & y[:, None]
        cost = true_cost(self.inst, self.lv, y, z)
        if cost < self.cost:
            self.cost, self.plan = cost, (y, z)
        return nearest_level(self.inst, self.lv, z)[1]

    def bound(self, value: float) -> None:
        if math.isfinite(value):
            self.lower = max(self.lower, value)

    def proven(self) -> bool:
        gap = max(self.settings.mip_gap * abs(self.cost), _ABS_GAP * max(1.0, abs(self.cost)))
        return math.isfinite(self.cost) and self.cost - self.lower <= gap

    def report(self) -> None:
        """Tell the app's watcher, if any, the best plan and bound so far."""
        watcher = current_watcher()
        if watcher is not None:
            watcher.progress(self.cost if math.isfinite(self.cost) else None,
                             self.lower if math.isfinite(self.lower) else None)

    def time_left(self) -> float:
        return self.settings.time_limit_s - (time.perf_counter() - self.started)

    def stopped(self) -> bool:
        watcher = current_watcher()
        return self.time_left() <= 0 or (watcher is not None and watcher.should_stop())

    def run(self, model: RadiusModel) -> highspy.HighsModelStatus:
        """One HiGHS run within the time left, heard by the app's watcher, stopped when it asks."""
        h = model.h
        h.setOptionValue("time_limit", max(self.time_left(), 0.05))
        watcher = current_watcher()

        def check(event) -> None:
            bound = event.data_out.mip_dual_bound
            plan = self.cost if math.isfinite(self.cost) else None
            watcher.progress(plan, max(self.lower, bound) if math.isfinite(bound) else None)
            event.interrupt(watcher.should_stop())

        if watcher is not None:
            h.cbMipInterrupt.subscribe(check)
            h.cbSimplexInterrupt.subscribe(check)
        try:
            h.run()
        finally:
            if watcher is not None:
                h.cbMipInterrupt.unsubscribe(check)
                h.cbSimplexInterrupt.unsubscribe(check)
        return h.getModelStatus()

    def decisions(self, model: RadiusModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        values = np.array(model.h.getSolution().col_value)
        c = model.c
        return values, values[: c.n_sites], values[c.n_sites : c.w0].reshape(c.n_sites, c.n_agencies)


def relaxation_bound(search: _Search, model: RadiusModel) -> bool:
    """Step 1 and 2: deepen the LP until it needs no more levels; offer its plan if it is whole.

    False when the LP has no solution, so that neither has the problem.
    """
    model.relax(True)
    while True:
        status = search.run(model)
        if status == highspy.HighsModelStatus.kInfeasible:
            return False
        if status != highspy.HighsModelStatus.kOptimal:
            return True
        values, y, z = search.decisions(model)
        short = (model.depth < search.lv.n_levels - 1) & (model.last_w(values) > 1e-7)
        log.debug("LP with %d level rows: %.6g, %d pairs short, %.1f s", len(model.w_level),
                  model.h.getInfo().objective_function_value, short.sum(), time.perf_counter() - search.started)
        search.bound(model.h.getInfo().objective_function_value)  # fewer levels, fewer costs: a bound
        model.h.setOptionValue("presolve", "off")  # from here on, start from the last basis
        if not short.any() or search.stopped():
            break
        model.deepen(np.where(short, np.minimum(search.lv.n_levels - 1, 2 * model.depth), model.depth))
    whole = np.all(np.abs(values[: model.c.w0] - np.round(values[: model.c.w0])) < 1e-6)
    if whole:
        search.offer(y > 0.5, z > 0.5)
    return True


def integer_plan(search: _Search, model: RadiusModel) -> bool:
    """Step 3: the MIP, deepened where its plan is short, until the best plan is proven.

    False when the MIP has no solution.
    """
    model.relax(False)
    model.h.setOptionValue("mip_rel_gap", search.settings.mip_gap)
    model.h.setOptionValue("presolve", "off")  # pmed16: 37 s without, 110 s with
    while not search.proven() and not search.stopped():
        if search.plan is not None:
            y, z = search.plan
            hand_start(model.h, model.values_of(y, z, nearest_level(search.inst, search.lv, z)[1]))
        for heuristic in _HEURISTICS:  # with a plan in hand HiGHS's own searches cost more than they find
            model.h.setOptionValue(heuristic, search.plan is None)
        status = search.run(model)
        if status == highspy.HighsModelStatus.kInfeasible:
            return False
        short = np.zeros(search.lv.n_pairs, dtype=bool)
        if model.h.getInfo().primal_solution_status == 2:
            _, y, z = search.decisions(model)
            level = search.offer(y > 0.5, z > 0.5)
            short = level > model.depth
        search.bound(model.h.getInfo().mip_dual_bound)
        log.debug("MIP with %d level rows after %.1f s: plan %.6g, bound %.6g, %d pairs short",
                  len(model.w_level), time.perf_counter() - search.started, search.cost, search.lower, short.sum())
        if not short.any():
            break
        deeper = np.minimum(search.lv.n_levels - 1, np.maximum(level, 2 * model.depth))
        model.deepen(np.where(short, deeper, model.depth))
    return True


def lagrangian_steps(search: _Search, relaxation: Relaxation, steps: Iterator[Step], most: int | None) -> None:
    """Follow the Lagrangian search (`optimizer.lagrangian`) for at most `most` steps (None: no limit),
    keeping its bounds and its plans that keep the side rows, until the best plan is proven or time is up."""
    for n, step in enumerate(steps):
        search.bound(step.bound)
        if step.plan is not None and relaxation.allows(*step.plan):
            search.offer(*step.plan)
        search.report()
        if search.proven() or search.stopped() or (most is not None and n >= most) or search.lower > relaxation.ceiling:
            return


def level_rows_needed(search: _Search) -> int:
    """The level rows the radius model would start with: FIRST_LEVELS per pair, deeper where the best plan needs."""
    return int(first_depth(search.inst, search.lv, search.plan).sum())


def solve_nearest(inst: Instance, start: Start | None = None) -> Solution | None:
    """The plan of a nearest-office problem; None when there is none (the general model then
    says why: areas beyond every site, or rules that conflict).

    The Lagrangian search gives a plan and a bound within seconds.  Where that does not
    prove the plan within the gap, the radius model finishes the proof, if its LP is small
    enough to solve (MOST_LEVEL_ROWS); otherwise the Lagrangian search goes on alone.
    """
    if inst.unreachable_pairs():
        return None
    lv = demand_levels(inst)
    search = _Search(inst, lv)
    relaxation = Relaxation(inst, lv)
    if _fits(inst, start) and relaxation.allows(start.y > 0.5, start.z > 0.5):
        search.offer(start.y > 0.5, start.z > 0.5)
    if relaxation.covered:
        steps = lagrangian.search(relaxation, search)
        lagrangian_steps(search, relaxation, steps, LAGRANGIAN_STEPS)
        if not search.proven() and level_rows_needed(search) > MOST_LEVEL_ROWS:
            lagrangian_steps(search, relaxation, steps, None)
        if search.lower > relaxation.ceiling:
            return None  # no plan keeps the rows
    build_seconds = 0.0
    if not search.proven() and not search.stopped() and (search.plan is None
                                                         or level_rows_needed(search) <= MOST_LEVEL_ROWS):
        built = time.perf_counter()
        model = RadiusModel(inst, lv, first_depth(inst, lv, search.plan))
        build_seconds = time.perf_counter() - built
        if not relaxation_bound(search, model):
            return None
        if not search.proven() and not integer_plan(search, model):
            return None
    seconds = time.perf_counter() - search.started - build_seconds
    if search.plan is None:
        return _no_plan(search.settings.time_limit_s, seconds) if search.stopped() else None
    status = "optimal" if search.proven() else "feasible"
    return replace(_solution(inst, lv, search.plan, search.cost, search.lower, status),
                   seconds=seconds, build_seconds=build_seconds)


def relaxed(problem: Problem) -> Problem:
    """The nearest-office relaxation of a problem: no minimum staff, no desk counts, staff as FTE.

    Every plan of the problem is a plan of this one, at no higher cost and within the same
    budgets, so a bound on this one bounds the problem too.
    """
    return replace(
        problem,
        agencies=tuple(replace(a, min_staff=0.0) for a in problem.agencies),
        sites=tuple(replace(s, desks=None) for s in problem.sites),
    ).with_settings(staff_integer=False)


# Each nearest-office problem solved before the general model gets this share of the time limit,
# at most HINT_SECONDS: a plan and a bound are what it is for, not a proof (the Finnish sample's
# relaxation took its whole 15 s of a 300 s limit, and HiGHS gained nothing from the extra time).
HINT_SHARE = 0.05
HINT_SECONDS = 3.0


def hint(inst: Instance, problem: Problem) -> Solution | None:
    """The nearest-office plan of `problem` (a stand-in for the instance's own), in a share of the time
    limit and unwatched: its plans and bounds are not the plan's progress."""
    time_limit_s = min(HINT_SHARE * inst.problem.settings.time_limit_s, HINT_SECONDS)
    with watched_by(None):
        solution = solve_nearest(replace(inst, problem=problem.with_settings(time_limit_s=time_limit_s)))
    return solution if solution is not None and solution.has_plan else None


def _no_plan(time_limit_s: float, seconds: float) -> Solution:
    return Solution("error", f"No plan was found within the time limit of {time_limit_s:g} s; "
                    "raise time_limit_s or relax the rules.", seconds=seconds)


def _solution(inst: Instance, lv: Levels, plan, cost: float, lower: float, status: str) -> Solution:
    """Everyone at the nearest office: x is 1 there, staff follow the visits."""
    y, z = plan
    nearest, _ = nearest_level(inst, lv, z)
    x = np.zeros(len(inst.k_area))
    x[lv.order[nearest]] = 1.0
    n = staff_serving(inst, x)
    bound = min(lower, cost)
    gap = max(cost - bound, 0.0) / max(abs(cost), 1e-10)
    message = optimal_message(gap) if status == "optimal" else stopped_message(gap)
    return Solution(status, message, cost, bound, gap, y, z, n, x)


def price_today_nearest(inst: Instance) -> Solution:
    """Today's network priced: nothing to choose when everyone goes to the nearest office.

    `solve.price_today` would build and solve the general model for the same answer; at a
    national scale that model alone takes gigabytes.
    """
    lv = demand_levels(inst)
    y = np.array([site.is_existing for site in inst.problem.sites])
    z = inst.present_today & y[:, None]
    cost = true_cost(inst, lv, y, z)
    if not math.isfinite(cost):
        short = nearest_level(inst, lv, z)[1] >= lv.n_levels
        return Solution("infeasible", f"Today's network leaves {int(short.sum())} area/agency pair(s) "
                        "beyond the distance limit.")
    return replace(_solution(inst, lv, (y, z), cost, cost, "optimal"), message="Today's network.")
