"""A nearest-office plan made into a start for the general model: staffed, and within the desks.

The nearest-office relaxation (`radius.relaxed`) knows neither minimum staff nor desks.  Its
plan, staffed to the minimum, can put more staff in a town's office than it has desks
(2,000 generated areas with minimum staff and desks: 5 of 86 sites, up to 35 staff over).
With those sites and agencies fixed no assignment fits, and HiGHS, started cold, found no
plan at all in 900 s.  So the plan is repaired here, greedily and without a solver:

1. visits leave the fullest site for open offices of the same agency with desks to spare,
   the cheapest extra travel first;
2. where an agency's minimum staff is what does not fit, the agency leaves the site, if all
   its visits there fit at its other open offices;
3. where that is not enough, the site (or the agency at a site already open) that could
   take most of what is over within its desks is opened beside it, and step 1 runs again.

Where nothing searches further (`pipeline.unsearched_plan`), `thinned` then takes out the
offices whose visits do not pay for their minimum staff.

The repaired plan keeps the desks by construction; whether it keeps the budgets is the
caller's question (`rules.overspend`), and `solve.completed` then finds its best
assignment and staff.
"""

from __future__ import annotations

import math

import numpy as np

from models.nearest_office import Columns, decision_costs, desk_counts, new_pair, one_off_coefficients

from .instance import Instance
from .solve import Solution

# Staff (in FTE) below which a site counts as within its desks, and a move as no move.
_TOL = 1e-7
# Moves and openings tried before a start is given up (each one fixes a site or opens one).
_MOST_STEPS = 2_000


