"""A lower bound on the general model's optimum from its assignment rows' Lagrangian.

The nearest-office relaxation (`radius.relaxed`) drops minimum staff, and so misses what
small offices cost: its bound sat 7-11 % below the general model's plans.  Here the rows
sum_j x[i, j, a] = 1 are priced by multipliers lambda[i, a] instead, and everything else
that concerns one site stays: x <= z, z <= y, the minimum staff and the staff the served
visits need, and the locks.  Budgets, desks and office counts are dropped (a relaxation
too, so the bound stays valid).  What is left splits by site; at each one, for each
agency, the best assignment is a fractional knapsack: the areas with a negative reduced
cost, best per staff first, fill the minimum staff for free, and the rest are served
only where their reduced cost pays for the staff they need.

L(lambda) = sum_ia lambda[i, a] + sum_j min(0, V_j(lambda)) (locked sites as locked) is a
lower bound for every lambda; subgradient steps (Polyak, towards a target above the
bound) raise it.  The sites' choices at good prices are also where a plan may open offices
(a Lagrangian heuristic): `bound` hands them to its caller, which makes and checks the plans.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from models.nearest_office import Columns, annual_coefficients, one_off_coefficients

from .instance import Instance
from .solve import current_watcher


@dataclass(frozen=True)
class Prices:
    """What the relaxation reads from an instance, once: per triple k, per (j, a) and per site."""

    pair: np.ndarray  # (K,) the demand pair (i, a) of triple k
    group: np.ndarray  # (K,) j * A + a
    travel: np.ndarray  # (K,) travel cost of serving all of pair k's visits at its site
    weight: np.ndarray  # (K,) staff those visits need
    staff_weight: np.ndarray  # (K,) what that staff costs
    n_pairs: int
    fixed: np.ndarray  # (J * A,) presence + setup / L + staff_cost * min_staff: what z[j, a] = 1 costs
    minimum: np.ndarray  # (J * A,) min staff
    staff_cost: np.ndarray  # (J * A,)
    site: np.ndarray  # (J,) what y[j] = 1 costs more than y[j] = 0 (annual, open or saved closing cost)
    constant: float  # the closing costs of every existing site, amortised: y = 0 everywhere
    force: np.ndarray  # (J,) 1 open, -1 closed, 0 free


def prices(inst: Instance) -> Prices:
    """The relaxation's coefficients, in the objective's units (annual + one-off / L + travel).

    The costs on y and z are the radius model's (`annual_coefficients`, `one_off_coefficients`),
    without its constant staff bill: here the staff are priced where they work.
    """
    settings = inst.problem.settings
    agencies = inst.problem.agencies
    n_agencies = inst.n_agencies
    years = settings.amortization_years
    c = Columns(inst.n_sites, n_agencies)
    annual, _ = annual_coefficients(inst, c)
    one_off, closing = one_off_coefficients(inst, c)
    on_y_and_z = annual + one_off / years
    visits = inst.visits[inst.k_area, inst.k_agency]
    _, pair = np.unique(inst.k_area.astype(np.int64) * n_agencies + inst.k_agency, return_inverse=True)
    per_staff = np.array([1.0 / a.visits_per_staff for a in agencies])
    staff_cost = np.tile([a.staff_cost for a in agencies], inst.n_sites)
    weight = visits * per_staff[inst.k_agency]
    minimum = np.tile([a.min_staff for a in agencies], inst.n_sites)
    return Prices(
        pair=pair, group=inst.k_site.astype(np.int64) * n_agencies + inst.k_agency,
        travel=settings.travel_cost_per_km * visits * inst.k_km,
        weight=weight, staff_weight=staff_cost[inst.k_site.astype(np.int64) * n_agencies + inst.k_agency] * weight,
        n_pairs=int(pair.max()) + 1 if len(pair) else 0,
        fixed=on_y_and_z[c.n_sites:] + staff_cost * minimum, minimum=minimum, staff_cost=staff_cost,
        site=on_y_and_z[: c.n_sites], constant=closing / years,
        force=np.array([{"open": 1, "closed": -1}.get(s.force, 0) for s in inst.problem.sites]),
    )


@dataclass(frozen=True)
class Value:
    """L(lambda) and the subgradient of its pairs' rows."""

    bound: float
    gradient: np.ndarray  # (pairs,) 1 - sum_j x[i, j, a]


