"""A lower bound on the general model's optimum from its assignment rows' Lagrangian.

The nearest-office relaxation (`radius.relaxed`) drops minimum staff, and so misses what
small offices cost: its bound sat 7-11 % below the general model's plans.  Here the rows
sum_j x[i, j, a] = 1 are priced by multipliers lambda[i, a] instead, and everything else
that concerns one site stays: x <= z, z <= y, the minimum staff and the staff the served
visits need, and the locks.  Desks and office counts are dropped (a relaxation too, so the
bound stays valid), and so are the budgets, unless priced (`Budgets`, `bound`).  What is
left splits by site; at each one, for each
agency, the best assignment is a fractional knapsack: the areas with a negative reduced
cost, best per staff first, fill the minimum staff for free, and the rest are served
only where their reduced cost pays for the staff they need.

L(lambda) = sum_ia lambda[i, a] + sum_j min(0, V_j(lambda)) (locked sites as locked) is a
lower bound for every lambda; steps that move each price by a length of its own
(`sign_steps`), then subgradient steps (Polyak, towards a target above the bound), raise
it.  The sites' choices at good prices are also where a plan may open offices
(a Lagrangian heuristic): `bound` hands them to its caller, which makes and checks the plans.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numba
import numpy as np

from models.nearest_office import Columns, annual_coefficients, new_pair, one_off_coefficients, spending_rows

from .instance import Instance
from .solve import Solution, Watcher, current_watcher, stopped_on_request


@dataclass(frozen=True)
class Budgets:
    """The budget rows, on_y @ y + on_z @ z + on_n @ n <= rhs: annual, one-off, each agency's.
    The staff are in them, since here each office's staff is a choice."""

    on_y: np.ndarray  # (R, J)
    on_z: np.ndarray  # (R, J * A)
    on_n: np.ndarray  # (R, J * A)
    rhs: np.ndarray  # (R,)


def budgets(inst: Instance) -> Budgets:
    """The problem's budgets as rows on (y, z, n): the rows the office moves keep
    (`spending_rows`: annual, one-off, each agency's) with a budget, and the staff's pay in the
    annual and agencies' rows, so that pricing one adds exactly mu (spending - budget) to the
    objective."""
    c = Columns(inst.n_sites, inst.n_agencies)
    rows, limits = spending_rows(inst, c)
    staff_cost = np.array([a.staff_cost for a in inst.problem.agencies])
    on_staff = np.vstack([staff_cost, np.zeros(c.n_agencies), np.diag(staff_cost)])  # (2 + A, A)
    constant = np.r_[0.0, one_off_coefficients(inst, c)[1], np.zeros(c.n_agencies)]
    kept = np.isfinite(limits)
    return Budgets(on_y=rows[kept, : c.n_sites], on_z=rows[kept, c.n_sites :],
                   on_n=np.tile(on_staff[kept], c.n_sites), rhs=limits[kept] - constant[kept])


