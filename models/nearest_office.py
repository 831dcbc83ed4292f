"""The radius formulation of the office-network model, for problems where people go to the nearest office.

When no site's desks can bind, no agency has a minimum staff, staff are full-time
equivalents and the objective is cost, the staff bill is the same for every plan (every
visit is served, and staff follow visits), so once the sites and agencies are chosen each
area simply goes to the nearest office of each agency.  The assignment x[i, j, a] then
needs no variables of its own: for each demand pair (i, a) with distinct admissible
distances D^1 < D^2 < ... < D^G, one continuous variable per level,

    w[i, a, k] >= w[i, a, k - 1] - sum_{j : d_ij = D^k} z[j, a]     (k = 1 .. G - 1, w[i, a, 0] = 1)

is 1 exactly when no office of a lies within D^k, and the travel cost of the pair is
t^1 + sum_k (t^{k+1} - t^k) w[i, a, k] with t^k = travel_cost_per_km v_ia D^k.  This is the
radius formulation that García, Labbé and Marín (2011) use for large p-median problems,
in the chained form of Elloumi (2010): its LP bound is at least that of the strong x <= z
model, a pair needs rows only up to the distance of its nearest office, equal distances
share a row, and each triple appears in one row.  `models/office_network.py` remains the general model; this one is checked
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
import numba
import numpy as np

from optimizer.instance import Instance

from .highs import quiet_highs

_INF = highspy.kHighsInf


def eligible(inst: Instance) -> bool:
    """Whether every plan's best assignment is 'nearest open office', so this model is exact."""
    problem = inst.problem
    s = problem.settings
    return (
        s.objective == "cost"
        and not s.staff_integer
        and all(a.min_staff == 0 for a in problem.agencies)
        and bool(np.all(desk_counts(inst) >= staff_reach(inst).sum(axis=1) - 1e-9))
    )


def desk_counts(inst: Instance) -> np.ndarray:
    """desks_j per site, inf where a site has no desk count."""
    return np.array([np.inf if s.desks is None else s.desks for s in inst.problem.sites])


def staff_serving(inst: Instance, x: np.ndarray) -> np.ndarray:
    """(J, A): the staff each agency needs at each site to serve the share x of every triple's visits."""
    per_staff = np.array([1.0 / a.visits_per_staff for a in inst.problem.agencies])
    staff = np.zeros((inst.n_sites, inst.n_agencies))
    np.add.at(staff, (inst.k_site, inst.k_agency), inst.visits[inst.k_area, inst.k_agency] * per_staff[inst.k_agency] * x)
    return staff


def staff_reach(inst: Instance) -> np.ndarray:
    """(J, A): the staff agency a would need at j to serve every area it may serve there (N_ja)."""
    return staff_serving(inst, np.ones(len(inst.k_area)))


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
    pair_change = new_pair(inst.k_area, inst.k_agency)
    pair = np.cumsum(pair_change) - 1
    start = np.append(np.flatnonzero(pair_change), len(pair_change)).astype(np.int64)
    order = _by_distance(start, inst.k_km)
    pair_sorted, km_sorted = pair[order], inst.k_km[order]
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


def new_pair(area: np.ndarray, agency: np.ndarray) -> np.ndarray:
    """For triples sorted by agency and area (as an instance's are): where each demand pair's run begins."""
    change = np.ones(len(area), dtype=bool)
    change[1:] = (area[1:] != area[:-1]) | (agency[1:] != agency[:-1])
    return change


@numba.njit(cache=True, nogil=True)
def _by_distance(start, km):
    """The triples' order with each pair's run (start[p]:start[p + 1]) sorted by distance, stably, so
    that equal distances stay in site order: what np.lexsort((km, pair)) gives, one run at a time
    (20,000 generated areas, 7.9 million triples: 0.3 s against 2.4 s)."""
    order = np.empty(len(km), dtype=np.int64)
    for p in range(len(start) - 1):
        a, b = start[p], start[p + 1]
        order[a:b] = a + np.argsort(km[a:b], kind="mergesort")
    return order


# --- columns: y[j], then z[j, a] (j-major), then w[i, a, k] --------------------------------