@dataclass(frozen=True)
class _Choices:
    """Each site's best choice with the pairs priced at lambda."""

    per_group: np.ndarray  # (J * A,) what agency a at j adds to the objective, if present
    per_site: np.ndarray  # (J,) what site j adds, with its agencies that pay
    open_: np.ndarray  # (J,) y[j]
    full: np.ndarray  # (K,) triples served in full where their agency is present
    filling: np.ndarray  # triples that fill the minimum staff, grouped
    share: np.ndarray  # x of each of `filling`

    @property
    def serving(self) -> np.ndarray:
        """z[j, a], flat."""
        return (self.per_group < 0) & np.repeat(self.open_, len(self.per_group) // len(self.open_))


def _choices(p: Prices, lam: np.ndarray) -> _Choices:
    """An area whose reduced cost pays for its staff (r / w < -staff_cost) is served in full;
    together they cost sum (r + staff_cost w) - staff_cost min(W, min_staff), W their
    staff.  Only where W falls short of the minimum do the areas with -staff_cost <= r / w
    < 0 come in, best per staff first, to fill the rest of it (`_filling`).
    """
    reduced = p.travel - lam[p.pair]
    full = reduced < -p.staff_weight
    size = len(p.fixed)
    staff = np.bincount(p.group, p.weight * full, minlength=size)
    per_group = (p.fixed + np.bincount(p.group, (reduced + p.staff_weight) * full, minlength=size)
                 - p.staff_cost * np.minimum(staff, p.minimum))
    room = np.maximum(p.minimum - staff, 0.0)
    filling, share = _filling(p, reduced, full, room)
    per_group += np.bincount(p.group[filling], reduced[filling] * share, minlength=size)
    n_agencies = size // len(p.site)
    per_site = p.site + np.minimum(per_group, 0.0).reshape(-1, n_agencies).sum(axis=1)
    open_ = np.where(p.force == 0, per_site < 0, p.force > 0)
    return _Choices(per_group, per_site, open_, full, filling, share)


# Bins of the reduced cost per staff, as a share of the staff cost, in which `_filling`
# counts each group's candidates before sorting only those that can fill its room.
_BINS = 64


def _filling(p: Prices, reduced: np.ndarray, full: np.ndarray, room: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The triples that fill each group's room, best per staff first, and the share of each.

    Only the few best of a group's candidates fill it (20,000 generated areas: 2.5 million
    candidates for rooms of one staff each), so they are first binned by how far their reduced
    cost per staff lies below zero.  The bins that fit in the room are taken whole; only the
    one bin a group fills in part is sorted: sorting every candidate took 0.9 of a 1.4 s step.
    """
    candidates = np.flatnonzero(~full & (reduced < 0) & (room[p.group] > 0))
    group, weight = p.group[candidates], p.weight[candidates]
    depth = -reduced[candidates] / p.staff_weight[candidates]  # in (0, 1]: 1 pays for its staff
    bin_ = np.minimum((depth * _BINS).astype(np.int64), _BINS - 1)
    per_bin = np.bincount(group * _BINS + bin_, weight, minlength=len(room) * _BINS).reshape(-1, _BINS)
    better = (np.cumsum(per_bin[:, ::-1], axis=1)[:, ::-1] - per_bin)[group, bin_]  # weight in the better bins
    left = room[group] - better
    whole = per_bin[group, bin_] <= left
    part = np.flatnonzero(~whole & (left > 0))
    part = part[np.lexsort((-depth[part], group[part]))]
    share = np.clip(left[part] - _cumulative_before(group[part], weight[part]), 0.0, weight[part]) / weight[part]
    return np.r_[candidates[whole], candidates[part]], np.r_[np.ones(int(whole.sum())), share]


def value(p: Prices, lam: np.ndarray) -> Value:
    """L(lambda): each site's best choice with the pairs priced at lambda (`_choices`)."""
    c = _choices(p, lam)
    bound = lam.sum() + p.constant + float(c.per_site[c.open_].sum())
    serving = c.serving
    served = np.bincount(p.pair, c.full * serving[p.group], minlength=p.n_pairs)
    served += np.bincount(p.pair[c.filling], c.share * serving[p.group[c.filling]], minlength=p.n_pairs)
    return Value(bound, 1.0 - served)


def choices(p: Prices, lam: np.ndarray) -> np.ndarray:
    """z[j, a] of the sites' best choices at lambda: where the Lagrangian would staff offices."""
    return _choices(p, lam).serving.reshape(len(p.site), -1)


def _cumulative_before(group: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """For entries sorted by group: the weight of the entries before each one in its group."""
    if len(group) == 0:
        return np.zeros(0)
    total = np.cumsum(weight) - weight
    starts = np.r_[True, group[1:] != group[:-1]]
    return total - np.maximum.accumulate(np.where(starts, total, 0.0))


def first_prices(p: Prices) -> np.ndarray:
    """lambda[i, a] to start from: the cheapest travel plus staff of serving the pair anywhere."""
    lam = np.full(p.n_pairs, np.inf)
    np.minimum.at(lam, p.pair, p.travel + p.staff_cost[p.group] * p.weight)
    return lam


# Polyak's step towards `target` takes this share of the way at first, and half as much
# whenever `patience` steps bring no better bound: PATIENCE, or a tenth of the steps the time left
# allows if fewer, but at least LEAST_PATIENCE.  With 20 throughout, 20,000 generated areas
# (7.9 M triples, about 0.5 s a step) reached 880 M in 60 s, with 5 to 12 about 1,000 M; 2,000
# areas (10 s) reach 965.7 M with 20, 964.9 M with 10.
FIRST_SHARE = 2.0
PATIENCE = 20
LEAST_PATIENCE = 5


def patience(steps_done: int, elapsed: float, seconds: float) -> int:
    """Steps without a better bound before the step is halved, so that halvings still come in time."""
    steps_left = (seconds - elapsed) / max(elapsed / max(steps_done, 1), 1e-9)
    return int(min(PATIENCE, max(LEAST_PATIENCE, steps_left / 10)))


class _Planning:
    """When the sites' choices at the best prices so far are offered to the caller (`bound`'s `plans`)."""

    def __init__(self, plans: Callable[[Callable[[], np.ndarray]], float] | None):
        self.plans = plans
        self.fresh = self.settled = False  # better prices not yet offered; a halving since

    def better(self, lam: np.ndarray, gradient: np.ndarray) -> None:
        """New best prices; worth a plan only where the sites' choices serve most pairs exactly once."""
        self.lam = lam
        self.fresh = self.plans is not None and np.mean(gradient == 0) >= SETTLED_SHARE

    def due(self) -> bool:
        return self.fresh and self.settled

    def offer(self, p: Prices) -> float:
        lam = self.lam
        self.fresh = self.settled = False
        return self.plans(lambda: choices(p, lam))


# The choices are offered once the step has been halved (the bound has stopped rising at
# that step), and only at prices where they serve at least SETTLED_SHARE of the pairs exactly
# once: 20,000 generated areas reach 16 to 66 % in 120 s (the plans made there, with offices
# moved, cost 1,078.5-1,079.6 M against the start's 1,081.3 M); 2,000 areas reach 77 % and
# more once the bound settles, and their plans beat HiGHS's (974.5 M against 981.9 M).
SETTLED_SHARE = 0.7


# The steps aim this share above the best plan's cost.  Aiming at the plan itself, the steps
# shrink before the bound has risen (20,000 generated areas, 110 s: 1,038.8 M aiming at the
# plan's 1,073.7 M; 1,048.6 M at 1.5 % above it; 1,044.3 M at 2.9 %; 1,031.1 M at 5.2 %); at
# 2,000 areas the bound ends at 965.7-965.8 M from any aim within 3 %.
AIM_ABOVE = 0.015


def bound(inst: Instance, target: float, seconds: float, steps: int = 1_000_000,
          plans: Callable[[Callable[[], np.ndarray]], float] | None = None) -> float:
    """The best L(lambda) found within `seconds` (or `steps` steps).

    `target` is the cost of a plan of the relaxation (no budgets, desks or office counts),
    so at least its optimum: the steps aim a little above it (AIM_ABOVE), as Held and Karp's
    aim at a plan's cost.  `plans`, if
    given, is offered the sites' choices z[j, a] at the best prices so far (a function that
    computes them, which the caller may leave uncalled) and returns the cost of the best plan
    it has, the new target (a Lagrangian heuristic).  The app's watcher, if any, hears the
    bound rise and may stop the search.
    """
    started = time.perf_counter()
    watcher = current_watcher()
    p = prices(inst)
    if p.n_pairs == 0:
        return -math.inf
    lam = first_prices(p)
    best, share, since = -math.inf, FIRST_SHARE, 0
    planning = _Planning(plans)
    for step in range(steps):
        v = value(p, lam)
        if v.bound > best:
            best, since = v.bound, 0
            planning.better(lam, v.gradient)
        else:
            since += 1
            if since >= patience(step + 1, time.perf_counter() - started, seconds):
                share, since, planning.settled = share / 2, 0, True
        if planning.due():
            target = min(target, planning.offer(p))
        if watcher is not None:
            watcher.progress(target, best)
        norm = float(v.gradient @ v.gradient)
        if watcher is not None and watcher.should_stop():
            return best
        if norm == 0 or share < 1e-4 or time.perf_counter() - started > seconds:
            break
        aim = target + AIM_ABOVE * abs(target)
        lam = lam + share * max(aim - v.bound, 1e-6 * abs(target)) / norm * v.gradient
    return best