@dataclass(frozen=True)
class Prices:
    """What the relaxation reads from an instance, once: per triple, per (j, a) and per site.

    The triples are sorted by (j, a), office by office (`office_start`), so that a step reads
    each office's triples in one run; `order` maps them back to the instance's.
    """

    order: np.ndarray  # (K,) the instance's triple at each place
    pair: np.ndarray  # (K,) the demand pair (i, a) of each triple
    group: np.ndarray  # (K,) j * A + a
    office_start: np.ndarray  # (J * A + 1,) office g's triples are office_start[g]:office_start[g + 1]
    travel: np.ndarray  # (K,) travel cost of serving all of the pair's visits at its site
    weight: np.ndarray  # (K,) staff those visits need
    staff_weight: np.ndarray  # (K,) what that staff costs
    n_pairs: int
    fixed: np.ndarray  # (J * A,) presence + setup / L + staff_cost * min_staff: what z[j, a] = 1 costs
    minimum: np.ndarray  # (J * A,) min staff
    staff_cost: np.ndarray  # (J * A,)
    site: np.ndarray  # (J,) what y[j] = 1 costs more than y[j] = 0 (annual, open or saved closing cost)
    constant: float  # the closing costs of every existing site, amortised: y = 0 everywhere
    force: np.ndarray  # (J,) 1 open, -1 closed, 0 free
    budgets: Budgets

    @property
    def n_agencies(self) -> int:
        return len(self.fixed) // len(self.site)


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
    group = inst.k_site.astype(np.int64) * n_agencies + inst.k_agency
    order = np.argsort(group, kind="stable")
    group = group[order]
    area, agency, km = inst.k_area[order], inst.k_agency[order], inst.k_km[order]
    visits = inst.visits[area, agency]
    pair = (np.cumsum(new_pair(inst.k_area, inst.k_agency)) - 1)[order]
    per_staff = np.array([1.0 / a.visits_per_staff for a in agencies])
    staff_cost = np.tile([a.staff_cost for a in agencies], inst.n_sites)
    weight = visits * per_staff[agency]
    minimum = np.tile([a.min_staff for a in agencies], inst.n_sites)
    return Prices(
        order=order, pair=pair, group=group,
        office_start=np.searchsorted(group, np.arange(inst.n_sites * n_agencies + 1)),
        travel=settings.travel_cost_per_km * visits * km,
        weight=weight, staff_weight=staff_cost[group] * weight,
        n_pairs=int(pair.max()) + 1 if len(pair) else 0,
        fixed=on_y_and_z[c.n_sites:] + staff_cost * minimum, minimum=minimum, staff_cost=staff_cost,
        site=on_y_and_z[: c.n_sites], constant=closing / years,
        force=np.array([{"open": 1, "closed": -1}.get(s.force, 0) for s in inst.problem.sites]),
        budgets=budgets(inst),
    )


def at_budgets(p: Prices, mu: np.ndarray) -> Prices:
    """The prices with each budget r added to the objective as mu[r] (row - rhs), mu >= 0: a
    relaxation of the budgets, as the pairs' rows are relaxed by lambda.  y, z and each staff
    cost more, and the constant falls by mu @ rhs."""
    b = p.budgets
    per_staff = mu @ b.on_n
    staff_cost = p.staff_cost + per_staff
    return replace(p, site=p.site + mu @ b.on_y, fixed=p.fixed + mu @ b.on_z + per_staff * p.minimum,
                   staff_cost=staff_cost, staff_weight=staff_cost[p.group] * p.weight,
                   constant=p.constant - float(mu @ b.rhs))


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

    @property
    def serving(self) -> np.ndarray:
        """z[j, a], flat."""
        return ((self.per_group < 0).reshape(len(self.open_), -1) & self.open_[:, None]).ravel()


def _choices(p: Prices, lam: np.ndarray) -> _Choices:
    """What each office would add if present (`_offices`), and the sites that open with the
    offices that pay."""
    per_group = _offices(p, lam, np.zeros(0, dtype=np.bool_), np.zeros(0))
    per_site = p.site + np.minimum(per_group, 0.0).reshape(-1, p.n_agencies).sum(axis=1)
    open_ = np.where(p.force == 0, per_site < 0, p.force > 0)
    return _Choices(per_group, per_site, open_)


def _offices(p: Prices, lam: np.ndarray, serving: np.ndarray, served: np.ndarray) -> np.ndarray:
    return _office_values(lam, p.pair, p.travel, p.weight, p.staff_weight, p.office_start, p.fixed, p.minimum,
                          p.staff_cost, serving, served)