@dataclass(frozen=True)
class Columns:
    n_sites: int
    n_agencies: int

    def y(self, j):
        return j

    def z(self, j, a):
        return self.n_sites + j * self.n_agencies + a

    @property
    def w0(self) -> int:
        return self.n_sites * (1 + self.n_agencies)


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


def _level_entries(inst: Instance, lv: Levels, c: Columns, pairs: np.ndarray, k: np.ndarray) -> tuple:
    """Entries z[j, a] for the triples at level k[r] of pair pairs[r] (d_ij = D^k), one row r each."""
    at = lv.first[pairs] + k
    end = lv.level_end[at]
    begin = np.where(k > 0, lv.level_end[at - 1], 0)
    count = end - begin
    rows = np.repeat(np.arange(len(pairs)), count)
    within = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    triple = lv.order[np.repeat(lv.start[pairs] + begin, count) + within]
    return rows, c.z(inst.k_site[triple], inst.k_agency[triple])


def _chain(pairs: np.ndarray, k: np.ndarray, w: np.ndarray, deepest: np.ndarray) -> np.ndarray:
    """The column of w[i, a, k - 1] for each new row (-1 at level 0): the row before it in the
    batch, or the pair's deepest w already in the model (`deepest`)."""
    same_pair = np.r_[False, pairs[1:] == pairs[:-1]]
    return np.where(same_pair, np.r_[-1, w[:-1]], np.where(k > 0, deepest[pairs], -1))


def _chained_rows(rows, cols, n: int, w: np.ndarray | None, before: np.ndarray) -> Rows:
    """sum z (+ w) - w_before >= 0, or >= 1 where there is no w before (w_before = 1)."""
    r = np.arange(n)
    has_before = before >= 0
    parts_row, parts_col, parts_value = [rows], [cols], [np.ones(len(cols))]
    if w is not None:
        parts_row.append(r), parts_col.append(w), parts_value.append(np.ones(n))
    parts_row.append(r[has_before]), parts_col.append(before[has_before]), parts_value.append(-np.ones(has_before.sum()))
    return _rows(np.concatenate(parts_row), np.concatenate(parts_col), np.concatenate(parts_value),
                 np.where(has_before, 0.0, 1.0), _INF)


def served_within_limit(inst: Instance, lv: Levels, c: Columns, pairs: np.ndarray, deepest: np.ndarray) -> Rows:
    """sum_{j : d_ij = D^G} z[j, a] >= w[i, a, G - 1]: an office at the last level when none is nearer.

    With the rows of `beyond_level` this says some office of a lies within the limit of the
    pair.  Only pairs with every level kept need it: for the others, a plan with no office in
    reach shows as short (`optimizer.radius`) and the pair is deepened until it has it.
    """
    rows, cols = _level_entries(inst, lv, c, pairs, lv.n_levels[pairs] - 1)
    return _chained_rows(rows, cols, len(pairs), None, deepest[pairs])


