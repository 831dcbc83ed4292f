"""The radius formulation of the office-network model, for problems where people go to the nearest office.

When no site's desks can bind, no agency has a minimum staff, staff are full-time
equivalents and the objective is cost, the staff bill is the same for every plan (every
visit is served, and staff follow visits), so once the sites and agencies are chosen each
area simply goes to the nearest office of each agency.  The assignment x[i, j, a] then
needs no variables of its own: for each demand pair (i, a) with distinct admissible
distances D^1 < D^2 < ... < D^G, one continuous variable per level,

    w[i, a, k] >= 1 - sum_{j : d_ij <= D^k} z[j, a]        (k = 1 .. G - 1)

is 1 exactly when no office of a lies within D^k, and the travel cost of the pair is
t^1 + sum_k (t^{k+1} - t^k) w[i, a, k] with t^k = travel_cost_per_km v_ia D^k.  This is the
formulation of Cornuéjols, Nemhauser and Wolsey (1980) as García, Labbé and Marín (2011)
use it for large p-median problems: its LP bound equals that of the strong x <= z model,
but a pair needs rows only up to the distance of its nearest office, and equal distances
share a row.  `models/office_network.py` remains the general model; this one is checked
against it on random instances (`tests/test_nearest_office.py`).

The levels kept per pair (`depth`) may stop short of the last one.  The model then
under-prices pairs whose nearest office lies beyond their last level, so its optimum is a
lower bound; `optimizer.radius` deepens the pairs a plan shows are short and solves again.

The model is built straight from the instance's arrays into HiGHS (no Pyomo expressions):
one function per family of rows below, each returning its block of the matrix.  At a
million triples this takes a second, where the Pyomo model takes minutes and gigabytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np

from optimizer.instance import Instance

_INF = highspy.kHighsInf


def eligible(inst: Instance) -> bool:
    """Whether every plan's best assignment is 'nearest open office', so this model is exact."""
    problem = inst.problem
    s = problem.settings
    return (
        s.objective == "cost"
        and not s.staff_integer
        and all(a.min_staff == 0 for a in problem.agencies)
        and bool(np.all(_desks(inst) >= staff_reach(inst).sum(axis=1) - 1e-9))
    )


def _desks(inst: Instance) -> np.ndarray:
    return np.array([np.inf if s.desks is None else s.desks for s in inst.problem.sites])


def staff_reach(inst: Instance) -> np.ndarray:
    """(J, A): the staff agency a would need at j to serve every area it may serve there (N_ja)."""
    per_staff = np.array([1.0 / a.visits_per_staff for a in inst.problem.agencies])
    reach = np.zeros((inst.n_sites, inst.n_agencies))
    np.add.at(reach, (inst.k_site, inst.k_agency), inst.visits[inst.k_area, inst.k_agency] * per_staff[inst.k_agency])
    return reach


# --- the levels of each demand pair ------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Levels:
    """The triples of each demand pair (i, a), nearest first, grouped by distinct distance.

    Pair p's triples are `order[start[p]:start[p + 1]]` (indices into the instance's
    triples); `level` gives each its level (0 = nearest distance) and `level_end[first[p] + k]`
    the number of the pair's triples at levels <= k.
    """

    order: np.ndarray
    start: np.ndarray  # (P + 1,)
    level: np.ndarray  # (T,) in `order`
    n_levels: np.ndarray  # (P,)
    first: np.ndarray  # (P,) where the pair's levels begin in `level_end`
    level_end: np.ndarray  # (sum of n_levels,)
    area: np.ndarray  # (P,) i of each pair
    agency: np.ndarray  # (P,) a of each pair
    km: np.ndarray  # (sum of n_levels,) D^k of each level

    @property
    def n_pairs(self) -> int:
        return len(self.area)


def demand_levels(inst: Instance) -> Levels:
    """Group the instance's triples (sorted by agency, area, site) into pairs and distance levels."""
    pair_change = np.ones(len(inst.k_area), dtype=bool)
    pair_change[1:] = (inst.k_area[1:] != inst.k_area[:-1]) | (inst.k_agency[1:] != inst.k_agency[:-1])
    pair = np.cumsum(pair_change) - 1
    order = np.lexsort((inst.k_km, pair))  # stable: equal distances stay in site order
    pair_sorted, km_sorted = pair[order], inst.k_km[order]
    start = np.append(np.flatnonzero(pair_change), len(order))
    new_level = np.ones(len(order), dtype=bool)
    new_level[1:] = (pair_sorted[1:] != pair_sorted[:-1]) | (km_sorted[1:] != km_sorted[:-1])
    levels_so_far = np.cumsum(new_level) - 1
    first = levels_so_far[start[:-1]]
    level = levels_so_far - first[pair_sorted]
    n_levels = np.diff(np.append(first, levels_so_far[-1] + 1))
    last_of_level = np.append(new_level[1:], True)
    position = np.arange(len(order)) - start[pair_sorted]
    return Levels(
        order=order, start=start, level=level, n_levels=n_levels, first=first,
        level_end=(position + 1)[last_of_level], area=inst.k_area[order][start[:-1]],
        agency=inst.k_agency[order][start[:-1]], km=km_sorted[new_level],
    )


