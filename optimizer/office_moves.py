"""A general-model plan improved by moving offices one site at a time (a local search).

Where HiGHS cannot search (`pipeline.unsearched_plan`) the plan comes from the nearest-office
relaxation or the assignment Lagrangian's choices, staffed, fitted and thinned
(`desk_fit`), and nothing asked whether one office more, or one fewer, or one elsewhere,
would cost less: at 20,000 generated areas that plan sat 3.5 % above the bound (3.0 % after
the moves).  Here each site in turn is offered these moves, and the first that lowers the
objective within the rules is made:

- close the site (every agency leaves);
- one agency leaves it;
- one agency joins it, where it is open;
- open it, with every agency whose joining pays there, or with one of them;
- move its offices to one of its nearest sites that is closed;
- move one of its agencies to one of its nearest sites without it.

People go to the nearest office of their agency, and each office is staffed to
max(min_staff, its visits' staff), whole where staff are whole.  Visits that leave go to their
next nearest office, so every move is priced exactly by a pass over the entries of the
sites it touches (each demand pair's admissible sites, nearest first, with the first and
second open ones kept per pair: the fast interchange of Whitaker 1983 with the general
model's staff).  A move is made only where it keeps the desks, the office counts and the
three budgets, or breaks none of them further than the plan did already.

The loops are compiled with numba (one round over 2,000 sites with 7.9 million triples
takes about 1 s) and release the GIL, so that the search can run beside the Lagrangian's steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numba
import numpy as np

from models.nearest_office import (
    Columns,
    decision_costs,
    demand_levels,
    desk_counts,
    one_off_coefficients,
    spending_rows,
)

from .desk_fit import within_desks
from .instance import Instance
from .solve import Solution

# A move must lower the objective by more than this share of it (round-off and cycling).
_GAIN = 1e-9
# Round-off allowed on staff, budgets and desks.
_TOL = 1e-7
# The other sites to which a site's offices may move in one step, of each kind (`_neighbours`),
# and the nearest sites of each pair among which sharing is counted.
_NEIGHBOURS = 8
_SHARED = 4
# Rounds over every site at most; a round without a move ends the search sooner.
_MOST_ROUNDS = 50


class Entries(NamedTuple):
    """What the search reads from an instance, once (2 s at 20,000 areas x 2,000 sites).

    Pair p's admissible sites, nearest first, are entries start[p]:start[p + 1]; by_group
    lists the entries of each (site, agency), group_start[g]:group_start[g + 1].
    """

    start: np.ndarray  # (P + 1,)
    triple: np.ndarray  # (T,) the triple k of each entry
    group: np.ndarray  # (T,) j * A + a
    pair: np.ndarray  # (T,)
    travel: np.ndarray  # (T,) the travel cost of all the pair's visits to the entry's site
    weight: np.ndarray  # (P,) the staff the pair's visits need
    by_group: np.ndarray  # (T,)
    group_start: np.ndarray  # (J * A + 1,)
    cost: np.ndarray  # (J + J * A,) the objective's costs on y then z (annual + one-off / L)
    rows: np.ndarray  # (2 + A, J + J * A) annual, one-off and each agency's costs on y then z
    limits: np.ndarray  # (2 + A,) their budgets, inf where none
    staff_cost: np.ndarray  # (A,)
    staff_price: np.ndarray  # (A,) what a staff costs in the objective the moves lower (`priced`)
    minimum: np.ndarray  # (A,)
    integer: bool
    desks: np.ndarray  # (J,) inf where none
    force: np.ndarray  # (J,) 1 open, -1 closed, 0 free
    offices: np.ndarray  # (2,) the least and most offices
    neighbours: np.ndarray  # (J, M) the sites each site's offices may move to, -1 where fewer
    closing: float  # the one-off cost's constant: every existing site's closing cost, taken back on y
    constant: float  # the objective's: the same, amortised


def entries(inst: Instance) -> Entries:
    """The instance's triples as pairs' runs sorted by distance, and the costs and rows on y and z."""
    problem = inst.problem
    n_agencies, n_sites = inst.n_agencies, inst.n_sites
    lv = demand_levels(inst)
    start, order = lv.start, lv.order
    pair = np.repeat(np.arange(lv.n_pairs), np.diff(start))
    agencies = problem.agencies
    per_staff = np.array([a.visits_per_staff for a in agencies])
    visits = inst.visits[lv.area, lv.agency]
    group = inst.k_site[order].astype(np.int64) * n_agencies + inst.k_agency[order]
    weight = visits / per_staff[lv.agency]
    by_group = np.argsort(group, kind="stable")
    columns = Columns(n_sites, n_agencies)
    objective, _ = decision_costs(inst, columns)
    _, closing = one_off_coefficients(inst, columns)
    rows, limits = spending_rows(inst, columns)
    settings = problem.settings
    return Entries(
        start=start,
        triple=order.astype(np.int64), group=group, pair=pair.astype(np.int64),
        travel=settings.travel_cost_per_km * visits[pair] * inst.k_km[order],
        weight=weight,
        by_group=by_group.astype(np.int64),
        group_start=np.searchsorted(group[by_group], np.arange(n_sites * n_agencies + 1)).astype(np.int64),
        cost=objective,
        rows=rows, limits=limits,
        staff_cost=np.array([a.staff_cost for a in agencies]),
        staff_price=np.array([a.staff_cost for a in agencies]),
        minimum=np.array([a.min_staff for a in agencies]),
        integer=bool(settings.staff_integer),
        desks=desk_counts(inst),
        force=np.array([{"open": 1, "closed": -1}.get(s.force, 0) for s in problem.sites]),
        offices=np.array([settings.min_offices or 0, n_sites if settings.max_offices is None else settings.max_offices],
                         dtype=np.int64),
        neighbours=_neighbours(inst, start, inst.k_site[order].astype(np.int64), weight),
        closing=closing, constant=closing / settings.amortization_years,
    )


def _neighbours(inst: Instance, start: np.ndarray, site: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The sites a site's offices may move to (-1 where fewer): those that share its people most,
    then those nearest on the map, each once.  The first are found where distances are listed
    (a random problem whose unsearched plan stayed at 2,278.4 reaches the optimum, 1,756.1); the
    second gave the cheaper plan at 20,000 generated areas (from the start 1,081.3 against
    1,081.9 M with the first alone)."""
    found = np.hstack([_sharing(start, site, weight, inst.n_sites), _nearest_on_map(inst)])
    for c in range(1, found.shape[1]):
        seen = (found[:, :c] == found[:, c:c + 1]).any(axis=1)
        found[seen, c] = -1
    return found


