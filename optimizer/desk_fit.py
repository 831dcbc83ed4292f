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

The repaired plan keeps the desks by construction; whether it keeps the budgets is the
caller's question (`pipeline.overspend`), and `solve.completed` then finds its best
assignment and staff.
"""

from __future__ import annotations

import math

import numpy as np

from models.nearest_office import desk_counts

from .instance import Instance
from .solve import Solution, Start

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
        # Triples are sorted by (agency, area, site), so each demand pair's sites are one run.
        pair = inst.k_agency * inst.n_areas + inst.k_area
        self.run_start = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
        self.run_of = np.cumsum(np.r_[True, pair[1:] != pair[:-1]]) - 1
        self.run_end = np.r_[self.run_start[1:], len(pair)]

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
        return np.flatnonzero((self.inst.k_site == j) & (self.x > _TOL))

    def leaving(self, j: int) -> list[int]:
        """Triples served at j whose moving frees desks there: their agency has more than its minimum."""
        agency = self.inst.k_agency
        return [int(k) for k in self.served_at(j) if self.demand[j, agency[k]] > self.minimum[agency[k]] + _TOL]

    def alternatives(self, k: int) -> range:
        """The triples of k's demand pair (the other sites that may serve it)."""
        run = self.run_of[k]
        return range(self.run_start[run], self.run_end[run])

    def moves(self, j: int, leaving) -> list[tuple[float, int, int]]:
        """(extra travel per staff, from k, to k2) to open offices of the same agency, cheapest first."""
        inst = self.inst
        return sorted(
            (self.travel[k2] - self.travel[k], int(k), k2)
            for k in leaving
            for k2 in self.alternatives(k)
            if (j2 := inst.k_site[k2]) != j and self.y[j2] and self.z[j2, inst.k_agency[k2]]
        )

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
        agency = self.inst.k_agency
        for a in sorted(np.flatnonzero(self.z[j]), key=lambda a: self.demand[j, a]):
            saved = self.x.copy(), self.demand.copy()
            for _, k, k2 in self.moves(j, [k for k in self.served_at(j) if agency[k] == a]):
                amount = min(self.x[k] * self.weight[k], self.room(self.inst.k_site[k2], a))
                if amount > _TOL:
                    self.shift(k, k2, amount)
            if self.demand[j, a] <= _TOL:
                self.z[j, a] = False
                self.y[j] = self.z[j].any() or self.forced[j]
                return True
            self.x, self.demand = saved
        return False

    def shift(self, k: int, k2: int, amount: float) -> None:
        """Move `amount` staff worth of triple k's visits to triple k2 (same area and agency)."""
        share = self.x[k] if amount >= self.x[k] * self.weight[k] * (1 - 1e-12) else amount / self.weight[k]
        self.x[k] -= share
        self.x[k2] += share
        a = self.inst.k_agency[k]
        self.demand[self.inst.k_site[k], a] -= share * self.weight[k]
        self.demand[self.inst.k_site[k2], a] += share * self.weight[k]

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


def within_desks(inst: Instance, solution: Solution) -> Start | None:
    """The nearest-office `solution` as a start that staffs each office to its minimum and fits
    its desks; None when the greedy repair cannot fit them."""
    work = _Work(inst, solution.y, solution.z, solution.x)
    for _ in range(_MOST_STEPS):
        over = work.staff().sum(axis=1) - work.desks
        j = int(np.argmax(over))
        if over[j] <= _TOL:
            x = dict(zip(inst.triples(), work.x.tolist()))
            return Start(work.y.astype(float), work.z.astype(float), work.staff(), x)
        if not (work.move_out(j) or work.withdraw(j) or work.open_beside(j)):
            return None
    return None
