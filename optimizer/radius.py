"""Solving nearest-office problems with the radius formulation (`models.nearest_office`), exactly.

Each pair starts with the levels of its few nearest sites.  Solving that model gives a
lower bound (pairs whose nearest office lies further are under-priced) and a plan, whose
true cost follows from sending everyone to the nearest office.  The pairs the plan shows
to be short get more levels and the model is solved again, from the best plan so far,
until the best plan is proven within the gap of the bound.  On the p-median instances
most pairs never need more than a handful of rows, which is where the speed comes from.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import highspy
import numpy as np

from models.nearest_office import Columns, Levels, annual_coefficients, build_highs, demand_levels, level_rows
from models.nearest_office import one_off_coefficients, pair_travel

from .instance import Instance
from .solve import Solution, Start, current_watcher, hand_start, optimal_message, stopped_message

# Levels each pair starts with; a pair whose plan needs more gets at least twice as many.
FIRST_LEVELS = 8
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


def true_cost(inst: Instance, lv: Levels, c: Columns, y: np.ndarray, z: np.ndarray) -> float:
    """The plan's objective with everyone at the nearest office (inf when a pair has none)."""
    _, level = nearest_level(inst, lv, z)
    if np.any(level >= lv.n_levels):
        return math.inf
    decisions = np.concatenate([y, z.ravel()]).astype(float)
    annual, annual_constant = annual_coefficients(inst, c)
    one_off, one_off_constant = one_off_coefficients(inst, c)
    years = inst.problem.settings.amortization_years
    travel = pair_travel(inst, lv)[lv.first + level].sum()
    return float(annual @ decisions + annual_constant + (one_off @ decisions + one_off_constant) / years + travel)


def start_values(inst: Instance, lv: Levels, c: Columns, depth: np.ndarray, y, z) -> np.ndarray:
    """The plan as a value per column of the model with `depth`: w is 1 below the nearest office's level."""
    _, level = nearest_level(inst, lv, z)
    pairs, k = level_rows(lv, depth)
    return np.concatenate([y, z.ravel(), (k < level[pairs])]).astype(float)


def first_depth(inst: Instance, lv: Levels, start: Start | None) -> np.ndarray:
    """FIRST_LEVELS per pair, and as many as a given start plan needs to be priced exactly."""
    depth = np.minimum(lv.n_levels - 1, FIRST_LEVELS)
    if start is not None and start.z.shape == (inst.n_sites, inst.n_agencies):
        _, level = nearest_level(inst, lv, start.z > 0.5)
        depth = np.maximum(depth, np.minimum(lv.n_levels - 1, level))
    return depth


def relaxed_depth(inst: Instance, lv: Levels, depth: np.ndarray) -> np.ndarray:
    """Deepen until the LP relaxation needs no more levels: its last w is 0 for every pair."""
    while True:
        h, c = build_highs(inst, lv, depth)
        h.changeColsIntegrality(c.count, np.arange(c.count, dtype=np.int32), np.zeros(c.count, dtype=np.uint8))
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return depth
        w = np.array(h.getSolution().col_value)[c.w0 :]
        last = np.cumsum(depth) - 1
        short = (depth < lv.n_levels - 1) & (depth > 0) & (w[np.maximum(last, 0)] > 1e-7)
        if not short.any():
            return depth
        depth = np.where(short, np.minimum(lv.n_levels - 1, 2 * depth), depth)


def _watched(h: highspy.Highs, best: list[float], lower: float):
    """Pass progress to the app's watcher and its stop back to HiGHS; returns the unsubscriber."""
    watcher = current_watcher()
    if watcher is None:
        return lambda: None

    def check(event) -> None:
        bound = event.data_out.mip_dual_bound
        incumbent = best[0] if math.isfinite(best[0]) else None
        watcher.progress(incumbent, max(lower, bound) if math.isfinite(bound) else None)
        event.interrupt(watcher.should_stop())

    h.cbMipInterrupt.subscribe(check)
    return lambda: h.cbMipInterrupt.unsubscribe(check)