# --- columns: y[j], then z[j, a] (j-major), then w[i, a, k] --------------------------------


@dataclass(frozen=True)
class Columns:
    n_sites: int
    n_agencies: int
    n_w: int

    def y(self, j):
        return j

    def z(self, j, a):
        return self.n_sites + j * self.n_agencies + a

    @property
    def w0(self) -> int:
        return self.n_sites * (1 + self.n_agencies)

    @property
    def count(self) -> int:
        return self.w0 + self.n_w


@dataclass(frozen=True, eq=False)
class Rows:
    """A block of rows: entries (row within the block, column, value) and row bounds."""

    row: np.ndarray
    col: np.ndarray
    value: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def _rows(row, col, value, lower, upper) -> Rows:
    n = len(lower)
    return Rows(np.asarray(row, dtype=np.int64), np.asarray(col, dtype=np.int64), np.asarray(value, dtype=float),
                np.broadcast_to(np.asarray(lower, dtype=float), (n,)), np.broadcast_to(np.asarray(upper, dtype=float), (n,)))


def _one_row(col, value, lower: float, upper: float) -> Rows:
    return _rows(np.zeros(len(col)), col, value, [lower], [upper])


# --- constraint families -----------------------------------------------------------------


def presence_needs_site(c: Columns) -> Rows:
    """z[j, a] - y[j] <= 0."""
    j, a = np.divmod(np.arange(c.n_sites * c.n_agencies), c.n_agencies)
    rows = np.arange(len(j))
    return _rows(np.concatenate([rows, rows]), np.concatenate([c.z(j, a), c.y(j)]),
                 np.concatenate([np.ones(len(j)), -np.ones(len(j))]), np.full(len(j), -_INF), 0.0)


def _prefix_rows(inst: Instance, lv: Levels, c: Columns, pairs: np.ndarray, ends: np.ndarray) -> tuple:
    """Entries z[j, a] for the `ends[r]` nearest triples of pair `pairs[r]`, one row r each."""
    rows = np.repeat(np.arange(len(pairs)), ends)
    within = np.arange(ends.sum()) - np.repeat(np.cumsum(ends) - ends, ends)
    triple = lv.order[np.repeat(lv.start[pairs], ends) + within]
    return rows, c.z(inst.k_site[triple], inst.k_agency[triple])


def served_within_limit(inst: Instance, lv: Levels, c: Columns) -> Rows:
    """sum_{j : (i, j, a) in K} z[j, a] >= 1: some office of a within the limit of every demand pair."""
    pairs = np.arange(lv.n_pairs)
    rows, cols = _prefix_rows(inst, lv, c, pairs, np.diff(lv.start))
    return _rows(rows, cols, np.ones(len(cols)), np.ones(lv.n_pairs), _INF)


