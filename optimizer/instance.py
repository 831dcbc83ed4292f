"""The problem made ready for a model: visits v_ia, distances d_ij and the admissible triples.

This is the only stage that turns geography into numbers.  Distances are computed once, up
to a cutoff, in a `DistanceTable`; an `Instance` then picks, for each agency, the pairs
within that agency's limit.  Changing a budget or tightening a limit therefore re-uses the
table, and only a limit beyond the cutoff (or new areas or sites) computes distances again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .distances import pairs_within
from .problem import Problem

# Distances up to this many km are always kept, whatever the limits, because the plan's
# figures report the share of people within 10, 25 and 50 km of an office.
REPORTED_RADIUS_KM = 50.0


@dataclass(frozen=True, eq=False)
class DistanceTable:
    """Sparse d_ij: every (area, site) pair within `cutoff_km`, plus every listed override.

    `cutoff_km` is None when the table is dense (some agency has no distance limit).
    Distances are in the model's km: geodesic times the circuity factor, or as listed.
    """

    area: np.ndarray  # index i into Problem.areas
    site: np.ndarray  # index j into Problem.sites
    km: np.ndarray
    cutoff_km: float | None
    basis: tuple  # the inputs the distances were computed from; see `geography`

    def serves(self, problem: Problem) -> bool:
        """Whether this table holds every pair `problem` needs, so no distance is computed twice."""
        if self.basis != geography(problem):
            return False
        cutoff_km = distance_cutoff_km(problem)
        if self.cutoff_km is None:
            return True
        return cutoff_km is not None and cutoff_km <= self.cutoff_km


def geography(problem: Problem) -> tuple:
    """What distances depend on: positions, listed distances and circuity; nothing else counts
    (budgets, limits, costs, a site locked open or closed)."""
    return (
        tuple((a.area_id, a.lat, a.lon) for a in problem.areas),
        tuple((s.site_id, s.lat, s.lon) for s in problem.sites),
        problem.distances,
        problem.settings.circuity_factor,
    )


def distance_cutoff_km(problem: Problem) -> float | None:
    """The farthest distance any agency may be served from, or None when one has no limit."""
    limits = [problem.limit_km(a) for a in problem.agencies]
    if any(limit is None for limit in limits):
        return None
    return max([REPORTED_RADIUS_KM, *limits])


def coordinates(records) -> tuple[np.ndarray, np.ndarray]:
    """Latitudes and longitudes as float arrays, NaN where a record has no position."""
    lat = np.array([np.nan if r.lat is None else r.lat for r in records], dtype=float)
    lon = np.array([np.nan if r.lon is None else r.lon for r in records], dtype=float)
    return lat, lon


def distance_table(problem: Problem, cutoff_km: float | None) -> DistanceTable:
    """Geodesic distances within the cutoff, with the workbook's listed distances taking precedence.

    A listed pair replaces the computed one even when it is longer: the analyst who typed it
    knows the road.  Listed distances are not multiplied by the circuity factor.
    """
    circuity = problem.settings.circuity_factor
    area_lat, area_lon = coordinates(problem.areas)
    site_lat, site_lon = coordinates(problem.sites)
    geodesic_cutoff = None if cutoff_km is None else cutoff_km / circuity
    i, j, km = pairs_within(area_lat, area_lon, site_lat, site_lon, geodesic_cutoff)
    km = km * circuity
    if problem.distances:
        area_index = {a.area_id: k for k, a in enumerate(problem.areas)}
        site_index = {s.site_id: k for k, s in enumerate(problem.sites)}
        listed_i = np.array([area_index[a] for a, _ in problem.distances], dtype=np.int64)
        listed_j = np.array([site_index[s] for _, s in problem.distances], dtype=np.int64)
        listed_km = np.fromiter(problem.distances.values(), dtype=float, count=len(problem.distances))
        n_sites = len(problem.sites)
        keep = ~np.isin(i.astype(np.int64) * n_sites + j, listed_i * n_sites + listed_j)
        i = np.concatenate([i[keep], listed_i])
        j = np.concatenate([j[keep], listed_j])
        km = np.concatenate([km[keep], listed_km])
    return DistanceTable(i.astype(np.int64), j.astype(np.int64), km.astype(float), cutoff_km, geography(problem))


def visits_matrix(problem: Problem) -> np.ndarray:
    """v_ia: population times the agency's visit rate, unless the demand sheet lists the pair."""
    population = np.array([a.population for a in problem.areas], dtype=float)
    rate = np.array([a.visits_per_capita for a in problem.agencies], dtype=float)
    visits = np.outer(population, rate)
    if problem.demand:
        area_index = {a.area_id: k for k, a in enumerate(problem.areas)}
        agency_index = {a.agency_id: k for k, a in enumerate(problem.agencies)}
        for (area_id, agency_id), v in problem.demand.items():
            visits[area_index[area_id], agency_index[agency_id]] = v
    return visits


