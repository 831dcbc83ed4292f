"""The model agrees with brute-force enumeration of sites, agency presences and staff on tiny problems.

Two families of random problems, each small enough to enumerate every decision:

* single-sourcing-exact: continuous staff, no minimum staff, no desks.  For fixed sites and
  presences each area then simply goes to its nearest present office, so enumerating
  y and z prices every plan exactly, with travel costs, budgets, office counts and force.
* staffed: whole staff, minimum staff and desks, no travel cost.  For fixed y, z and staff
  only feasibility of the (splittable) assignment matters, which Hall's condition decides
  exactly: every set of areas must find enough staff capacity among its admissible offices.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest

from optimizer.instance import build_instance
from optimizer.solve import solve
from tiny import agency, area, problem, site

INF = float("inf")


def random_single_sourcing_problem(rng: random.Random):
    agencies = [
        agency(
            a,
            staff_cost=rng.choice([50.0, 80.0]),
            visits_per_staff=rng.choice([40.0, 100.0]),
            presence_cost=rng.choice([0.0, 30.0, 70.0]),
            setup_cost=rng.choice([0.0, 100.0]),
            visits_per_capita=rng.choice([0.5, 1.0]),
            max_distance_km=rng.choice([None, 30.0]),
            budget=rng.choice([None, None, 400.0]),
        )
        for a in ("A", "B")
    ]
    areas = [area(f"i{k}", rng.choice([0, 20, 50, 90])) for k in range(5)]
    sites = [
        site(f"j{k}", "existing" if k < 2 else "candidate",
             annual_cost=float(rng.randint(50, 300)), open_cost=float(rng.choice([0, 200])),
             close_cost=float(rng.choice([0, 150])),
             agencies_now=("A", "B") if k == 0 else (("A",) if k == 1 else ()),
             force=rng.choice([None] * 6 + ["open", "closed"]))
        for k in range(4)
    ]
    distances = {(i.area_id, s.site_id): float(rng.randint(0, 45)) for i in areas for s in sites}
    settings = dict(
        max_distance_km=35.0,
        travel_cost_per_km=rng.choice([0.0, 0.01, 0.2]),
        amortization_years=rng.choice([1.0, 5.0]),
        budget_annual=rng.choice([None, 700.0, 1100.0]),
        budget_one_off=rng.choice([None, 250.0]),
        min_offices=rng.choice([None, 2]),
        max_offices=rng.choice([None, 2, 3]),
    )
    return problem(agencies, areas, sites, distances, **settings)


def enumerate_single_sourcing(p) -> float:
    """The least cost over every y and z; each area goes to its nearest present, admissible office."""
    s = p.settings
    J, A = range(len(p.sites)), range(len(p.agencies))
    best = INF
    for y in itertools.product((0, 1), repeat=len(J)):
        if s.min_offices is not None and sum(y) < s.min_offices:
            continue
        if s.max_offices is not None and sum(y) > s.max_offices:
            continue
        if any(site.force == "open" and not y[j] or site.force == "closed" and y[j] for j, site in enumerate(p.sites)):
            continue
        pairs = [(j, a) for j in J for a in A if y[j]]
        for chosen in itertools.product((0, 1), repeat=len(pairs)):
            z = {pair for pair, on in zip(pairs, chosen) if on}
            best = min(best, price_single_sourcing(p, y, z))
    return best


def price_single_sourcing(p, y, z) -> float:
    s = p.settings
    annual = sum(site.annual_cost for site, on in zip(p.sites, y) if on)
    one_off = sum(site.open_cost for site, on in zip(p.sites, y) if on and not site.is_existing)
    one_off += sum(site.close_cost for site, on in zip(p.sites, y) if not on and site.is_existing)
    travel = 0.0
    for a, ag in enumerate(p.agencies):
        limit = p.limit_km(ag)
        present = [j for j, aa in z if aa == a]
        spend = ag.presence_cost * len(present)
        one_off += sum(ag.setup_cost for j in present if ag.agency_id not in p.sites[j].agencies_now)
        for ar in p.areas:
            visits = ar.population * ag.visits_per_capita
            if visits == 0:
                continue
            reach = [p.distances[ar.area_id, p.sites[j].site_id] for j in present]
            reach = [d for d in reach if limit is None or d <= limit]
            if not reach:
                return INF
            travel += s.travel_cost_per_km * visits * min(reach)
            spend += ag.staff_cost * visits / ag.visits_per_staff
        if ag.budget is not None and spend > ag.budget + 1e-6:
            return INF
        annual += spend
    if s.budget_annual is not None and annual > s.budget_annual + 1e-6:
        return INF
    if s.budget_one_off is not None and one_off > s.budget_one_off + 1e-6:
        return INF
    return annual + one_off / s.amortization_years + travel


@pytest.mark.parametrize("seed", range(40))
def test_single_sourcing_problems_match_enumeration(seed):
    p = random_single_sourcing_problem(random.Random(seed))
    expected = enumerate_single_sourcing(p)
    solution = solve(build_instance(p))
    if expected == INF:
        assert solution.status == "infeasible"
    else:
        assert solution.status == "optimal"
        assert solution.objective == pytest.approx(expected, rel=1e-7, abs=1e-6)


def random_staffed_problem(rng: random.Random):
    agencies = [
        agency(a, staff_cost=float(rng.choice([60, 100])), visits_per_staff=100.0,
               min_staff=float(rng.choice([0, 1, 2])), presence_cost=float(rng.choice([0, 25])),
               visits_per_capita=1.0)
        for a in ("A", "B")
    ]
    areas = [area(f"i{k}", float(rng.choice([0, 40, 70, 130]))) for k in range(3)]
    sites = [
        site(f"j{k}", "existing" if k == 0 else "candidate", annual_cost=float(rng.randint(20, 120)),
             desks=rng.choice([None, 2.0, 3.0]), agencies_now=("A", "B") if k == 0 else ())
        for k in range(2)
    ]
    distances = {(i.area_id, s.site_id): float(rng.choice([5, 20, 60])) for i in areas for s in sites}
    return problem(agencies, areas, sites, distances, max_distance_km=50.0, staff_integer=True)


def hall_feasible(loads: dict[str, float], capacity: dict[int, float], admissible: dict[str, set[int]]) -> bool:
    """Splittable demands fit the capacities iff every set of areas has enough capacity in reach."""
    names = [k for k, v in loads.items() if v > 0]
    for r in range(1, len(names) + 1):
        for group in itertools.combinations(names, r):
            reach = set().union(*(admissible[g] for g in group))
            if sum(loads[g] for g in group) > sum(capacity.get(j, 0.0) for j in reach) + 1e-9:
                return False
    return True


def enumerate_staffed(p) -> float:
    J, A = len(p.sites), len(p.agencies)
    most = 4  # more staff than any of these problems can use
    best = INF
    for y in itertools.product((0, 1), repeat=J):
        for n in itertools.product(range(most + 1), repeat=J * A):
            staff = {(j, a): n[j * A + a] for j in range(J) for a in range(A)}
            if any(staff[j, a] and not y[j] for j, a in staff):
                continue
            for z in itertools.product((0, 1), repeat=J * A):
                present = {(j, a) for j in range(J) for a in range(A) if z[j * A + a]}
                cost = price_staffed(p, y, present, staff)
                best = min(best, cost)
    return best


def price_staffed(p, y, present, staff) -> float:
    for j, a in staff:
        if (j, a) in present and not y[j]:
            return INF
        if (j, a) not in present and staff[j, a]:
            return INF
        if (j, a) in present and staff[j, a] < p.agencies[a].min_staff:
            return INF
    for j, s in enumerate(p.sites):
        if s.desks is not None and sum(staff[j, a] for a in range(len(p.agencies))) > s.desks * y[j]:
            return INF
    for a, ag in enumerate(p.agencies):
        loads = {ar.area_id: ar.population * ag.visits_per_capita for ar in p.areas}
        capacity = {j: ag.visits_per_staff * staff[j, a] for j, aa in present if aa == a}
        admissible = {
            ar.area_id: {j for j in capacity if p.distances[ar.area_id, p.sites[j].site_id] <= p.limit_km(ag)}
            for ar in p.areas
        }
        if not hall_feasible(loads, capacity, admissible):
            return INF
    cost = sum(s.annual_cost for s, on in zip(p.sites, y) if on)
    cost += sum(p.agencies[a].presence_cost for _, a in present)
    cost += sum(p.agencies[a].staff_cost * k for (_, a), k in staff.items())
    return cost


@pytest.mark.parametrize("seed", range(20))
def test_staffed_problems_match_enumeration(seed):
    p = random_staffed_problem(random.Random(1000 + seed))
    expected = enumerate_staffed(p)
    solution = solve(build_instance(p))
    if math.isinf(expected):
        assert solution.status == "infeasible"
    else:
        assert solution.status == "optimal"
        assert solution.objective == pytest.approx(expected, rel=1e-7, abs=1e-6)