def level_rows(lv: Levels, depth: np.ndarray, since: np.ndarray | int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The (pair, level) of every w row for levels since[p] .. depth[p] - 1 of pair p, pair by pair."""
    count = depth - since
    pairs = np.repeat(np.arange(lv.n_pairs), count)
    k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count) + np.broadcast_to(since, depth.shape)[pairs]
    return pairs, k


def beyond_level(inst: Instance, lv: Levels, c: Columns, pairs: np.ndarray, k: np.ndarray, w: np.ndarray,
                 deepest: np.ndarray) -> Rows:
    """w[i, a, k] >= w[i, a, k - 1] - sum_{j : d_ij = D^k} z[j, a], with w[i, a, -1] = 1.

    So w[i, a, k] >= 1 - sum_{j : d_ij <= D^k} z[j, a]: w is 1 when no office of a is that
    near.  Chained level by level (Elloumi 2010) rather than written with every nearer site
    (García, Labbé and Marín 2011), each triple appears in one row: at national scale the
    prefix form has 20 times the nonzeros.  Row r is level k[r] of pair pairs[r], with its w
    in column w[r]; `deepest` holds each pair's deepest w already in the model (-1: none).
    """
    rows, cols = _level_entries(inst, lv, c, pairs, k)
    return _chained_rows(rows, cols, len(pairs), w, _chain(pairs, k, w, deepest))


def level_costs(inst: Instance, lv: Levels, pairs: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The cost of w[i, a, k]: t^{k+1} - t^k, the travel saved by an office within D^k."""
    t = pair_travel(inst, lv)
    at = lv.first[pairs] + k
    return t[at + 1] - t[at]


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


def spending_rows(inst: Instance, c: Columns) -> tuple[np.ndarray, np.ndarray]:
    """(2 + A, J + J * A): the annual cost, the one-off cost and each agency's spend as
    coefficients on y and z, in that order, without the staff (a choice of the general model's
    plans) or the one-off cost's constant (the closing costs); and their budgets, inf where none."""
    annual, _ = annual_coefficients(inst, c)
    one_off, _ = one_off_coefficients(inst, c)
    agencies, settings = inst.problem.agencies, inst.problem.settings
    per_agency = np.zeros((c.n_agencies, c.w0))
    for a, agency in enumerate(agencies):
        per_agency[a, c.n_sites + a:: c.n_agencies] = agency.presence_cost
    limits = [settings.budget_annual, settings.budget_one_off, *(a.budget for a in agencies)]
    return np.vstack([annual, one_off, per_agency]), np.array([np.inf if b is None else b for b in limits], dtype=float)


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


def side_rows(inst: Instance, c: Columns) -> list[Rows]:
    """The rows on y and z alone: office counts and budgets (the staff bill taken off as a constant)."""
    blocks = [office_count(inst, c), *agency_budget(inst, c), annual_budget(inst, c), one_off_budget(inst, c)]
    return [b for b in blocks if b is not None]


# --- objective and assembly --------------------------------------------------------------


def pair_travel(inst: Instance, lv: Levels) -> np.ndarray:
    """t^k for every level of every pair: travel_cost_per_km v_ia D^k."""
    per_km = inst.problem.settings.travel_cost_per_km
    visits = inst.visits[lv.area, lv.agency]
    return per_km * np.repeat(visits, lv.n_levels) * lv.km


def decision_costs(inst: Instance, c: Columns) -> tuple[np.ndarray, float]:
    """annual + one_off / L as costs on y and z, and a constant (the staff bill, closing costs saved)."""
    annual, annual_constant = annual_coefficients(inst, c)
    one_off, one_off_constant = one_off_coefficients(inst, c)
    years = inst.problem.settings.amortization_years
    return annual + one_off / years, annual_constant + one_off_constant / years


def objective(inst: Instance, lv: Levels, c: Columns, depth: np.ndarray) -> tuple[np.ndarray, float]:
    """annual + one_off / L + travel, as column costs and a constant."""
    costs, constant = decision_costs(inst, c)
    cost = np.concatenate([costs, level_costs(inst, lv, *level_rows(lv, depth))])
    nearest_travel = float(pair_travel(inst, lv)[lv.first].sum())
    return cost, constant + nearest_travel


def site_bounds(inst: Instance, c: Columns, n_w: int) -> tuple[np.ndarray, np.ndarray]:
    """0 <= every column <= 1 (w never needs more), with y fixed where a site is forced."""
    lower, upper = np.zeros(c.w0 + n_w), np.ones(c.w0 + n_w)
    for j, site in enumerate(inst.problem.sites):
        if site.force is not None:
            lower[j] = upper[j] = 1.0 if site.force == "open" else 0.0
    return lower, upper


class RadiusModel:
    """The model in one HiGHS object with the levels kept so far, deepened in place.

    Deepening adds columns and rows and changes nothing already there, so HiGHS re-solves
    the LP relaxation from its last basis.  `w_pair` and `w_level` say which pair and level
    each w column (from `c.w0` on) stands for.
    """

    def __init__(self, inst: Instance, lv: Levels, depth: np.ndarray):
        self.inst, self.lv, self.depth = inst, lv, depth.copy()
        self.c = c = Columns(inst.n_sites, inst.n_agencies)
        pairs, k = level_rows(lv, depth)
        w = c.w0 + np.arange(len(pairs))
        none = np.full(lv.n_pairs, -1)
        self.deepest = _deepest(none, pairs, w)
        blocks = [
            presence_needs_site(c),
            beyond_level(inst, lv, c, pairs, k, w, none),
            served_within_limit(inst, lv, c, np.flatnonzero(depth == lv.n_levels - 1), self.deepest),
            *side_rows(inst, c),
        ]
        matrix = rowwise([b for b in blocks if b is not None])
        cost, constant = objective(inst, lv, c, depth)
        lower, upper = site_bounds(inst, c, len(pairs))
        n_cols = len(lower)
        integrality = np.zeros(n_cols, dtype=np.int32)
        integrality[: c.w0] = 1
        self.h = h = quiet_highs()
        h.passModel(
            n_cols, matrix.n_rows, len(matrix.value), int(highspy.MatrixFormat.kRowwise),
            int(highspy.ObjSense.kMinimize), constant, cost, lower, upper,
            matrix.lower, matrix.upper, matrix.start, matrix.index, matrix.value, integrality,
        )
        self.w_pair, self.w_level = pairs, k

    def deepen(self, depth: np.ndarray) -> None:
        """Keep levels up to `depth` (never fewer than now): new w columns, their rows, and the
        limit's row for pairs that now have every level."""
        inst, lv, c = self.inst, self.lv, self.c
        pairs, k = level_rows(lv, depth, since=self.depth)
        first = self.h.getNumCol()
        self.h.addCols(len(pairs), level_costs(inst, lv, pairs, k), np.zeros(len(pairs)), np.ones(len(pairs)),
                       0, np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32), np.zeros(0))
        now_full = np.flatnonzero((depth == lv.n_levels - 1) & (self.depth < lv.n_levels - 1))
        w = first + np.arange(len(pairs))
        levels = beyond_level(inst, lv, c, pairs, k, w, self.deepest)
        self.deepest = _deepest(self.deepest, pairs, w)
        matrix = rowwise([levels, served_within_limit(inst, lv, c, now_full, self.deepest)])
        self.h.addRows(matrix.n_rows, matrix.lower, matrix.upper, len(matrix.value), matrix.start[:-1],
                       matrix.index, matrix.value)
        self.w_pair = np.concatenate([self.w_pair, pairs])
        self.w_level = np.concatenate([self.w_level, k])
        self.depth = np.maximum(self.depth, depth)

    def relax(self, relaxed: bool) -> None:
        """Make y and z continuous (the LP relaxation) or binary again."""
        columns = np.arange(self.c.w0, dtype=np.int32)
        kind = np.full(self.c.w0, 0 if relaxed else 1, dtype=np.uint8)
        self.h.changeColsIntegrality(self.c.w0, columns, kind)

    def last_w(self, values: np.ndarray) -> np.ndarray:
        """Per pair, the value of w at its deepest kept level (0 where it keeps none)."""
        return np.where(self.deepest >= 0, values[self.deepest], 0.0)

    def values_of(self, y: np.ndarray, z: np.ndarray, level: np.ndarray) -> np.ndarray:
        """A plan as a value per column: w is 1 below the level of the pair's nearest office."""
        return np.concatenate([y, z.ravel(), self.w_level < level[self.w_pair]]).astype(float)