# A distance equal to the limit is within it; this absorbs the rounding of a limit typed in km.
_LIMIT_TOLERANCE_KM = 1e-9


@dataclass(frozen=True, eq=False)
class Instance:
    """Everything the model needs, as arrays indexed like the problem's tuples.

    Nothing is computed lazily: an instance is pickled to a worker process while the main
    process solves it, so it must not change after construction.

    The admissible triples K = {(i, j, a) : v_ia > 0, d_ij <= D_a} are stored as parallel
    arrays `k_area`, `k_site`, `k_agency`, `k_km`; only they get assignment variables.
    """

    problem: Problem
    table: DistanceTable
    visits: np.ndarray  # (I, A)
    k_area: np.ndarray
    k_site: np.ndarray
    k_agency: np.ndarray
    k_km: np.ndarray
    # (J, A): the agency staffs the site today (`agencies_now`).
    present_today: np.ndarray

    def triples(self) -> list[tuple[int, int, int]]:
        """K as (i, j, a) tuples in the order of the arrays: the Pyomo model's index and a start's keys.

        Made on demand rather than kept: at national scale (8 million triples) the list alone
        takes gigabytes, and the radius path (`optimizer.radius`) never needs it.
        """
        return list(zip(self.k_area.tolist(), self.k_site.tolist(), self.k_agency.tolist()))

    @property
    def n_areas(self) -> int:
        return len(self.problem.areas)

    @property
    def n_sites(self) -> int:
        return len(self.problem.sites)

    @property
    def n_agencies(self) -> int:
        return len(self.problem.agencies)

    def unreachable_pairs(self, usable: np.ndarray | None = None) -> list[tuple[int, int]]:
        """(i, a) with visits that no site can serve within the limit, so no plan covers them.

        `usable` (bool per triple) narrows the sites considered, e.g. to today's network.
        """
        reachable = np.zeros((self.n_areas, self.n_agencies), dtype=bool)
        keep = slice(None) if usable is None else usable
        reachable[self.k_area[keep], self.k_agency[keep]] = True
        i, a = np.nonzero((self.visits > 0) & ~reachable)
        return list(zip(i.tolist(), a.tolist()))


def admissible_triples(problem: Problem, table: DistanceTable, visits: np.ndarray):
    """Select, per agency, the table's pairs within the agency's limit where the area has demand."""
    parts = []
    for a, agency in enumerate(problem.agencies):
        limit = problem.limit_km(agency)
        mask = visits[table.area, a] > 0
        if limit is not None:
            mask &= table.km <= limit + _LIMIT_TOLERANCE_KM
        idx = np.nonzero(mask)[0]
        parts.append((table.area[idx], table.site[idx], np.full(idx.size, a, dtype=np.int64), table.km[idx]))
    area, site, agency, km = (np.concatenate(p) for p in zip(*parts))
    order = np.lexsort((site, area, agency))
    return area[order], site[order], agency[order], km[order]


def build_instance(problem: Problem, table: DistanceTable | None = None) -> Instance:
    """Make the instance, re-using `table` when it already covers every limit of `problem`."""
    if table is None or not table.serves(problem):
        table = distance_table(problem, distance_cutoff_km(problem))
    visits = visits_matrix(problem)
    k_area, k_site, k_agency, k_km = admissible_triples(problem, table, visits)
    agencies = problem.agencies
    present_today = np.array([[a.agency_id in s.agencies_now for a in agencies] for s in problem.sites], dtype=bool)
    return Instance(problem, table, visits, k_area, k_site, k_agency, k_km, present_today)