def level_rows(lv: Levels, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (pair, level) of every w row that `depth` keeps: levels 0 .. depth[p] - 1 of pair p."""
    pairs = np.repeat(np.arange(lv.n_pairs), depth)
    k = np.arange(depth.sum()) - np.repeat(np.cumsum(depth) - depth, depth)
    return pairs, k


def beyond_level(inst: Instance, lv: Levels, c: Columns, depth: np.ndarray) -> Rows:
    """w[i, a, k] + sum_{j : d_ij <= D^k} z[j, a] >= 1: w is 1 when no office of a is that near."""
    pairs, k = level_rows(lv, depth)
    rows, cols = _prefix_rows(inst, lv, c, pairs, lv.level_end[lv.first[pairs] + k])
    w_rows = np.arange(len(pairs))
    return _rows(np.concatenate([rows, w_rows]), np.concatenate([cols, c.w0 + w_rows]),
                 np.ones(len(rows) + len(w_rows)), np.ones(len(pairs)), _INF)


def office_count(inst: Instance, c: Columns) -> Rows | None:
    """min_offices <= sum_j y[j] <= max_offices."""
    s = inst.problem.settings
    if s.min_offices is None and s.max_offices is None:
        return None
    lower = -_INF if s.min_offices is None else s.min_offices
    upper = _INF if s.max_offices is None else s.max_offices
    return _one_row(c.y(np.arange(c.n_sites)), np.ones(c.n_sites), lower, upper)


def staff_bill(inst: Instance) -> np.ndarray:
    """(A,): each agency's staff cost, the same for every plan: all visits are served by staff at visits_per_staff."""
    reachable = np.zeros((inst.n_areas, inst.n_agencies), dtype=bool)
    reachable[inst.k_area, inst.k_agency] = True
    visits = np.where(reachable, inst.visits, 0.0).sum(axis=0)
    return np.array([a.staff_cost * v / a.visits_per_staff for a, v in zip(inst.problem.agencies, visits)])


def agency_budget(inst: Instance, c: Columns) -> list[Rows]:
    """sum_j presence_cost_a z[j, a] <= budget_a - the agency's staff bill."""
    blocks = []
    bill = staff_bill(inst)
    for a, agency in enumerate(inst.problem.agencies):
        if agency.budget is not None:
            j = np.arange(c.n_sites)
            blocks.append(_one_row(c.z(j, a), np.full(c.n_sites, agency.presence_cost), -_INF, agency.budget - bill[a]))
    return blocks


def annual_coefficients(inst: Instance, c: Columns) -> tuple[np.ndarray, float]:
    """The annual cost as coefficients on y and z, plus the constant staff bill."""
    coef = np.zeros(c.w0)
    coef[: c.n_sites] = [s.annual_cost for s in inst.problem.sites]
    coef[c.n_sites :] = np.tile([a.presence_cost for a in inst.problem.agencies], c.n_sites)
    return coef, float(staff_bill(inst).sum())


def one_off_coefficients(inst: Instance, c: Columns) -> tuple[np.ndarray, float]:
    """The one-off cost: opening candidates, closing existing sites (close_cost (1 - y)), agency set-up."""
    sites, agencies = inst.problem.sites, inst.problem.agencies
    coef = np.zeros(c.w0)
    coef[: c.n_sites] = [-s.close_cost if s.is_existing else s.open_cost for s in sites]
    setup = np.array([a.setup_cost for a in agencies])
    coef[c.n_sites :] = np.where(inst.present_today, 0.0, setup).ravel()
    return coef, float(sum(s.close_cost for s in sites if s.is_existing))


def _budget_row(coef_and_constant: tuple[np.ndarray, float], budget: float | None) -> Rows | None:
    if budget is None:
        return None
    coef, constant = coef_and_constant
    nonzero = np.flatnonzero(coef)
    return _one_row(nonzero, coef[nonzero], -_INF, budget - constant)


def annual_budget(inst: Instance, c: Columns) -> Rows | None:
    return _budget_row(annual_coefficients(inst, c), inst.problem.settings.budget_annual)


def one_off_budget(inst: Instance, c: Columns) -> Rows | None:
    return _budget_row(one_off_coefficients(inst, c), inst.problem.settings.budget_one_off)


# --- objective and assembly --------------------------------------------------------------


def pair_travel(inst: Instance, lv: Levels) -> np.ndarray:
    """t^k for every level of every pair: travel_cost_per_km v_ia D^k."""
    per_km = inst.problem.settings.travel_cost_per_km
    visits = inst.visits[lv.area, lv.agency]
    return per_km * np.repeat(visits, lv.n_levels) * lv.km


def objective(inst: Instance, lv: Levels, c: Columns, depth: np.ndarray) -> tuple[np.ndarray, float]:
    """annual + one_off / L + travel, as column costs and a constant."""
    annual, annual_constant = annual_coefficients(inst, c)
    one_off, one_off_constant = one_off_coefficients(inst, c)
    years = inst.problem.settings.amortization_years
    t = pair_travel(inst, lv)
    pairs, k = level_rows(lv, depth)
    at = lv.first[pairs] + k
    cost = np.concatenate([annual + one_off / years, t[at + 1] - t[at]])
    return cost, annual_constant + one_off_constant / years + float(t[lv.first].sum())


def site_bounds(inst: Instance, c: Columns) -> tuple[np.ndarray, np.ndarray]:
    """0 <= every column <= 1 (w never needs more), with y fixed where a site is forced."""
    lower, upper = np.zeros(c.count), np.ones(c.count)
    for j, site in enumerate(inst.problem.sites):
        if site.force is not None:
            lower[j] = upper[j] = 1.0 if site.force == "open" else 0.0
    return lower, upper


def build_highs(inst: Instance, lv: Levels, depth: np.ndarray) -> tuple[highspy.Highs, Columns]:
    """The model with `depth[p]` levels for pair p, passed to a new HiGHS object."""
    c = Columns(inst.n_sites, inst.n_agencies, int(depth.sum()))
    blocks = [
        presence_needs_site(c),
        served_within_limit(inst, lv, c),
        beyond_level(inst, lv, c, depth),
        office_count(inst, c),
        *agency_budget(inst, c),
        annual_budget(inst, c),
        one_off_budget(inst, c),
    ]
    blocks = [b for b in blocks if b is not None]
    offsets = np.cumsum([0] + [len(b.lower) for b in blocks])
    row = np.concatenate([b.row + off for b, off in zip(blocks, offsets)])
    col = np.concatenate([b.col for b in blocks])
    value = np.concatenate([b.value for b in blocks])
    by_row = np.argsort(row, kind="stable")
    start = np.searchsorted(row[by_row], np.arange(offsets[-1] + 1)).astype(np.int32)
    cost, constant = objective(inst, lv, c, depth)
    lower, upper = site_bounds(inst, c)
    integrality = np.zeros(c.count, dtype=np.int32)
    integrality[: c.w0] = 1
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(
        c.count, int(offsets[-1]), len(value), int(highspy.MatrixFormat.kRowwise), int(highspy.ObjSense.kMinimize),
        constant, cost, lower, upper,
        np.concatenate([b.lower for b in blocks]), np.concatenate([b.upper for b in blocks]),
        start, col[by_row].astype(np.int32), value[by_row], integrality,
    )
    return h, c