def _deepest(deepest: np.ndarray, pairs: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Each pair's deepest w column after adding the rows (pairs, w), pair by pair."""
    last = np.r_[pairs[1:] != pairs[:-1], True] if len(pairs) else np.zeros(0, dtype=bool)
    out = deepest.copy()
    out[pairs[last]] = w[last]
    return out


@dataclass(frozen=True, eq=False)
class Matrix:
    """Rows in HiGHS's compressed row-wise form."""

    start: np.ndarray
    index: np.ndarray
    value: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    @property
    def n_rows(self) -> int:
        return len(self.lower)


def rowwise(blocks: list[Rows]) -> Matrix:
    """The blocks one after another, as one row-wise matrix."""
    offsets = np.cumsum([0] + [len(b.lower) for b in blocks])
    row = np.concatenate([b.row + off for b, off in zip(blocks, offsets)])
    by_row = np.argsort(row, kind="stable")
    return Matrix(
        np.searchsorted(row[by_row], np.arange(offsets[-1] + 1)).astype(np.int32),
        np.concatenate([b.col for b in blocks])[by_row].astype(np.int32),
        np.concatenate([b.value for b in blocks])[by_row],
        np.concatenate([b.lower for b in blocks]),
        np.concatenate([b.upper for b in blocks]),
    )
