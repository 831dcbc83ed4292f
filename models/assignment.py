"""The general model with its offices chosen: the cheapest assignment and staff, as an LP.

With y and z fixed, what is left of `models/office_network.py` is linear in x and n: serve
every pair at its agency's open offices within the limit, staff each office for its visits
and at least its minimum, within the desks and the budgets.  People need not go to the
nearest office: sending some to a further office that has staff to spare (its minimum)
saves staff_cost_a / visits_per_staff_a per visit (175 a visit for the Swedish agencies)
and costs travel_cost_per_km per extra km (5), so it pays up to 35 km further.  Plans that
send everyone to the nearest office (`optimizer.office_moves`) miss that: on 20,000
generated areas a plan paid 93 M a year for 133 staff kept only for the minimum, and this
LP lowers it from 1,081.3 M to 1,074.9 M in 3.4 s.

Only the triples at offices the plan opens are columns, one per x[i, j, a], then one per
n[j, a]; the rows are built from the instance's arrays into HiGHS directly (as
`models/nearest_office.py` does), one function per family.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np

from optimizer.instance import Instance

from .highs import quiet_highs
from .nearest_office import Columns, Rows, _one_row, _rows, annual_coefficients, desk_counts, new_pair, rowwise

_INF = highspy.kHighsInf


@dataclass(frozen=True)
class Offices:
    """The columns: x for the triples `k` at open offices, then n for each open office `ja`."""

    k: np.ndarray  # (X,) the instance's triples whose office is open
    office_of: np.ndarray  # (X,) each one's office, as an index into `ja`
    ja: np.ndarray  # (G,) open offices, flat j * A + a
    n_agencies: int

    @property
    def n_x(self) -> int:
        return len(self.k)

    @property
    def n(self) -> np.ndarray:
        """The column of n[j, a] for each open office."""
        return self.n_x + np.arange(len(self.ja))


def offices(inst: Instance, z: np.ndarray) -> Offices:
    office = inst.k_site.astype(np.int64) * inst.n_agencies + inst.k_agency
    ja = np.flatnonzero(z.ravel())
    index = np.full(z.size, -1)
    index[ja] = np.arange(len(ja))
    k = np.flatnonzero(index[office] >= 0)
    return Offices(k, index[office[k]], ja, inst.n_agencies)


def _per_staff(inst: Instance) -> np.ndarray:
    return np.array([1.0 / a.visits_per_staff for a in inst.problem.agencies])


def _staff_cost(inst: Instance, o: Offices) -> np.ndarray:
    return np.array([a.staff_cost for a in inst.problem.agencies])[o.ja % o.n_agencies]


# --- constraint families -----------------------------------------------------------------


def demand_is_served(inst: Instance, o: Offices) -> Rows:
    """sum_j x[i, j, a] = 1 for every demand pair (i, a)."""
    pair = np.cumsum(new_pair(inst.k_area[o.k], inst.k_agency[o.k])) - 1
    n_pairs = int(pair[-1]) + 1 if len(pair) else 0
    return _rows(pair, np.arange(o.n_x), np.ones(o.n_x), np.ones(n_pairs), np.ones(n_pairs))


def staff_serve_visits(inst: Instance, o: Offices) -> Rows:
    """sum_i v_ia x[i, j, a] / visits_per_staff_a - n[j, a] <= 0 for every open office."""
    staff = inst.visits[inst.k_area[o.k], inst.k_agency[o.k]] * _per_staff(inst)[inst.k_agency[o.k]]
    g = len(o.ja)
    return _rows(np.r_[o.office_of, np.arange(g)], np.r_[np.arange(o.n_x), o.n], np.r_[staff, -np.ones(g)],
                 np.full(g, -_INF), np.zeros(g))


def site_desks(inst: Instance, o: Offices) -> Rows:
    """sum_a n[j, a] <= desks_j at every open site with a desk count."""
    desks = desk_counts(inst)[o.ja // o.n_agencies]
    counted = np.isfinite(desks)
    sites, row = np.unique(o.ja[counted] // o.n_agencies, return_inverse=True)
    return _rows(row, o.n[counted], np.ones(int(counted.sum())), np.full(len(sites), -_INF),
                 desk_counts(inst)[sites])


def annual_budget(inst: Instance, o: Offices, fixed_annual: float) -> list[Rows]:
    """sum_ja staff_cost_a n[j, a] <= budget_annual - (sites' and presence's annual cost)."""
    budget = inst.problem.settings.budget_annual
    return [] if budget is None else [_one_row(o.n, _staff_cost(inst, o), -_INF, budget - fixed_annual)]


def agency_budget(inst: Instance, o: Offices) -> list[Rows]:
    """sum_j staff_cost_a n[j, a] <= budget_a - presence_cost_a |{j : z[j, a]}| for agencies with a budget."""
    blocks = []
    for a, agency in enumerate(inst.problem.agencies):
        mine = o.ja % o.n_agencies == a
        if agency.budget is not None:
            blocks.append(_one_row(o.n[mine], np.full(int(mine.sum()), agency.staff_cost), -_INF,
                                   agency.budget - agency.presence_cost * int(mine.sum())))
    return blocks


def _unserved(inst: Instance, o: Offices) -> bool:
    """Whether some demand pair has no open office."""
    served = np.count_nonzero(new_pair(inst.k_area[o.k], inst.k_agency[o.k]))
    return served < np.count_nonzero(new_pair(inst.k_area, inst.k_agency))


# --- the LP ------------------------------------------------------------------------------


def cheapest_assignment(inst: Instance, y: np.ndarray, z: np.ndarray,
                        time_limit_s: float) -> tuple[np.ndarray, np.ndarray] | None:
    """x (per triple) and n (J, A) at least travel and staff cost for the offices z at the sites y,
    or None where no assignment keeps the rules (or HiGHS finds none in time).

    Each n[j, a] is at least the agency's minimum and whole where staff are.  The rules on y and z
    alone (forced sites, office counts, the one-off budget) are the caller's: they hold or not
    whatever the assignment.
    """
    problem = inst.problem
    o = offices(inst, z & y[:, None])
    if _unserved(inst, o):
        return None
    fixed_annual = float(annual_coefficients(inst, Columns(inst.n_sites, inst.n_agencies))[0] @ np.r_[y, z.ravel()])
    matrix = rowwise([demand_is_served(inst, o), staff_serve_visits(inst, o), site_desks(inst, o),
                      *annual_budget(inst, o, fixed_annual), *agency_budget(inst, o)])
    visits = inst.visits[inst.k_area[o.k], inst.k_agency[o.k]]
    cost = np.r_[problem.settings.travel_cost_per_km * visits * inst.k_km[o.k], _staff_cost(inst, o)]
    minimum = np.array([a.min_staff for a in problem.agencies])[o.ja % o.n_agencies]
    lower, upper = np.r_[np.zeros(o.n_x), minimum], np.r_[np.ones(o.n_x), np.full(len(o.ja), _INF)]
    integrality = np.r_[np.zeros(o.n_x), np.full(len(o.ja), int(problem.settings.staff_integer))].astype(np.int32)
    h = quiet_highs()
    h.setOptionValue("time_limit", max(time_limit_s, 0.0))
    h.passModel(len(cost), matrix.n_rows, len(matrix.value), int(highspy.MatrixFormat.kRowwise),
                int(highspy.ObjSense.kMinimize), 0.0, cost, lower, upper, matrix.lower, matrix.upper,
                matrix.start, matrix.index, matrix.value, integrality)
    h.run()
    if h.getInfo().primal_solution_status != highspy.SolutionStatus.kSolutionStatusFeasible:
        return None
    values = np.asarray(h.getSolution().col_value)
    x = np.zeros(len(inst.k_area))
    x[o.k] = np.clip(values[: o.n_x], 0.0, 1.0)
    n = np.zeros(z.size)
    n[o.ja] = values[o.n]
    return x, n.reshape(z.shape)