def _nearest_on_map(inst: Instance) -> np.ndarray:
    """Each site's _NEIGHBOURS nearest other sites (-1 without coordinates), on a flat map: only their
    order matters, and the sites a planner would move an office between are a few km apart."""
    lat = np.array([np.nan if s.lat is None else s.lat for s in inst.problem.sites], dtype=float)
    lon = np.array([np.nan if s.lon is None else s.lon for s in inst.problem.sites], dtype=float)
    found = np.full((len(lat), _NEIGHBOURS), -1, dtype=np.int64)
    n = min(_NEIGHBOURS, len(lat) - 1)
    squeeze = np.cos(np.radians(np.nan_to_num(lat)))
    for rows in np.array_split(np.arange(len(lat)), max(1, len(lat) // 1000)):
        far = np.hypot(lat[rows, None] - lat[None, :], (lon[rows, None] - lon[None, :]) * squeeze[rows, None])
        far[np.arange(len(rows)), rows] = np.nan
        far = np.where(np.isnan(far), np.inf, far)
        nearest = np.argsort(far, axis=1, kind="stable")[:, :n]
        found[rows, :n] = np.where(np.isfinite(np.take_along_axis(far, nearest, axis=1)), nearest, -1)
    return found


def _sharing(start: np.ndarray, site: np.ndarray, weight: np.ndarray, n_sites: int) -> np.ndarray:
    """Each site's _NEIGHBOURS sites that most share its people (-1 where fewer): among each
    pair's _SHARED nearest sites, every two count the staff the pair needs.  These are the
    sites that could take over its offices' visits, and need no coordinates (distances may be
    listed)."""
    length = np.minimum(np.diff(start), _SHARED)
    pair = np.repeat(np.arange(len(length)), length)
    entry = start[pair] + _within_run(length)
    # each of a pair's first entries against each of them
    times = length[pair]
    a, b = site[np.repeat(entry, times)], site[np.repeat(start[pair], times) + _within_run(times)]
    w = np.repeat(weight[pair], times)
    distinct = a != b
    key, shared = np.unique(a[distinct] * n_sites + b[distinct], return_inverse=True)
    total = np.bincount(shared, w[distinct])
    j, k = key // n_sites, key % n_sites
    order = np.lexsort((k, -total, j))
    j, k = j[order], k[order]
    rank = np.arange(len(j)) - np.searchsorted(j, j)
    found = np.full((n_sites, _NEIGHBOURS), -1, dtype=np.int64)
    near = rank < _NEIGHBOURS
    found[j[near], rank[near]] = k[near]
    return found


def _within_run(length: np.ndarray) -> np.ndarray:
    """0, 1, ..., length[r] - 1 for each run r in turn."""
    return np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)


@numba.njit(cache=True, nogil=True)
def _staff(need, minimum, integer, present):
    """n[j, a] for visits needing `need` staff: 0 where absent, else at least the minimum."""
    if not present:
        return 0.0
    staff = max(need, minimum)
    return math.ceil(staff - 1e-9) if integer else staff


@numba.njit(cache=True, nogil=True)
def _nearest_two(p, start, group, z):
    """Pair p's first and second open entries (-1 where none)."""
    first = -1
    for q in range(start[p], start[p + 1]):
        if z[group[q]]:
            if first < 0:
                first = q
            else:
                return first, q
    return first, -1


@numba.njit(cache=True, nogil=True)
def _within(new, old, limit):
    """A row kept, or broken no further than before."""
    return new <= limit + 1e-9 * max(1.0, abs(limit)) or new <= old + 1e-9 * max(1.0, abs(old))


@numba.njit(cache=True, nogil=True)
def _site_seen(groups, t, n_agencies):
    """Whether a group before the t-th is at the same site."""
    for u in range(t):
        if groups[u] // n_agencies == groups[t] // n_agencies:
            return True
    return False


@numba.njit(cache=True, nogil=True)
def _flip(groups, e, st, delta_rows):
    """Toggle z[g] for `groups` and y where that opens or closes a site; the costs of y and z so
    changed, added to `delta_rows`, and the change in the number of offices."""
    z, y, force, cost, rows, n_agencies = st.z, st.y, e.force, e.cost, e.rows, len(e.minimum)
    n_sites = len(force)
    delta = 0.0
    offices = 0
    for g in groups:
        sign = 1.0 if not z[g] else -1.0
        z[g] = not z[g]
        delta += sign * cost[n_sites + g]
        delta_rows += sign * rows[:, n_sites + g]
    for t in range(len(groups)):
        j = groups[t] // n_agencies
        if _site_seen(groups, t, n_agencies):
            continue
        open_ = force[j] == 1
        for a in range(n_agencies):
            open_ = open_ or z[j * n_agencies + a]
        if open_ != y[j]:
            sign = 1.0 if open_ else -1.0
            y[j] = open_
            delta += sign * cost[j]
            delta_rows += sign * rows[:, j]
            offices += 1 if open_ else -1
    return delta, offices


# `_still_open`'s answer where a pair's two nearest offices both close and its list must be walked.
_WALK = -2


@numba.njit(cache=True, nogil=True)
def _still_open(first, second, group, z):
    """The pair's nearest office among its two nearest before the move, if either stays open; -1 where
    neither was there to stay (a toggled-on entry alone may serve it), _WALK where both close."""
    if z[group[first]]:
        return first
    if second < 0:
        return -1
    return second if z[group[second]] else _WALK


@numba.njit(cache=True, nogil=True)
def _price(groups, e, st, s, delta_rows):
    """The objective's change if the presences z[g], g in `groups`, are toggled, each pair then going
    to its nearest open office; inf where some pair would have none or a rule would break further.
    Leaves the rows' changes in `delta_rows`, and z, y and the scratch `s` as they were."""
    start, e_pair, e_group, travel, weight, by_group, group_start = (
        e.start, e.pair, e.group, e.travel, e.weight, e.by_group, e.group_start)
    n1, n2, z, need, staff, totals = st.n1, st.n2, st.z, st.need, st.staff, st.totals
    limits, staff_cost, minimum, integer, desks = e.limits, e.staff_cost, e.minimum, e.integer, e.desks
    staff_price = e.staff_price
    n_agencies = len(minimum)
    delta_rows[:] = 0.0
    delta, opened = _flip(groups, e, st, delta_rows)
    n_touched = 0
    n_pairs = 0
    uncovered = False
    for g in groups:
        s.touched[n_touched] = g
        s.marked[g] = True
        n_touched += 1
    for g in groups:
        for index in range(group_start[g], group_start[g + 1]):
            q = by_group[index]
            p = e_pair[q]
            if not s.pair_marked[p]:
                s.pair_marked[p] = True
                s.pairs[n_pairs] = p
                n_pairs += 1
                s.best[p] = _still_open(n1[p], n2[p], e_group, z)
            if z[g] and s.best[p] != _WALK and (s.best[p] < 0 or q < s.best[p]):
                s.best[p] = q
    for t in range(n_pairs):
        p = s.pairs[t]
        new = _first_open(p, start, e_group, z) if s.best[p] == _WALK else s.best[p]
        old = n1[p]
        if new < 0:
            uncovered = True
        elif new != old:
            delta += travel[new] - travel[old]
            for g2, sign in ((e_group[old], -1.0), (e_group[new], 1.0)):
                if not s.marked[g2]:
                    s.touched[n_touched] = g2
                    s.marked[g2] = True
                    n_touched += 1
                s.change[g2] += sign * weight[p]
    for t in range(n_pairs):
        s.pair_marked[s.pairs[t]] = False
    for t in range(n_touched):
        g = s.touched[t]
        a = g % n_agencies
        moved = _staff(need[g] + s.change[g], minimum[a], integer, z[g]) - staff[g]
        delta += staff_price[a] * moved
        delta_rows[0] += staff_cost[a] * moved
        delta_rows[2 + a] += staff_cost[a] * moved
        s.site_change[g // n_agencies] += moved
    feasible = not uncovered
    for t in range(n_touched):
        g = s.touched[t]
        j = g // n_agencies
        if s.site_change[j] != 0.0:
            old = 0.0
            for a in range(n_agencies):
                old += staff[j * n_agencies + a]
            feasible = feasible and _within(old + s.site_change[j], old, desks[j])
            s.site_change[j] = 0.0
        s.change[g] = 0.0
        s.marked[g] = False
    for r in range(len(limits)):
        feasible = feasible and _within(totals[r] + delta_rows[r], totals[r], limits[r])
    after = st.offices[0] + opened
    if (opened < 0 and after < e.offices[0]) or (opened > 0 and after > e.offices[1]):
        feasible = False
    _flip(groups, e, st, np.zeros(len(limits)))
    return delta if feasible else np.inf


class _State(NamedTuple):
    """The plan being improved, changed in place by `_make`."""

    n1: np.ndarray  # (P,) each pair's nearest open entry
    n2: np.ndarray  # (P,) its second nearest, -1 where none
    z: np.ndarray  # (J * A,) bool
    y: np.ndarray  # (J,) bool
    need: np.ndarray  # (J * A,) the staff the visits served there need
    staff: np.ndarray  # (J * A,) n[j, a]
    totals: np.ndarray  # (2 + A,) the rows of `Entries.rows`, with the staff
    offices: np.ndarray  # (1,) the number of sites open
    objective: np.ndarray  # (1,)


class _Scratch(NamedTuple):
    """Arrays `_price` fills and leaves as they were, allocated once per search."""

    change: np.ndarray  # (J * A,) staff moved to each group
    site_change: np.ndarray  # (J,)
    touched: np.ndarray  # (J * A,) the groups changed, the first n of them
    marked: np.ndarray  # (J * A,) bool: in `touched`
    pairs: np.ndarray  # (P,) the pairs looked at, the first n of them
    pair_marked: np.ndarray  # (P,) bool: in `pairs`
    best: np.ndarray  # (P,) each pair's nearest office after the move, or _WALK


def _scratch(n_groups: int, n_sites: int, n_pairs: int) -> _Scratch:
    return _Scratch(np.zeros(n_groups), np.zeros(n_sites), np.empty(n_groups, dtype=np.int64),
                    np.zeros(n_groups, dtype=bool), np.empty(n_pairs, dtype=np.int64), np.zeros(n_pairs, dtype=bool),
                    np.empty(n_pairs, dtype=np.int64))


@numba.njit(cache=True, nogil=True)
def _first_open(p, start, group, z):
    for q in range(start[p], start[p + 1]):
        if z[group[q]]:
            return q
    return -1


@numba.njit(cache=True, nogil=True)
def _make(groups, e, st, s):
    """Make the move `_price` priced: z and y, each affected pair's two nearest open offices, and the
    staff of the offices whose visits changed."""
    start, e_pair, e_group, weight, by_group, group_start = (
        e.start, e.pair, e.group, e.weight, e.by_group, e.group_start)
    n1, n2, z, need, staff, minimum, integer = st.n1, st.n2, st.z, st.need, st.staff, e.minimum, e.integer
    n_agencies = len(minimum)
    _, opened = _flip(groups, e, st, np.zeros(len(e.limits)))
    n_pairs = 0
    for g in groups:
        for index in range(group_start[g], group_start[g + 1]):
            q = by_group[index]
            p = e_pair[q]
            if s.pair_marked[p] or (z[g] and n2[p] >= 0 and q > n2[p]):
                continue  # already done, or an office opened beyond its two nearest
            s.pair_marked[p] = True
            s.pairs[n_pairs] = p
            n_pairs += 1
            before = n1[p]
            n1[p], n2[p] = _nearest_two(p, start, e_group, z)
            if n1[p] != before:
                for g2, sign in ((e_group[before], -1.0), (e_group[n1[p]], 1.0)):
                    need[g2] += sign * weight[p]
                    staff[g2] = _staff(need[g2], minimum[g2 % n_agencies], integer, z[g2])
    for t in range(n_pairs):
        s.pair_marked[s.pairs[t]] = False
    for g in groups:
        if not z[g]:
            need[g] = 0.0
        staff[g] = _staff(need[g], minimum[g % n_agencies], integer, z[g])
    return opened


@numba.njit(cache=True, nogil=True)
def _moves(j, e, st):
    """The moves tried at site j, each as the groups it toggles: close j, one agency out, one
    agency in, j's offices moved to each closed neighbour in turn, and each of its agencies moved
    to each neighbour without it; where j is closed, each agency in alone (`_round` then opens j
    with all those that pay, else with each alone)."""
    z, y, force, neighbours, n_agencies = st.z, st.y, e.force, e.neighbours, len(e.minimum)
    present = [j * n_agencies + a for a in range(n_agencies) if z[j * n_agencies + a]]
    absent = [j * n_agencies + a for a in range(n_agencies) if not z[j * n_agencies + a]]
    moves = []
    if y[j] and force[j] != 1 and len(present) > 0:
        moves.append(np.array(present, dtype=np.int64))
    if len(present) > 1 or force[j] == 1:
        for g in present:
            moves.append(np.array([g], dtype=np.int64))
    for g in absent:
        moves.append(np.array([g], dtype=np.int64))
    if y[j] and force[j] != 1 and len(present) > 0:
        for k in neighbours[j]:
            if k >= 0 and not y[k] and force[k] == 0:
                moved = present + [k * n_agencies + g % n_agencies for g in present]
                moves.append(np.array(moved, dtype=np.int64))
    for g in present:
        for k in neighbours[j]:
            there = k * n_agencies + g % n_agencies
            if k >= 0 and force[k] != -1 and not z[there] and (y[k] or len(present) > 1 or force[j] == 1):
                moves.append(np.array([g, there], dtype=np.int64))
    return moves


@numba.njit(cache=True, nogil=True)
def _round(order, e, st, s):
    """One round over the sites in `order`, making at each the first move that pays; the moves made."""
    y, cost, force = st.y, e.cost, e.force
    delta_rows = np.zeros(len(e.limits))
    made = 0
    for j in order:
        if force[j] == -1:
            continue
        moves = _moves(j, e, st)
        if not y[j]:
            paying = [g[0] for g in moves
                      if _price(g, e, st, s, delta_rows) < cost[j]]
            singles = [np.array([g], dtype=np.int64) for g in paying]
            moves = [np.array(paying, dtype=np.int64)] + singles if len(paying) > 1 else singles
        for groups in moves:
            delta = _price(groups, e, st, s, delta_rows)
            if delta < -_GAIN * abs(st.objective[0]):
                st.offices[0] += _make(groups, e, st, s)
                st.totals[:] += delta_rows
                st.objective[0] += delta
                made += 1
                break
    return made


def improved(inst: Instance, e: Entries, plan: Solution, stop: Callable[[], bool]) -> Solution | None:
    """The plan's offices after the moves that pay (`moved`), fitted to the desks (`within_desks`)
    where the plan's own offices did not fit them with everyone at the nearest."""
    made = moved(inst, e, plan, stop)
    if made is None or np.all(made.n.sum(axis=1) <= e.desks + _TOL):
        return made
    return within_desks(inst, made)


def moved(inst: Instance, e: Entries, plan: Solution, stop: Callable[[], bool]) -> Solution | None:
    """The plan's offices after the moves that pay, rounds over every site until none does or
    `stop()` says so, with people at their nearest office and each office staffed to the minimum.
    None where the plan's offices leave some pair without one.

    Where the plan spends beyond a budget, the moves first lower the objective with that row's
    spending priced at mu more (`priced`), mu rising through BUDGET_PRICES until the plan keeps
    it: a plan made without the budget (or from choices that break it) is so brought within it
    by the moves that cost least for what they save, and is not thrown away.
    """
    n_agencies = inst.n_agencies
    z = plan.z.ravel().copy()
    y = plan.y.copy()
    n1, n2 = _first_two(e, z)
    if np.any(n1 < 0):
        return None
    need = np.bincount(e.group[n1], e.weight, minlength=len(z))
    staff = _staff_of(e, need, z)
    st = _State(n1, n2, z, y, need, staff, totals=_spending(e, y, z, staff.reshape(-1, n_agencies)),
                offices=np.array([y.sum()], dtype=np.int64), objective=np.zeros(1))
    scratch = _scratch(len(z), inst.n_sites, len(e.start) - 1)
    for mu in BUDGET_PRICES:
        over = st.totals > e.limits + _TOL * np.maximum(1.0, np.abs(e.limits))
        if not over.any() or stop():
            break
        _search(inst, priced(e, np.where(over, mu, 0.0)), st, scratch, stop)
    _search(inst, e, st, scratch, stop)
    x = np.zeros(len(inst.k_site))
    x[e.triple[n1]] = 1.0
    return Solution("feasible", "", y=y, z=z.reshape(-1, n_agencies), n=staff.reshape(-1, n_agencies), x=x)


def spending(e: Entries, plan: Solution) -> np.ndarray:
    """(2 + A,) what the plan spends on each row of `Entries.rows` (annual, one-off, each agency's)."""
    return _spending(e, plan.y, plan.z.ravel(), plan.n)


def _spending(e: Entries, y: np.ndarray, z: np.ndarray, staff: np.ndarray) -> np.ndarray:
    per_agency = staff.sum(axis=0) * e.staff_cost
    return e.rows @ np.r_[y, z].astype(float) + np.r_[per_agency.sum(), e.closing, per_agency]


# The prices of a unit spent beyond a budget that the moves try in turn, each from where the
# last left the plan, until it keeps the budget.
BUDGET_PRICES = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def priced(e: Entries, mu: np.ndarray) -> Entries:
    """The entries with the spending of each row r (annual, one-off, agencies) costing mu_r more."""
    return e._replace(cost=e.cost + mu @ e.rows, staff_price=e.staff_cost * (1.0 + mu[0] + mu[2:]))


def _search(inst: Instance, e: Entries, st: _State, scratch: _Scratch, stop: Callable[[], bool]) -> None:
    """Rounds of moves over every site, lowering `e`'s objective, until a round makes none or `stop()`."""
    staff = st.staff.reshape(-1, inst.n_agencies).sum(axis=0)
    w = np.r_[st.y, st.z].astype(float)
    st.objective[0] = e.cost @ w + e.constant + staff @ e.staff_price + e.travel[st.n1].sum()
    for round_ in range(_MOST_ROUNDS):
        if not _round(np.random.default_rng(round_).permutation(inst.n_sites), e, st, scratch) or stop():
            break


def _first_two(e: Entries, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n_pairs = len(e.start) - 1
    n1, n2 = np.empty(n_pairs, dtype=np.int64), np.empty(n_pairs, dtype=np.int64)
    _fill_first_two(e.start, e.group, z, n1, n2)
    return n1, n2


@numba.njit(cache=True, nogil=True)
def _fill_first_two(start, group, z, n1, n2):
    for p in range(len(n1)):
        n1[p], n2[p] = _nearest_two(p, start, group, z)


def _staff_of(e: Entries, need: np.ndarray, z: np.ndarray) -> np.ndarray:
    minimum = np.tile(e.minimum, len(z) // len(e.minimum))
    staff = np.where(z, np.maximum(need, minimum), 0.0)
    return np.ceil(staff - 1e-9) if e.integer else staff