@numba.njit(cache=True, nogil=True)
def _office_values(lam, pair, travel, weight, staff_weight, office_start, fixed, minimum, staff_cost,
                   serving, served):  # pragma: no cover - compiled
    """Each office's best assignment at lambda and what it adds to the objective if present.

    An area whose reduced cost r pays for its staff (r / w < -staff_cost) is served in full;
    together they cost sum (r + staff_cost w) - staff_cost min(W, min_staff), W their staff.
    Only where W falls short of the minimum do the areas with -staff_cost <= r / w < 0 come
    in, best per staff first, to fill the rest of it.  With `serving` given (one flag per
    office), only those offices are visited and the shares they serve are added to `served`.

    One compiled pass, office by office: 0.07 to 0.09 s a step at 20,000 generated areas (7.9
    million triples), where the NumPy passes it replaced took 0.24 to 0.46 s.
    """
    n_offices = len(fixed)
    per_office = np.zeros(n_offices)
    longest = 0
    for g in range(n_offices):
        longest = max(longest, office_start[g + 1] - office_start[g])
    candidate = np.empty(longest, dtype=np.int64)
    depth = np.empty(longest)
    marking = len(serving) > 0
    for g in range(n_offices):
        if marking and not serving[g]:
            continue
        staff, total, count = 0.0, fixed[g], 0
        for k in range(office_start[g], office_start[g + 1]):
            r = travel[k] - lam[pair[k]]
            if r < -staff_weight[k]:
                staff += weight[k]
                total += r + staff_weight[k]
                if marking:
                    served[pair[k]] += 1.0
            elif r < 0:
                candidate[count] = k
                depth[count] = r / staff_weight[k]
                count += 1
        total -= staff_cost[g] * min(staff, minimum[g])
        room = minimum[g] - staff
        if room > 0 and count > 0:
            total += _filled(candidate[:count], depth[:count], room, lam, pair, travel, weight, marking, served)
        per_office[g] = total
    return per_office


# Bins of the reduced cost per staff, as a share of the staff cost, in which `_filled` counts an
# office's candidates before sorting only the one bin that fills its room in part.
_BINS = 64


@numba.njit(cache=True, nogil=True)
def _filled(candidate, depth, room, lam, pair, travel, weight, marking, served):  # pragma: no cover - compiled
    """What the candidates that fill an office's room add, best per staff (most negative depth)
    first.  Only the few best fill it (20,000 generated areas: 5 million candidates for rooms of
    one staff or so), so whole bins of depth are taken until the one that fills the room in part,
    and only that bin is sorted: sorting every candidate made a step at the first prices take
    0.38 s instead of 0.09 s."""
    per_bin = np.zeros(_BINS)
    bin_of = np.minimum((-depth * _BINS).astype(np.int64), _BINS - 1)  # deeper, higher
    for q in range(len(candidate)):
        per_bin[bin_of[q]] += weight[candidate[q]]
    cut = -1
    for b in range(_BINS - 1, -1, -1):
        if per_bin[b] >= room:
            cut = b
            break
        room -= per_bin[b]
    total = 0.0
    for q in range(len(candidate)):
        if bin_of[q] > cut:
            k = candidate[q]
            total += travel[k] - lam[pair[k]]
            if marking:
                served[pair[k]] += 1.0
    if cut >= 0:
        in_cut = np.flatnonzero(bin_of == cut)
        for q in in_cut[np.argsort(depth[in_cut])]:
            k = candidate[q]
            share = min(weight[k], room) / weight[k]
            total += (travel[k] - lam[pair[k]]) * share
            if marking:
                served[pair[k]] += share
            room -= weight[k]
            if room <= 0:
                break
    return total


def value(p: Prices, lam: np.ndarray) -> Value:
    """L(lambda): each site's best choice with the pairs priced at lambda (`_choices`)."""
    c = _choices(p, lam)
    bound = lam.sum() + p.constant + float(c.per_site[c.open_].sum())
    served = np.zeros(p.n_pairs)
    _offices(p, lam, c.serving, served)
    return Value(bound, 1.0 - served)


def choices(p: Prices, lam: np.ndarray) -> np.ndarray:
    """z[j, a] of the sites' best choices at lambda: where the Lagrangian would staff offices."""
    return _choices(p, lam).serving.reshape(len(p.site), -1)


def first_prices(p: Prices) -> np.ndarray:
    """lambda[i, a] to start from: the cheapest travel plus staff of serving the pair anywhere."""
    lam = np.full(p.n_pairs, np.inf)
    np.minimum.at(lam, p.pair, p.travel + p.staff_cost[p.group] * p.weight)
    return lam


