"""Lagrangian bounds and plans for nearest-office problems too large for the radius model's LP.

At 20,000 areas x 2,000 sites x 4 agencies the radius model (`models.nearest_office`)
needs more than a million level rows before its LP bound settles, and minutes per LP.
Relaxing "every demand pair p = (i, a) is served" with a multiplier u_p, and each side row
r (budgets, office counts, written a_r . (y, z) <= b_r) with lambda_r >= 0, leaves a
problem that falls apart by site and is solved by inspection.  For any u and lambda >= 0

    L(u, lambda) = C + sum_p u_p - sum_r lambda_r b_r + sum_j h_j,
    h_j  = min(0, F_j - U_j)        (F_j - U_j where site j is forced open),
    U_j  = sum_a (R_ja - G_ja)^+,
    R_ja = sum_{p of agency a} (u_p - t_pj)^+,

is a lower bound on every plan's cost.  F_j and G_ja are the costs of y[j] and z[j, a]
(`decision_costs`) plus lambda times their side-row coefficients, t_pj the pair's travel to
site j, and C the constant of the objective.  The best L over u and lambda is the LP bound
of the strong x <= z formulation, so it proves what the radius LP would, without its rows.

Good multipliers and plans come from three classical steps, all linear passes over each
pair's sites nearest first:

1. dual ascent (Erlenkotter 1978, the DUALOC procedure): each u_p is raised, a distance
   level at a time, for as long as no site's h_j falls;
2. subgradient steps (Held, Wolfe and Crowder 1974) on u and lambda towards the best
   plan's cost, each pair's step scaled by its travel cost per km so that all pairs' radii
   grow alike;
3. plans: the sites the multipliers pay for (or the relaxed problem's own choice), made to
   serve everyone, then improved by adding, dropping and swapping offices (the fast
   interchange of Whitaker 1983, as Resende and Werneck 2007 use it for facility location)
   within the side rows.

The loops run over millions of (pair, site) entries in sequence, so they are compiled with
numba; in NumPy the dual ascent alone would take minutes at national scale.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numba
import numpy as np

from models.nearest_office import Columns, Levels, decision_costs, side_rows

from .instance import Instance

# The first subgradient step's share of the way to the target, and the steps without a
# better bound before that share is halved.
_FIRST_LENGTH = 2.0
_PATIENCE = 10
# The relaxed problem's own sites are turned into a plan every this many steps.
_PLAN_EVERY = 15


@dataclass(frozen=True, eq=False)
class PairSites:
    """Each demand pair's admissible sites, nearest first, with the pair's travel cost to each.

    Pair p's entries are `start[p]:start[p + 1]`; sites forced closed are left out, since
    no plan may use them.
    """

    start: np.ndarray  # (P + 1,)
    site: np.ndarray  # (T,)
    cost: np.ndarray  # (T,) t_pj
    agency: np.ndarray  # (P,)
    per_km: np.ndarray  # (P,) travel_cost_per_km v_p: a pair's cost of one more km

    @property
    def n_pairs(self) -> int:
        return len(self.agency)


def pair_sites(inst: Instance, lv: Levels) -> PairSites:
    """The pairs' sites in the order of `lv` (nearest first), without sites forced closed."""
    closed = np.array([s.force == "closed" for s in inst.problem.sites])
    order = lv.order[~closed[inst.k_site[lv.order]]]
    pair = np.repeat(np.arange(lv.n_pairs), np.diff(lv.start))[~closed[inst.k_site[lv.order]]]
    per_km = inst.problem.settings.travel_cost_per_km * inst.visits[lv.area, lv.agency]
    return PairSites(
        start=np.searchsorted(pair, np.arange(lv.n_pairs + 1)).astype(np.int64),
        site=inst.k_site[order].astype(np.int64),
        cost=per_km[pair] * inst.k_km[order],
        agency=lv.agency.astype(np.int64),
        per_km=per_km,
    )