class _Work:
    """The plan being repaired: y, z, x per triple and the staff its visits need per (j, a)."""

    def __init__(self, inst: Instance, y: np.ndarray, z: np.ndarray, x: np.ndarray):
        problem = inst.problem
        self.inst = inst
        self.y, self.z, self.x = y.astype(bool), z.astype(bool), x.astype(float)
        self.desks = desk_counts(inst)
        self.closed = np.array([s.force == "closed" for s in problem.sites])
        self.forced = np.array([s.force == "open" for s in problem.sites])
        self.minimum = np.array([a.min_staff for a in problem.agencies])
        self.per_staff = np.array([a.visits_per_staff for a in problem.agencies])
        self.integer = problem.settings.staff_integer
        # Staff that serving all of triple k's visits takes, and its travel cost per staff moved.
        self.weight = inst.visits[inst.k_area, inst.k_agency] / self.per_staff[inst.k_agency]
        self.travel = problem.settings.travel_cost_per_km * inst.k_km * self.per_staff[inst.k_agency]
        self.demand = np.zeros(z.shape)
        np.add.at(self.demand, (inst.k_site, inst.k_agency), self.weight * self.x)
        self.run_start, self.run_of = _runs(inst)
        self.run_end = np.r_[self.run_start[1:], len(inst.k_area)]
        # Each site's triples, as one run of `by_site` (`served_at` is asked once a move or more).
        self.by_site = np.argsort(inst.k_site, kind="stable")
        self.site_start = np.searchsorted(inst.k_site[self.by_site], np.arange(inst.n_sites + 1))
        # The moves made, (k, k2, share), so that a withdrawal that does not pay can be undone.
        self.log: list[tuple[int, int, float]] = []

    def plan(self) -> Solution:
        """The plan as it stands: everything the general model needs, with no objective yet."""
        return Solution("feasible", "", y=self.y.copy(), z=self.z.copy(), n=self.staff(), x=self.x.copy())

    def staff(self, j: int | slice = slice(None)) -> np.ndarray:
        """n[j, a]: the visits' staff, at least the minimum where the agency is present, whole if so set."""
        need = np.maximum(self.minimum * self.z[j], self.demand[j])
        return np.ceil(need - 1e-9) if self.integer else need

    def excess(self, j: int) -> float:
        return float(self.staff(j).sum() - self.desks[j])

    def room(self, j: int, a: int) -> float:
        """How much more staff agency a's visits at site j may need before the site is over its desks."""
        staff = self.staff(j)
        cap = self.desks[j] - (staff.sum() - staff[a])
        if self.integer:
            cap = math.floor(cap + 1e-9)
        return cap - self.demand[j, a]

    def served_at(self, j: int) -> np.ndarray:
        triples = self.by_site[self.site_start[j]: self.site_start[j + 1]]
        return triples[self.x[triples] > _TOL]

    def leaving(self, j: int) -> list[int]:
        """Triples served at j whose moving frees desks there: their agency has more than its minimum."""
        agency = self.inst.k_agency
        return [int(k) for k in self.served_at(j) if self.demand[j, agency[k]] > self.minimum[agency[k]] + _TOL]

    def alternatives(self, k: int) -> range:
        """The triples of k's demand pair (the other sites that may serve it)."""
        run = self.run_of[k]
        return range(self.run_start[run], self.run_end[run])

    def moves(self, j: int, leaving) -> list[tuple[float, int, int]]:
        """(extra travel per staff, from k, to k2) to open offices of the same agency, cheapest first
        (then by k and k2): each leaving triple against every triple of its demand pair's run."""
        inst = self.inst
        k = np.asarray(leaving, dtype=np.int64)
        run = self.run_of[k]
        length = self.run_end[run] - self.run_start[run]
        k_from = np.repeat(k, length)
        k_to = np.repeat(self.run_start[run] - (np.cumsum(length) - length), length) + np.arange(length.sum())
        j2 = inst.k_site[k_to]
        open_ = (j2 != j) & self.y[j2] & self.z[j2, inst.k_agency[k_to]]
        k_from, k_to = k_from[open_], k_to[open_]
        extra = self.travel[k_to] - self.travel[k_from]
        order = np.lexsort((k_to, k_from, extra))
        return list(zip(extra[order].tolist(), k_from[order].tolist(), k_to[order].tolist()))

    def move_out(self, j: int) -> bool:
        """Step 1: move visits from j to open offices with room until j is within its desks."""
        moved = False
        for _, k, k2 in self.moves(j, self.leaving(j)):
            over = self.excess(j)
            if over <= _TOL:
                break
            a, j2 = self.inst.k_agency[k], self.inst.k_site[k2]
            amount = min(self.x[k] * self.weight[k], self.room(j2, a), self.demand[j, a] - self.minimum[a], over)
            if amount > _TOL:
                self.shift(k, k2, amount)
                moved = True
        return moved

    def withdraw(self, j: int) -> bool:
        """Step 2: take an agency out of j, whose minimum staff then frees its desks, where all its
        visits there fit at its other open offices; the agency with the fewest visits first."""
        return any(self.takes_out(j, [a]) for a in sorted(np.flatnonzero(self.z[j]), key=lambda a: self.demand[j, a]))

    def takes_out(self, j: int, agencies) -> bool:
        """Move all the visits of `agencies` at j to their other open offices with room and take the
        agencies out of j (the site closes with its last one); False, with nothing changed, when
        some visits do not fit."""
        agency = self.inst.k_agency
        mark = len(self.log)
        served = self.served_at(j)
        for _, k, k2 in self.moves(j, served[np.isin(agency[served], agencies)]):
            if self.x[k] <= _TOL:
                continue  # all of it moved already
            amount = min(self.x[k] * self.weight[k], self.room(self.inst.k_site[k2], agency[k]))
            if amount > _TOL:
                self.shift(k, k2, amount)
        if np.any(self.demand[j, agencies] > _TOL):
            self.undo(mark)
            return False
        self.z[j, agencies] = False
        self.y[j] = self.z[j].any() or self.forced[j]
        return True

    def shift(self, k: int, k2: int, amount: float) -> None:
        """Move `amount` staff worth of triple k's visits to triple k2 (same area and agency)."""
        share = self.x[k] if amount >= self.x[k] * self.weight[k] * (1 - 1e-12) else amount / self.weight[k]
        self.moved(k, k2, share)
        self.log.append((k, k2, share))

    def moved(self, k: int, k2: int, share: float) -> None:
        self.x[k] -= share
        self.x[k2] += share
        a = self.inst.k_agency[k]
        self.demand[self.inst.k_site[k], a] -= share * self.weight[k]
        self.demand[self.inst.k_site[k2], a] += share * self.weight[k]

    def undo(self, mark: int) -> None:
        """Take back the moves made since the log had `mark` entries."""
        while len(self.log) > mark:
            k, k2, share = self.log.pop()
            self.moved(k2, k, share)

    def open_beside(self, j: int) -> bool:
        """Step 3: open the site, or the agencies at an open site, that could take most of what is over
        at j, the cheapest to travel to among equals."""
        inst = self.inst
        relief: dict[int, np.ndarray] = {}
        travel: dict[int, float] = {}
        for k in self.leaving(j):
            for k2 in self.alternatives(k):
                j2, a = int(inst.k_site[k2]), int(inst.k_agency[k2])
                if j2 != j and not self.closed[j2] and not (self.y[j2] and self.z[j2, a]):
                    relief.setdefault(j2, np.zeros(len(self.minimum)))[a] += self.x[k] * self.weight[k]
                    travel[j2] = travel.get(j2, 0.0) + self.x[k] * self.weight[k] * self.travel[k2]
        over = self.excess(j)

        def takes(j2: int) -> tuple[float, float]:
            new = (relief[j2] > _TOL) & ~self.z[j2]
            taken = self.staff(j2).sum() if self.y[j2] else 0.0
            room = self.desks[j2] - taken - (self.minimum * new).sum()
            return min(relief[j2].sum(), room, over), -travel[j2] / relief[j2].sum()

        best = max(relief, key=takes, default=None)
        if best is None or takes(best)[0] <= _TOL:
            return False
        self.y[best] = True
        self.z[best] |= relief[best] > _TOL
        return True