def plan_prices(p: Prices, plan: Solution) -> np.ndarray:
    """lambda[i, a] from a plan: what serving the pair costs there, its office's and its site's
    costs shared by the staff each pair needs, so that sum(lambda) + constant is the plan's cost
    (less what offices and sites that serve nobody cost, such as a site forced open).

    At 20,000 generated areas these prices start the steps at L = 690 M against 644 M at
    `first_prices`, and where L rises from matters more than its first value: 1,052.0 M after
    100 s against 1,034.3 M from `first_prices` (the starting plan costs 1,081.3 M).  A pair
    the plan leaves partly unserved keeps `first_prices` for the rest.
    """
    n_agencies = p.n_agencies
    x = np.asarray(plan.x, dtype=float)[p.order]
    present = (plan.z & plan.y[:, None]).reshape(-1)
    office = np.where(present, p.fixed + p.staff_cost * (plan.n.reshape(-1) - p.minimum), 0.0)
    office_weight = np.bincount(p.group, p.weight * x, minlength=len(p.fixed))
    site_weight = office_weight.reshape(-1, n_agencies).sum(axis=1)
    per_staff = (np.divide(office, office_weight, out=np.zeros_like(office), where=office_weight > 0)
                 + np.repeat(np.divide(np.where(plan.y, p.site, 0.0), site_weight, out=np.zeros_like(site_weight),
                                       where=site_weight > 0), n_agencies))
    lam = np.bincount(p.pair, x * (p.travel + p.weight * per_staff[p.group]), minlength=p.n_pairs)
    unserved = 1.0 - np.bincount(p.pair, x, minlength=p.n_pairs)
    return lam + np.maximum(unserved, 0.0) * first_prices(p)


def deflected(gradient: np.ndarray, last: np.ndarray | None) -> np.ndarray:
    """The step's direction: the subgradient, bent towards the last direction where the two
    disagree (Camerini, Fratta and Maffioli 1975), which damps the zig-zag of plain steps.

    20,000 generated areas, 100 s from a plan's prices: 1,048.2 M without the bend, 1,050.7 M
    with DEFLECTION 0.5, 1,052.0 M with 1.0, 1,052.8 M with 1.5; but with 1.5 one of the 30
    small random problems stalled 0.2 % below its LP bound, which the steps must reach.
    """
    if last is None:
        return gradient
    beta = max(0.0, -DEFLECTION * float(gradient @ last) / max(float(last @ last), 1e-300))
    bent = gradient + beta * last
    return bent if bent.any() else gradient


DEFLECTION = 1.0


# Polyak's step towards `target` takes this share of the way at first, and half as much
# whenever `patience` steps bring no better bound: PATIENCE, or a tenth of the steps the time left
# allows if fewer, but at least LEAST_PATIENCE.  With 20 throughout, 20,000 generated areas
# (7.9 M triples, then about 0.5 s a step) reached 880 M in 60 s, with 5 to 12 about 1,000 M; 2,000
# areas (10 s) reach 965.7 M with 20, 964.9 M with 10.  The steps stop once the share falls
# below SMALLEST_SHARE.
FIRST_SHARE = 2.0
SMALLEST_SHARE = 1e-4
PATIENCE = 20
LEAST_PATIENCE = 5


# The first SIGN_SHARE of the time (and of the steps) moves each price by a step of its own
# (`sign_steps`), the rest by Polyak's steps from the best prices found so.
SIGN_SHARE = 0.2
# Each price's first step is SIGN_FIRST of its `first_prices`; a step grows by SIGN_UP while its
# pair's subgradient keeps its sign and shrinks by SIGN_DOWN where the sign turns.
SIGN_FIRST = 0.03
SIGN_UP = 1.3
SIGN_DOWN = 0.5
# The sign steps end sooner where the last SIGN_WINDOW of them raised the bound by less than
# SIGN_LEVEL of it: they creep on long after Polyak's steps would do better (2,000 generated
# areas: 963.7 M after 500 steps, 1.6 s, and 0.007 % more in each 100 after; at 20,000 areas
# they rise 0.1 % in the 200 steps before their 20 s end).
SIGN_WINDOW = 100
SIGN_LEVEL = 1e-4