def solve_nearest(inst: Instance, start: Start | None = None) -> Solution | None:
    """The plan by the radius formulation; None when there is none (the general model then
    says why: areas beyond every site, or rules that conflict)."""
    if inst.unreachable_pairs():
        return None
    s = inst.problem.settings
    started = time.perf_counter()
    lv = demand_levels(inst)
    depth = first_depth(inst, lv, start)
    best_cost, best, lower, build_seconds = math.inf, None, -math.inf, 0.0
    if start is not None and start.z.shape == (inst.n_sites, inst.n_agencies):
        c = Columns(inst.n_sites, inst.n_agencies, 0)
        best = (start.y > 0.5, start.z > 0.5)
        best_cost = true_cost(inst, lv, c, *best)
    depth = relaxed_depth(inst, lv, depth)
    while True:
        built = time.perf_counter()
        h, c = build_highs(inst, lv, depth)
        build_seconds += time.perf_counter() - built
        left = s.time_limit_s - (time.perf_counter() - started)
        h.setOptionValue("time_limit", max(left, 0.05))
        h.setOptionValue("mip_rel_gap", s.mip_gap)
        h.setOptionValue("presolve", "off")  # pmed16: 37 s without, 110 s with
        if best is not None and math.isfinite(best_cost):
            hand_start(h, start_values(inst, lv, c, depth, *best))
        box = [best_cost]
        unsubscribe = _watched(h, box, lower)
        h.run()
        unsubscribe()
        info = h.getInfo()
        if h.getModelStatus() == highspy.HighsModelStatus.kInfeasible:
            return None
        if info.primal_solution_status == 2:
            values = np.array(h.getSolution().col_value)
            y = values[: c.n_sites] > 0.5
            z = (values[c.n_sites : c.w0] > 0.5).reshape(inst.n_sites, inst.n_agencies) & y[:, None]
            cost = true_cost(inst, lv, c, y, z)
            if cost < best_cost:
                best_cost, best = cost, (y, z)
            _, level = nearest_level(inst, lv, z)
            short = level > depth
        else:
            short = np.zeros(lv.n_pairs, dtype=bool)
        if math.isfinite(info.mip_dual_bound):
            lower = max(lower, info.mip_dual_bound)
        if _proven(best_cost, lower, s.mip_gap) or not short.any() or _stopped(started, s.time_limit_s):
            break
        depth = np.where(short, np.minimum(lv.n_levels - 1, np.maximum(level, 2 * depth)), depth)
    seconds = time.perf_counter() - started
    if best is None:
        return _no_plan(s.time_limit_s, seconds) if _stopped(started, s.time_limit_s) else None
    return _solution(inst, lv, best, best_cost, lower, s.mip_gap, seconds, build_seconds)


def _proven(cost: float, lower: float, gap: float) -> bool:
    return math.isfinite(cost) and cost - lower <= max(gap * abs(cost), _ABS_GAP * max(1.0, abs(cost)))


def _stopped(started: float, time_limit_s: float) -> bool:
    watcher = current_watcher()
    return time.perf_counter() - started >= time_limit_s or (watcher is not None and watcher.should_stop())


def _no_plan(time_limit_s: float, seconds: float) -> Solution:
    return Solution("error", f"No plan was found within the time limit of {time_limit_s:g} s; "
                    "raise time_limit_s or relax the rules.", seconds=seconds)


def _solution(inst: Instance, lv: Levels, best, cost: float, lower: float, gap_set: float,
              seconds: float, build_seconds: float) -> Solution:
    """Everyone at the nearest office: x is 1 there, staff follow the visits."""
    y, z = best
    nearest, _ = nearest_level(inst, lv, z)
    x = np.zeros(len(inst.k_area))
    x[lv.order[nearest]] = 1.0
    per_staff = np.array([1.0 / a.visits_per_staff for a in inst.problem.agencies])
    n = np.zeros((inst.n_sites, inst.n_agencies))
    load = inst.visits[inst.k_area, inst.k_agency] * per_staff[inst.k_agency] * x
    np.add.at(n, (inst.k_site, inst.k_agency), load)
    bound = min(lower, cost)
    gap = max(cost - bound, 0.0) / max(abs(cost), 1e-10)
    optimal = _proven(cost, lower, gap_set)
    message = optimal_message(gap) if optimal else stopped_message(gap)
    return Solution("optimal" if optimal else "feasible", message, cost, bound, gap, y, z, n, x,
                    seconds - build_seconds, build_seconds=build_seconds)


def price_today_nearest(inst: Instance) -> Solution:
    """Today's network priced: nothing to choose when everyone goes to the nearest office.

    `solve.price_today` would build and solve the general model for the same answer; at a
    national scale that model alone takes gigabytes.
    """
    lv = demand_levels(inst)
    y = np.array([site.is_existing for site in inst.problem.sites])
    z = inst.present_today & y[:, None]
    cost = true_cost(inst, lv, Columns(inst.n_sites, inst.n_agencies, 0), y, z)
    if not math.isfinite(cost):
        short = nearest_level(inst, lv, z)[1] >= lv.n_levels
        return Solution("infeasible", f"Today's network leaves {int(short.sum())} area/agency pair(s) "
                        "beyond the distance limit.")
    return replace(_solution(inst, lv, (y, z), cost, cost, 0.0, 0.0, 0.0), message="Today's network.")