def within_desks(inst: Instance, solution: Solution) -> Solution | None:
    """The nearest-office `solution` as a plan that staffs each office to its minimum and fits
    its desks; None when the greedy repair cannot fit them."""
    work = _Work(inst, solution.y, solution.z, solution.x)
    for _ in range(_MOST_STEPS):
        over = work.staff().sum(axis=1) - work.desks
        j = int(np.argmax(over))
        if over[j] <= _TOL:
            return work.plan()
        if not (work.move_out(j) or work.withdraw(j) or work.open_beside(j)):
            return None
    return None


def nearest_plan(inst: Instance, z: np.ndarray) -> Solution | None:
    """Agency a at the sites z[:, a] (the Lagrangian's choices), each demand pair served at its nearest
    one; where a pair has none within reach, the office that reaches most such visits is opened,
    until every pair has one.  None where a pair can reach only sites forced closed.  Staff and
    desks are left to `within_desks`."""
    closed = np.array([s.force == "closed" for s in inst.problem.sites])
    z = z & ~closed[:, None]
    run_start, run_of = _runs(inst)
    usable = ~closed[inst.k_site]
    z = _covering(inst, z, run_of, usable)
    if z is None:
        return None
    distance = np.where(z[inst.k_site, inst.k_agency], inst.k_km, np.inf)
    nearest = distance == np.minimum.reduceat(distance, run_start)[run_of]
    first = np.flatnonzero(nearest)[np.unique(run_of[nearest], return_index=True)[1]]
    x = np.zeros(len(inst.k_site))
    x[first] = 1.0
    y = z.any(axis=1) | np.array([s.force == "open" for s in inst.problem.sites])
    return Solution("feasible", "", y=y, z=z, n=np.zeros(z.shape), x=x)


def _runs(inst: Instance) -> tuple[np.ndarray, np.ndarray]:
    """Each demand pair's triples are one run (triples are sorted by agency, area, site): the runs'
    first triples, and each triple's run."""
    new = new_pair(inst.k_area, inst.k_agency)
    return np.flatnonzero(new), np.cumsum(new) - 1