def sign_steps(p: Prices, lam: np.ndarray, seconds: float, steps: int,
               stop: Callable[[float], bool] = lambda best: False) -> tuple[np.ndarray, float]:
    """The best prices, and L there, from steps that move each pair's price by its own length in
    the direction of its subgradient's sign (Riedmiller and Braun's Rprop, 1993).

    A common step length suits the pairs badly: their prices differ by orders of magnitude (a
    pair's visits), and where one pair's price has settled another's is still far off.  Each
    length here grows while its price keeps moving one way and shrinks where it turns.  L is a
    lower bound at any prices, so no step need be exact.  20,000 generated areas, from a plan's
    prices: 1,051.8 M after 20 s, where Polyak's steps reach about 1,044 M; Polyak's steps from
    there end at 1,057.8-1,058.1 M after 120 s in all, against 1,050.0 M from the plan's prices
    (1,053.9 M from these steps alone).  `stop(best)` hears each step's best bound, and ends
    the steps where it returns True.
    """
    started = time.perf_counter()
    length = SIGN_FIRST * first_prices(p)
    last = np.zeros(p.n_pairs)
    best, best_lam = -math.inf, lam
    bests = []
    for step in range(steps):
        v = value(p, lam)
        if v.bound > best:
            best, best_lam = v.bound, lam
        bests.append(best)
        crept = step >= SIGN_WINDOW and best - bests[step - SIGN_WINDOW] < SIGN_LEVEL * abs(best)
        if stop(best) or crept or time.perf_counter() - started > seconds or not v.gradient.any():
            break
        sign = np.sign(v.gradient)
        turn = sign * last
        length = np.where(turn > 0, length * SIGN_UP, np.where(turn < 0, length * SIGN_DOWN, length))
        lam, last = lam + sign * length, sign
    return best_lam, best


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


def _heard(watcher: Watcher | None) -> Callable[[float, float], bool]:
    """Tell the app's watcher, if any, the best plan's cost and the bound; whether it asks to stop."""
    def heard(target: float, best: float) -> bool:
        if watcher is None:
            return False
        watcher.progress(target, best)
        return watcher.should_stop()
    return heard


def bound(inst: Instance, target: float, seconds: float, steps: int = 1_000_000,
          plans: Callable[[Callable[[], np.ndarray]], float] | None = None, start: Solution | None = None) -> float:
    """The best L(lambda) found within `seconds` (or `steps` steps).

    `target` is the cost of a plan of the relaxation (no budgets, desks or office counts),
    so at least its optimum: the steps aim a little above it (AIM_ABOVE), as Held and Karp's
    aim at a plan's cost.  `plans`, if
    given, is offered the sites' choices z[j, a] at the best prices so far (a function that
    computes them, which the caller may leave uncalled) and returns the cost of the best plan
    it has, the new target (a Lagrangian heuristic).  `start`, a plan with its assignment, gives
    the first prices (`plan_prices`).  A step that leaves L further below the best than the
    best lies below the aim goes back to the best prices with half the share: from a plan's
    prices the first long steps can overshoot (20,000 generated areas: L = -2,091 M at step 8).
    The app's watcher, if any, hears the bound rise and may stop the search.  Where the steps
    end well within the time, the budgets are priced too (`_with_budgets_priced`).
    """
    started = time.perf_counter()
    heard = _heard(current_watcher())
    p = prices(inst)
    if p.n_pairs == 0:
        return -math.inf
    lam = first_prices(p) if start is None or start.x is None else plan_prices(p, start)
    planning = _Planning(plans)
    best, lam, target = _ascent(p, lam, target, seconds, steps, heard, planning)
    took = time.perf_counter() - started
    if len(p.budgets.rhs) and seconds - took > BUDGET_ROOM * took and not stopped_on_request():
        best = _with_budgets_priced(p, lam, best, target, started + seconds, steps, heard, planning)
    return best