@dataclass(frozen=True, eq=False)
class Prices:
    """The costs of y[j] and z[j, a], the objective's constant, and the side rows a_r . (y, z) <= b_r."""

    site: np.ndarray  # (J,) F_j, inf where the site is forced closed
    agency: np.ndarray  # (J, A) G_ja
    constant: float
    row_site: np.ndarray  # (R, J)
    row_agency: np.ndarray  # (R, J * A)
    row_bound: np.ndarray  # (R,)
    forced_open: np.ndarray  # (J,) bool

    def at(self, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """F, G and the constant with the side rows priced at lambda."""
        return (self.site + lam @ self.row_site, self.agency + (lam @ self.row_agency).reshape(self.agency.shape),
                self.constant - float(lam @ self.row_bound))


def prices(inst: Instance) -> Prices:
    """The objective's costs and the side rows of `models.nearest_office`, each made a row <= bound."""
    c = Columns(inst.n_sites, inst.n_agencies)
    costs, constant = decision_costs(inst, c)
    rows, bounds = [], []
    for block in side_rows(inst, c):
        dense = np.zeros((len(block.lower), c.w0))
        np.add.at(dense, (block.row, block.col), block.value)
        for sign, bound in ((1.0, block.upper), (-1.0, -block.lower)):
            finite = np.isfinite(bound)
            rows.append(sign * dense[finite])
            bounds.append(bound[finite])
    matrix = np.concatenate(rows) if rows else np.zeros((0, c.w0))
    closed = np.array([s.force == "closed" for s in inst.problem.sites])
    return Prices(
        site=np.where(closed, np.inf, costs[: c.n_sites]),
        agency=costs[c.n_sites :].reshape(c.n_sites, c.n_agencies),
        constant=constant,
        row_site=matrix[:, : c.n_sites], row_agency=matrix[:, c.n_sites :],
        row_bound=np.concatenate(bounds) if bounds else np.zeros(0),
        forced_open=np.array([s.force == "open" for s in inst.problem.sites]),
    )


# --- compiled passes ------------------------------------------------------------------------


@numba.njit(cache=True)
def _reach(start, site, cost, agency, u, n_sites, n_agencies):
    """R_ja = sum_{p of a} (u_p - t_pj)^+: what the pairs offer towards z[j, a]."""
    reach = np.zeros(n_sites * n_agencies)
    for p in range(len(start) - 1):
        for q in range(start[p], start[p + 1]):
            if cost[q] >= u[p]:
                break
            reach[site[q] * n_agencies + agency[p]] += u[p] - cost[q]
    return reach


@numba.njit(cache=True)
def _dual_ascent(start, site, cost, agency, order, u, site_cost, agency_cost, free_site):
    """Raise each u_p (pairs in `order`), a level at a time, while no site's h_j falls; in place.

    A raise of u_p by delta adds delta to R_ja of every site within u_p.  That is free up to
    G_ja - R_ja, then comes out of the site's slack F_j - U_j, which a site that is open
    anyway (`free_site`: forced open or F_j <= 0) does not have.
    """
    n_sites, n_agencies = agency_cost.shape
    reach = _reach(start, site, cost, agency, u, n_sites, n_agencies)
    paid = np.zeros(n_sites)
    for j in range(n_sites):
        for a in range(n_agencies):
            paid[j] += max(0.0, reach[j * n_agencies + a] - agency_cost[j, a])
    raised = True
    while raised:
        raised = False
        for p in order:
            a, up = agency[p], u[p]
            room, next_level = np.inf, np.inf
            for q in range(start[p], start[p + 1]):
                if cost[q] > up:
                    next_level = cost[q]
                    break
                j = site[q]
                slack = 0.0 if free_site[j] else max(0.0, site_cost[j] - paid[j])
                room = min(room, max(0.0, agency_cost[j, a] - reach[j * n_agencies + a]) + slack)
            delta = min(room, next_level - up)
            if not delta > 1e-9 * max(1.0, abs(up)) or not np.isfinite(delta):
                continue
            u[p] = up + delta
            raised = True
            for q in range(start[p], start[p + 1]):
                if cost[q] > up:
                    break
                k = site[q] * n_agencies + a
                before = max(0.0, reach[k] - agency_cost[site[q], a])
                reach[k] += delta
                paid[site[q]] += max(0.0, reach[k] - agency_cost[site[q], a]) - before


@numba.njit(cache=True)
def _choose_sites(reach, site_cost, agency_cost, forced_open):
    """The relaxed problem's sites at given offers R: sum_j h_j, y and z (z[j, a] where R_ja > G_ja at an open site)."""
    n_sites, n_agencies = agency_cost.shape
    y = np.zeros(n_sites, dtype=np.bool_)
    z = np.zeros(n_sites * n_agencies, dtype=np.bool_)
    total = 0.0
    for j in range(n_sites):
        paid = 0.0
        for a in range(n_agencies):
            paid += max(0.0, reach[j * n_agencies + a] - agency_cost[j, a])
        h = site_cost[j] - paid
        y[j] = forced_open[j] or h < 0.0
        if y[j]:
            total += h
            for a in range(n_agencies):
                z[j * n_agencies + a] = reach[j * n_agencies + a] > agency_cost[j, a]
    return total, y, z


@numba.njit(cache=True)
def _served(start, site, cost, agency, u, z, n_agencies):
    """Each pair's subgradient 1 - sum_j x_pj: x_pj = 1 where z[j, a] is open and t_pj < u_p."""
    slope = np.ones(len(start) - 1)
    for p in range(len(start) - 1):
        for q in range(start[p], start[p + 1]):
            if cost[q] >= u[p]:
                break
            if z[site[q] * n_agencies + agency[p]]:
                slope[p] -= 1.0
    return slope


# Kinds of move in the local search.
_ADD, _DROP, _SWAP, _CLOSE_SITE, _MOVE_SITE, _OPEN_SITE = 1, 2, 3, 4, 5, 6


@numba.njit(cache=True)
def _entries_by_site(site, n_sites):
    """The entries of every site (`at[begin[j]:begin[j + 1]]`), by counting sort: to find the pairs a move touches."""
    begin = np.zeros(n_sites + 1, np.int64)
    for q in range(len(site)):
        begin[site[q] + 1] += 1
    for j in range(n_sites):
        begin[j + 1] += begin[j]
    at = np.empty(len(site), np.int64)
    filled = begin[:-1].copy()
    for q in range(len(site)):
        at[filled[site[q]]] = q
        filled[site[q]] += 1
    return begin, at


@numba.njit(cache=True)
def _nearest_two_of(p, start, site, agency, is_open, n_agencies, first, second):
    first[p] = -1
    second[p] = -1
    for q in range(start[p], start[p + 1]):
        if is_open[site[q] * n_agencies + agency[p]]:
            if first[p] < 0:
                first[p] = q
            else:
                second[p] = q
                return


@numba.njit(cache=True)
def _weigh(p, sign, start, site, cost, agency, first, second, slot, n_agencies, gain, loss, sole, extra, cover):
    """Add (sign 1) or take away (sign -1) pair p's share of the move weights (Whitaker 1983):
    `gain`[c] of opening c, `loss`[r] of closing r, `extra`[j_c, slot of r] of doing both at once;
    `sole`[r] counts the pairs only r serves and `cover` those of them that c would serve."""
    a, q1, q2 = agency[p], first[p], second[p]
    if q1 < 0:
        return
    near = cost[q1]
    r = site[q1] * n_agencies + a
    far = cost[q2] if q2 >= 0 else near  # a pair r alone serves stays with r unless c serves it
    if q2 < 0:
        sole[r] += sign
    loss[r] += sign * (far - near)
    column = slot[r]
    for q in range(start[p], q2 if q2 >= 0 else start[p + 1]):
        if q == q1:
            continue
        if cost[q] < near:
            gain[site[q] * n_agencies + a] += sign * (near - cost[q])
        extra[site[q], column] += sign * (far - max(cost[q], near))
        if q2 < 0:
            cover[site[q], column] += sign


@numba.njit(cache=True)
def _broken(use, change, row_bound):
    """How far the side rows are broken after a move changes their use by `change`: each row's
    excess over its bound, per (1 + |bound|)."""
    total = 0.0
    for r in range(len(row_bound)):
        total += max(0.0, use[r] + change[r] - row_bound[r]) / (1.0 + abs(row_bound[r]))
    return total


@numba.njit(cache=True)
def _shift(change, matrix, column, sign):
    """change += sign * matrix[:, column], where there is a column (>= 0)."""
    if column >= 0:
        for r in range(len(change)):
            change[r] += sign * matrix[r, column]


@numba.njit(cache=True)
def _better(broken, saving, best_broken, best_saving):
    """Whether a move beats the best so far: it leaves the rows less broken, or as broken and saves more."""
    return broken < best_broken - 1e-12 or (broken <= best_broken + 1e-12 and saving > best_saving)


@numba.njit(cache=True)
def _local_search(start, site, cost, agency, site_cost, agency_cost, forced_open, is_open,
                  row_site, row_agency, row_bound, tolerance, max_moves):
    """Improve a plan that serves every pair by the best single move, until none saves more than `tolerance`.

    The moves: open, close or swap one agency's office (Whitaker's fast interchange), and
    close, move or open a whole site with its agencies (a site's cost is saved only when all
    its agencies leave, which no single-agency move sees).  Moves are weighed first by how
    far they leave the side rows broken, then by cost, so a plan that breaks a budget is
    first brought within it.  No move leaves a pair unserved.  After a move only the pairs
    near the sites it touched are weighed again.  `is_open` (J * A) changes in place;
    returns the number of moves made.
    """
    n_sites, n_agencies = agency_cost.shape
    n_cols, n_pairs, n_rows = n_sites * n_agencies, len(start) - 1, len(row_bound)
    begin, at = _entries_by_site(site, n_sites)
    pair_of = np.empty(len(site), np.int64)
    for p in range(n_pairs):
        pair_of[start[p]:start[p + 1]] = p
    first, second = np.empty(n_pairs, np.int64), np.empty(n_pairs, np.int64)
    count = np.zeros(n_sites, np.int64)
    use = np.zeros(n_rows)
    slot = np.full(n_cols, -1, np.int64)
    opened = np.flatnonzero(is_open)
    capacity = max(64, 2 * len(opened))
    free = list(range(capacity - 1, -1, -1))
    for k in opened:
        slot[k] = free.pop()
        count[k // n_agencies] += 1
        use += row_agency[:, k]
    for j in range(n_sites):
        if count[j] > 0 or forced_open[j]:
            use += row_site[:, j]
    gain, loss = np.zeros(n_cols), np.zeros(n_cols)
    sole = np.zeros(n_cols, np.int64)
    extra = np.zeros((n_sites, capacity))
    cover = np.zeros((n_sites, capacity), np.int32)
    for p in range(n_pairs):
        _nearest_two_of(p, start, site, agency, is_open, n_agencies, first, second)
        _weigh(p, 1, start, site, cost, agency, first, second, slot, n_agencies, gain, loss, sole, extra, cover)
    change = np.zeros(n_rows)
    touched = np.zeros(n_pairs, np.bool_)
    moves = 0
    while moves < max_moves:
        change[:] = 0.0
        best_broken = _broken(use, change, row_bound)
        best_saving, kind, out_, in_ = tolerance, 0, -1, -1
        for r in range(n_cols):
            if not is_open[r]:
                continue
            jr, a = r // n_agencies, r % n_agencies
            closes = count[jr] == 1 and not forced_open[jr]
            out_delta = loss[r] - agency_cost[jr, a] - (site_cost[jr] if closes else 0.0)
            if sole[r] == 0:
                change[:] = 0.0
                _shift(change, row_agency, r, -1.0)
                _shift(change, row_site, jr if closes else -1, -1.0)
                broken = _broken(use, change, row_bound) if n_rows else 0.0
                if _better(broken, -out_delta, best_broken, best_saving):
                    best_broken, best_saving, kind, out_, in_ = broken, -out_delta, _DROP, r, -1
            for jc in range(n_sites):
                c = jc * n_agencies + a
                if is_open[c] or cover[jc, slot[r]] < sole[r] or not np.isfinite(site_cost[jc]):
                    continue
                opens = count[jc] == 0 and not forced_open[jc]
                delta = (out_delta + agency_cost[jc, a] + (site_cost[jc] if opens else 0.0) - gain[c]
                         - extra[jc, slot[r]])
                if n_rows:
                    change[:] = 0.0
                    _shift(change, row_agency, r, -1.0)
                    _shift(change, row_site, jr if closes else -1, -1.0)
                    _shift(change, row_agency, c, 1.0)
                    _shift(change, row_site, jc if opens else -1, 1.0)
                broken = _broken(use, change, row_bound) if n_rows else 0.0
                if _better(broken, -delta, best_broken, best_saving):
                    best_broken, best_saving, kind, out_, in_ = broken, -delta, _SWAP, r, c
        for c in range(n_cols):
            if is_open[c] or gain[c] <= 0.0:
                continue
            jc = c // n_agencies
            opens = count[jc] == 0 and not forced_open[jc]
            delta = agency_cost[jc, c % n_agencies] + (site_cost[jc] if opens else 0.0) - gain[c]
            if n_rows:
                change[:] = 0.0
                _shift(change, row_agency, c, 1.0)
                _shift(change, row_site, jc if opens else -1, 1.0)
            broken = _broken(use, change, row_bound) if n_rows else 0.0
            if _better(broken, -delta, best_broken, best_saving):
                best_broken, best_saving, kind, out_, in_ = broken, -delta, _ADD, -1, c
        for jr in range(n_sites):
            if count[jr] < 2 or forced_open[jr]:
                continue  # one agency: the single-agency moves already weigh it
            close_delta, closable = -site_cost[jr], True
            change[:] = 0.0
            _shift(change, row_site, jr, -1.0)
            for a in range(n_agencies):
                r = jr * n_agencies + a
                if is_open[r]:
                    close_delta += loss[r] - agency_cost[jr, a]
                    closable = closable and sole[r] == 0
                    _shift(change, row_agency, r, -1.0)
            if closable:
                broken = _broken(use, change, row_bound) if n_rows else 0.0
                if _better(broken, -close_delta, best_broken, best_saving):
                    best_broken, best_saving, kind, out_, in_ = broken, -close_delta, _CLOSE_SITE, jr, -1
            for jc in range(n_sites):
                if count[jc] > 0 or forced_open[jc] or not np.isfinite(site_cost[jc]):
                    continue
                delta, movable = site_cost[jc] - site_cost[jr], True
                for a in range(n_agencies):
                    r = jr * n_agencies + a
                    if is_open[r]:
                        c = jc * n_agencies + a
                        movable = movable and cover[jc, slot[r]] >= sole[r]
                        delta += (agency_cost[jc, a] - agency_cost[jr, a] - gain[c] + loss[r]
                                  - extra[jc, slot[r]])
                if not movable or -delta <= best_saving and best_broken == 0.0:
                    continue
                change[:] = 0.0
                _shift(change, row_site, jc, 1.0)
                _shift(change, row_site, jr, -1.0)
                for a in range(n_agencies):
                    if is_open[jr * n_agencies + a]:
                        _shift(change, row_agency, jc * n_agencies + a, 1.0)
                        _shift(change, row_agency, jr * n_agencies + a, -1.0)
                broken = _broken(use, change, row_bound) if n_rows else 0.0
                if _better(broken, -delta, best_broken, best_saving):
                    best_broken, best_saving, kind, out_, in_ = broken, -delta, _MOVE_SITE, jr, jc
        for jc in range(n_sites):
            if count[jc] > 0 or forced_open[jc] or not np.isfinite(site_cost[jc]):
                continue
            delta, agencies = site_cost[jc], 0
            change[:] = 0.0
            _shift(change, row_site, jc, 1.0)
            for a in range(n_agencies):
                c = jc * n_agencies + a
                if gain[c] > agency_cost[jc, a]:
                    delta += agency_cost[jc, a] - gain[c]
                    agencies += 1
                    _shift(change, row_agency, c, 1.0)
            if agencies < 2:
                continue  # one agency: an ADD
            broken = _broken(use, change, row_bound) if n_rows else 0.0
            if _better(broken, -delta, best_broken, best_saving):
                best_broken, best_saving, kind, out_, in_ = broken, -delta, _OPEN_SITE, -1, jc
        if kind == 0:
            break
        # the columns the move closes and opens
        closing, opening = np.full(n_agencies, -1, np.int64), np.full(n_agencies, -1, np.int64)
        if kind == _ADD or kind == _SWAP:
            opening[0] = in_
        if kind == _DROP or kind == _SWAP:
            closing[0] = out_
        if kind == _CLOSE_SITE or kind == _MOVE_SITE:
            for a in range(n_agencies):
                if is_open[out_ * n_agencies + a]:
                    closing[a] = out_ * n_agencies + a
                    if kind == _MOVE_SITE:
                        opening[a] = in_ * n_agencies + a
        if kind == _OPEN_SITE:
            for a in range(n_agencies):
                if gain[in_ * n_agencies + a] > agency_cost[in_, a]:
                    opening[a] = in_ * n_agencies + a
        # the pairs whose two nearest open offices may change: near a closing office that is one of
        # them, or with an opening site nearer than their second
        near = np.empty(0, np.int64)
        for k in np.concatenate((closing, opening)):
            if k < 0:
                continue
            j, a = k // n_agencies, k % n_agencies
            found = np.empty(begin[j + 1] - begin[j], np.int64)
            n_found = 0
            for e in range(begin[j], begin[j + 1]):
                q = at[e]
                p = pair_of[q]
                if agency[p] != a or touched[p]:
                    continue
                if (q == first[p] or q == second[p]) if is_open[k] else (second[p] < 0 or q < second[p]):
                    touched[p] = True
                    found[n_found] = p
                    n_found += 1
            near = np.concatenate((near, found[:n_found]))
        for p in near:
            _weigh(p, -1, start, site, cost, agency, first, second, slot, n_agencies, gain, loss, sole, extra, cover)
        for k in closing:
            if k < 0:
                continue
            is_open[k] = False
            extra[:, slot[k]] = 0.0
            cover[:, slot[k]] = 0
            free.append(slot[k])
            slot[k] = -1
            use -= row_agency[:, k]
            count[k // n_agencies] -= 1
            if count[k // n_agencies] == 0 and not forced_open[k // n_agencies]:
                use -= row_site[:, k // n_agencies]
        for k in opening:
            if k < 0:
                continue
            if len(free) == 0:
                extra = np.concatenate((extra, np.zeros((n_sites, capacity))), axis=1)
                cover = np.concatenate((cover, np.zeros((n_sites, capacity), np.int32)), axis=1)
                free.extend(range(2 * capacity - 1, capacity - 1, -1))
                capacity *= 2
            is_open[k] = True
            slot[k] = free.pop()
            use += row_agency[:, k]
            if count[k // n_agencies] == 0 and not forced_open[k // n_agencies]:
                use += row_site[:, k // n_agencies]
            count[k // n_agencies] += 1
        for p in near:
            _nearest_two_of(p, start, site, agency, is_open, n_agencies, first, second)
            _weigh(p, 1, start, site, cost, agency, first, second, slot, n_agencies, gain, loss, sole, extra, cover)
            touched[p] = False
        moves += 1
    return moves


# --- the search -----------------------------------------------------------------------------


@dataclass
class Multipliers:
    """u per pair and lambda per side row; the bound they give is valid whatever their values."""

    u: np.ndarray
    lam: np.ndarray


class Relaxation:
    """The relaxed problem of one instance: bounds at any multipliers, plans near them."""

    def __init__(self, inst: Instance, lv: Levels):
        self.inst = inst
        self.pairs = pairs = pair_sites(inst, lv)
        self.prices = prices(inst)
        self.covered = bool(np.all(np.diff(pairs.start) > 0))
        pr = self.prices
        costs = np.abs(pr.site[np.isfinite(pr.site)]).max(initial=0) + np.abs(pr.agency).max(initial=0)
        coefficients = np.abs(np.hstack([pr.row_site, pr.row_agency])).max(axis=1, initial=0)
        self.row_scale = (1.0 + costs) / np.maximum(coefficients, 1e-12)  # a lambda that prices a row like the costs
        self.ceiling = (np.maximum(pr.site[np.isfinite(pr.site)], 0).sum() + np.maximum(pr.agency, 0).sum()
                        + pairs.cost[pairs.start[1:] - 1].sum() + pr.constant) if self.covered else np.inf
        """The most any plan can cost: every site and agency open, every pair at its farthest site.
        A bound above it proves that no plan keeps the rows."""
        self.order = np.argsort(np.diff(pairs.start), kind="stable").astype(np.int64)

    def start(self) -> Multipliers:
        """Each pair at its nearest site's cost, no side row priced: the bound of serving everyone nearest, free."""
        p = self.pairs
        return Multipliers(p.cost[p.start[:-1]].copy(), np.zeros(len(self.prices.row_bound)))

    def ascend(self, m: Multipliers) -> None:
        """Dual ascent from m, in place: u only rises, and never where the bound would fall."""
        site_cost, agency_cost, _ = self.prices.at(m.lam)
        free = self.prices.forced_open | (site_cost <= 0)
        p = self.pairs
        _dual_ascent(p.start, p.site, p.cost, p.agency, self.order, m.u, site_cost, agency_cost, free)

    def offers(self, m: Multipliers) -> np.ndarray:
        """R_ja = sum_{p of a} (u_p - t_pj)^+ at m's u."""
        p = self.pairs
        return _reach(p.start, p.site, p.cost, p.agency, m.u, *self.prices.agency.shape)

    def bound(self, m: Multipliers, reach: np.ndarray | None = None
              ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """L(u, lambda), the relaxed problem's y and z, and the subgradients in u and lambda.

        `reach`: the offers at m's u, where the caller has them already."""
        reach = self.offers(m) if reach is None else reach
        site_cost, agency_cost, constant = self.prices.at(m.lam)
        h, y, z = _choose_sites(reach, site_cost, agency_cost, self.prices.forced_open)
        p = self.pairs
        slope_u = _served(p.start, p.site, p.cost, p.agency, m.u, z, agency_cost.shape[1])
        slope_lam = self.prices.row_site @ y + self.prices.row_agency @ z - self.prices.row_bound
        return constant + float(m.u.sum()) + h, y, z.reshape(agency_cost.shape), slope_u, slope_lam

    def price_rows(self, m: Multipliers) -> np.ndarray:
        """Set each lambda_r, in turn, to the value that maximises L at m's u; returns the offers R.

        With u fixed the offers are fixed, and L is concave in each lambda_r at a cost of one
        pass over the sites, so an exact line search is cheap.  Subgradient steps on lambda,
        whose scale is unlike u's, overshoot: a 3 % budget cut at 20,000 areas left the
        bound 0.6 % lower after 150 steps than with this search.
        """
        reach = self.offers(m)
        pr = self.prices
        for r in range(len(pr.row_bound)):
            def value(lam_r: float, r: int = r) -> float:
                lam = m.lam.copy()
                lam[r] = lam_r
                site_cost, agency_cost, constant = pr.at(lam)
                return constant + _choose_sites(reach, site_cost, agency_cost, pr.forced_open)[0]

            m.lam[r] = _maximise(value, m.lam[r], self.row_scale[r])
        return reach

    def plan(self, z: np.ndarray, best: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """A plan from the agencies `z` (J, A), improved by local search under the true costs and the side rows.

        A pair that z leaves unserved first gets its office in the best plan so far (`best`,
        its z), or its nearest site: the relaxed problem's z is near a good plan in most
        places, and starting from it costs fewer moves than starting from nothing.
        """
        p, pr = self.pairs, self.prices
        is_open = z.ravel().copy()
        unserved = _nearest_open(p, is_open, z.shape[1]) < 0
        nearest = p.start[:-1] if best is None else _nearest_open(p, best.ravel(), z.shape[1])
        is_open[p.site[nearest[unserved]] * z.shape[1] + p.agency[unserved]] = True
        finite = np.abs(pr.site[np.isfinite(pr.site)])
        tolerance = 1e-9 * (1.0 + finite.max(initial=0) + np.abs(pr.agency).max(initial=0))
        _local_search(p.start, p.site, p.cost, p.agency, pr.site, pr.agency, pr.forced_open, is_open,
                      pr.row_site, pr.row_agency, pr.row_bound, tolerance, 100_000)
        z = is_open.reshape(z.shape)
        return z.any(axis=1) | pr.forced_open, z

    def allows(self, y: np.ndarray, z: np.ndarray) -> bool:
        """Whether a plan keeps the side rows and the forced sites (the cost tells whether it serves everyone)."""
        pr = self.prices
        use = pr.row_site @ y + pr.row_agency @ z.ravel()
        closed = ~np.isfinite(pr.site)
        return bool(np.all(use <= pr.row_bound + 1e-6 * (1.0 + np.abs(pr.row_bound)))
                    and np.all(y[pr.forced_open]) and not np.any(y[closed]))


def _maximise(value, start: float, scale: float) -> float:
    """The lambda >= 0 that maximises the concave `value`, by golden section to a relative 1e-7 of the bracket."""
    high = max(2.0 * start, 1e-6 * scale)
    for _ in range(60):  # a row no plan can keep raises L for ever: the caller sees L pass every plan's cost
        if value(high) <= value(high / 2):
            break
        high *= 2
    low, ratio = 0.0, (math.sqrt(5) - 1) / 2
    a, b = high - ratio * high, ratio * high
    value_a, value_b = value(a), value(b)
    while high - low > 1e-7 * max(high, 1e-12):
        if value_a < value_b:
            low, a, value_a = a, b, value_b
            b = low + ratio * (high - low)
            value_b = value(b)
        else:
            high, b, value_b = b, a, value_a
            a = high - ratio * (high - low)
            value_a = value(a)
    return max((0.0, start, (low + high) / 2), key=value)


def _nearest_open(p: PairSites, is_open: np.ndarray, n_agencies: int) -> np.ndarray:
    """Each pair's nearest entry whose office is open in `is_open` (J * A), or -1."""
    entry_open = is_open[p.site * n_agencies + np.repeat(p.agency, np.diff(p.start))]
    positions = np.where(entry_open, np.arange(len(p.site)), len(p.site))
    nearest = np.minimum.reduceat(np.append(positions, len(p.site)), p.start[:-1]) if len(p.site) else positions
    return np.where(nearest < len(p.site), nearest, -1)


class Incumbent(Protocol):
    """The best plan so far, as the caller keeps it: its cost (inf when none) and (y, z)."""

    cost: float
    plan: tuple[np.ndarray, np.ndarray] | None


@dataclass(frozen=True)
class Step:
    """One result of the search: a bound, and a plan (y, z) when this step made one."""

    bound: float
    plan: tuple[np.ndarray, np.ndarray] | None


def search(relaxation: Relaxation, incumbent: Incumbent) -> Iterator[Step]:
    """Bounds and plans, better and better: dual ascent, then subgradient steps towards the incumbent's cost.

    The caller keeps the best plan and bound (`incumbent`) and stops iterating when they
    are close enough or time is up.
    """
    m = relaxation.start()
    relaxation.ascend(m)
    value, _, z, slope_u, slope_lam = relaxation.bound(m)
    best = value
    yield Step(value, None)
    tight = _paid_for(relaxation, m)
    yield Step(value, relaxation.plan(tight))
    scale, length, since, step = relaxation.pairs.per_km, _FIRST_LENGTH, 0, 0
    while True:
        step += 1
        target = incumbent.cost
        if not math.isfinite(target) or target <= value:
            target = value + 0.01 * abs(value) + 1.0
        along = float(scale @ slope_u**2)
        if along == 0 and not np.any(slope_lam > 1e-9 * (1.0 + np.abs(relaxation.prices.row_bound))):
            return  # the relaxed problem serves every pair once within the rows: its plan is optimal
        if along > 0:
            m.u += length * (target - value) / along * scale * slope_u
        reach = relaxation.price_rows(m)
        if step % _PLAN_EVERY == 0:
            relaxation.ascend(m)
            reach = None
        value, _, z, slope_u, slope_lam = relaxation.bound(m, reach)
        since = 0 if value > best else since + 1
        if since >= _PATIENCE:
            length, since = length / 2, 0
        best = max(best, value)
        if step % _PLAN_EVERY == 0:
            yield Step(value, relaxation.plan(z, None if incumbent.plan is None else incumbent.plan[1]))
        else:
            yield Step(value, None)


def _paid_for(relaxation: Relaxation, m: Multipliers) -> np.ndarray:
    """(J, A): the agencies whose presence the dual ascent has paid for in full, at sites paid for in full."""
    site_cost, agency_cost, _ = relaxation.prices.at(m.lam)
    p = relaxation.pairs
    reach = _reach(p.start, p.site, p.cost, p.agency, m.u + 1e-9 * np.maximum(1.0, np.abs(m.u)), *agency_cost.shape)
    reach = reach.reshape(agency_cost.shape)
    paid = np.maximum(reach - agency_cost, 0).sum(axis=1)
    with np.errstate(invalid="ignore"):  # inf - inf where a site is forced closed: never paid for
        site_paid = relaxation.prices.forced_open | (paid >= site_cost - 1e-6 * np.maximum(1.0, np.abs(site_cost)))
    return (reach >= agency_cost - 1e-6 * np.maximum(1.0, agency_cost)) & site_paid[:, None]