def _covering(inst: Instance, z: np.ndarray, run_of: np.ndarray, usable: np.ndarray) -> np.ndarray | None:
    """z with offices added, the most uncovered visits first, until every demand pair reaches one."""
    z = z.copy()
    covered = np.zeros(run_of[-1] + 1 if len(run_of) else 0, dtype=bool)
    covered[run_of[z[inst.k_site, inst.k_agency]]] = True
    left = np.flatnonzero(~covered[run_of] & usable)
    visits = inst.visits[inst.k_area, inst.k_agency]
    n_agencies = inst.n_agencies
    while len(left):
        group = inst.k_site[left].astype(np.int64) * n_agencies + inst.k_agency[left]
        best = int(np.argmax(np.bincount(group, visits[left])))
        z[best // n_agencies, best % n_agencies] = True
        covered[run_of[left[group == best]]] = True
        left = left[~covered[run_of[left]]]
    return z if covered.all() else None


class _Savings:
    """What the objective (annual + one-off / L + travel) loses when agencies leave a site: the
    radius model's costs on y and z (`decision_costs`)."""

    def __init__(self, inst: Instance):
        settings = inst.problem.settings
        columns = Columns(inst.n_sites, inst.n_agencies)
        on_y_and_z, _ = decision_costs(inst, columns)
        self.one_off_coef, self.one_off_constant = one_off_coefficients(inst, columns)
        self.site = on_y_and_z[: inst.n_sites]
        self.presence = on_y_and_z[inst.n_sites:].reshape(inst.n_sites, inst.n_agencies)
        self.staff_cost = np.array([a.staff_cost for a in inst.problem.agencies])
        self.existing = np.array([s.is_existing for s in inst.problem.sites])
        self.budget_one_off = settings.budget_one_off
        self.min_offices = settings.min_offices or 0

    def one_off(self, work: _Work) -> float:
        return float(self.one_off_coef @ np.r_[work.y, work.z.ravel()]) + self.one_off_constant

    def change(self, work: _Work, j: int, agencies, bill_before: float, mark: int) -> float:
        """The objective's change by the moves logged since `mark` and `agencies` leaving j, open before."""
        moves = np.array(work.log[mark:]).reshape(-1, 3)
        k, k2, share = moves[:, 0].astype(int), moves[:, 1].astype(int), moves[:, 2]
        travel = float((share * work.weight[k] * (work.travel[k2] - work.travel[k])).sum())
        bill = float((work.staff() * self.staff_cost).sum())
        closed = not work.y[j]
        return bill - bill_before + travel - float(self.presence[j, agencies].sum()) - closed * self.site[j]

    def allowed(self, work: _Work, j: int) -> bool:
        """Closing j, open before, keeps the office count and the one-off budget (annual costs only fall)."""
        if work.y[j]:
            return True
        if work.y.sum() < self.min_offices:
            return False
        if self.budget_one_off is None or not self.existing[j]:
            return True
        return self.one_off(work) <= self.budget_one_off + _TOL


def thinned(inst: Instance, plan: Solution) -> Solution:
    """The plan without the offices that cost more than they save.

    The relaxation knows no minimum staff, so its plan keeps offices with a fraction of a
    staff's visits, each staffed to the minimum (20,000 generated areas: 492 offices, 907
    staff for 754 staff's visits).  Site by site, the fewest visits first, this takes out
    the whole site, else one agency at a time, wherever moving the visits to the agency's
    other open offices (within their desks, the cheapest extra travel first) lowers the
    objective; until a round takes nothing out.  Annual and agency costs only fall; closing
    an existing site is checked against the one-off budget and the office count.
    """
    work = _Work(inst, plan.y, plan.z, plan.x)
    savings = _Savings(inst)
    for _ in range(_MOST_ROUNDS):
        if not sum(_took_out(work, savings, j) for j in np.argsort(work.demand.sum(axis=1)) if work.y[j]):
            break
    return work.plan()


# Rounds of `thinned` at most: a round that takes an office out changes what the next may save.
_MOST_ROUNDS = 10


def _took_out(work: _Work, savings: _Savings, j: int) -> bool:
    """Take out of j the whole site, else its cheapest agency to move, where that pays."""
    present = [int(a) for a in np.argsort(work.demand[j]) if work.z[j, a]]
    choices = ([present] if not work.forced[j] and len(present) > 1 else []) + [[a] for a in present]
    for agencies in choices:
        bill, mark, z = float((work.staff() * savings.staff_cost).sum()), len(work.log), work.z[j].copy()
        if not work.takes_out(j, agencies):
            continue
        if savings.change(work, j, agencies, bill, mark) < -_TOL and savings.allowed(work, j):
            return True
        work.undo(mark)
        work.z[j], work.y[j] = z, True
    return False