# The budgets are priced only where the steps without them took at most 1 / (1 + BUDGET_ROOM)
# of the time: each price tried needs about as long again.  The first price tried is
# FIRST_BUDGET_PRICE a krona, and each next twice the last while the bound rises.  2,000
# generated areas (705.9 M budget): 965.7 M without, then at 0.05, 0.1, 0.2, 0.4 and 0.8 a
# krona 966.4, 967.0, 967.8, 968.0 and 963.6 M, 8.3 s in all (the LP relaxation with the
# budget and without desks: 968.2 M).  20,000 areas: the steps use all the time; a price of
# 0.2 lowers the bound there (the relaxation's choices spend less than the budget).
BUDGET_ROOM = 2.0
FIRST_BUDGET_PRICE = 0.05
# A price beyond this says only that no plan keeps the budget, which the bound then shows.
MOST_BUDGET_PRICE = 1e3


def _with_budgets_priced(p: Prices, lam: np.ndarray, best: float, target: float, deadline: float, steps: int,
                         heard: Callable[[float, float], bool], planning: _Planning) -> float:
    """The best bound with the budgets priced (`at_budgets`), each budget's price in turn doubled
    from FIRST_BUDGET_PRICE while the bound rises, the steps starting from the best prices so
    far.  A relaxation's bound does not see the budgets, and a plan must keep them: 2,000
    generated areas with a budget that binds, 965.7 M without pricing it, 968.0 M with."""
    mu = np.zeros(len(p.budgets.rhs))
    for r in range(len(mu)):
        price = FIRST_BUDGET_PRICE
        while price <= MOST_BUDGET_PRICE and time.perf_counter() < deadline and not stopped_on_request():
            tried = mu.copy()
            tried[r] = price
            found, found_lam, target = _ascent(at_budgets(p, tried), lam, max(target, best),
                                               deadline - time.perf_counter(), steps, heard, planning)
            if found <= best:
                break
            best, lam, mu, price = found, found_lam, tried, 2 * price
    return best


def _ascent(p: Prices, lam: np.ndarray, target: float, seconds: float, steps: int,
            heard: Callable[[float, float], bool], planning: _Planning) -> tuple[float, np.ndarray, float]:
    """The best L, the prices there and the best plan's cost (the target) after the sign steps
    and Polyak's, from `lam`, within `seconds` (or `steps` steps)."""
    started = time.perf_counter()
    lam, best = sign_steps(p, lam, SIGN_SHARE * seconds, int(SIGN_SHARE * steps), lambda best: heard(target, best))
    if stopped_on_request():  # heard in the sign steps: report nothing twice
        return best, lam, target
    polyak_started, left = time.perf_counter(), seconds - (time.perf_counter() - started)
    best_lam, best, share, since, direction = lam, -math.inf, FIRST_SHARE, 0, None
    for step in range(steps):
        v = value(p, lam)
        aim = target + AIM_ABOVE * abs(target)
        if v.bound > best:
            best, best_lam, best_value, since = v.bound, lam, v, 0
            planning.better(lam, v.gradient)
        elif v.bound < 2 * best - aim:  # the step overshot further than the best lies below the aim
            lam, v, direction = best_lam, best_value, None
            share, since, planning.settled = share / 2, 0, True
        else:
            since += 1
            if since >= patience(step + 1, time.perf_counter() - polyak_started, left):
                share, since, planning.settled = share / 2, 0, True
        if planning.due():
            target = min(target, planning.offer(p))
        if heard(target, best):
            break
        if not v.gradient.any() or share < SMALLEST_SHARE or time.perf_counter() - started > seconds:
            break  # a zero subgradient: these prices are optimal
        direction = deflected(v.gradient, direction)
        lam = lam + share * max(aim - v.bound, 1e-6 * abs(target)) / float(direction @ direction) * direction
    return best, best_lam, target
