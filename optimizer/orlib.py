"""OR-Library benchmark instances (J.E. Beasley) as officeplan input tables.

The model is only trusted to be exact if it reproduces published optima, so the
classic warehouse-location (`cap*`) and p-median (`pmed*`) files are read here and
re-expressed as the sheets of an ordinary input workbook.  They are then solved
through the same interface a user has, rather than through a side door that could
hide a mistake in reading the workbook or building the model.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .problem import Agency, Area, Problem, Settings, Site

AGENCY_ID = "A"


@dataclass(frozen=True)
class CapInstance:
    """A capacitated warehouse location problem as OR-Library states it.

    `allocation_costs[i][j]` is the cost of sending ALL of customer i's demand to
    warehouse j, not a unit cost: OR-Library publishes it that way, and keeping it
    lets a test compare against the file without a division that loses digits.
    """

    capacities: list[float]
    fixed_costs: list[float]
    demands: list[float]
    allocation_costs: list[list[float]]


@dataclass(frozen=True, eq=False)
class PMedInstance:
    """A p-median problem: choose `p` of `n` nodes minimising the sum of shortest distances."""

    n: int
    p: int
    distances: np.ndarray  # (n, n) all-pairs shortest path lengths


def _tokens(path: Path | str) -> list[str]:
    # Both formats wrap lines arbitrarily (cap files put 7 costs on a line, reflowed
    # copies put a whole customer on one), so only the order of the numbers is meaningful.
    return Path(path).read_text().split()


def read_cap(path: Path | str) -> CapInstance:
    """Read a `cap*` file: "m n", m lines "capacity fixed_cost", then per customer its demand and m costs.

    The token count is checked exactly because a truncated or doubled copy would still
    parse into a plausible, wrong instance whose optimum nobody could reproduce.
    """
    tokens = _tokens(path)
    m, n = int(tokens[0]), int(tokens[1])
    expected = 2 + 2 * m + n * (1 + m)
    if len(tokens) != expected:
        raise ValueError(f"{path}: {len(tokens)} numbers, expected {expected} for {m} warehouses and {n} customers")
    values = [float(t) for t in tokens[2:]]
    warehouses, customers = values[: 2 * m], values[2 * m :]
    rows = [customers[k * (m + 1) : (k + 1) * (m + 1)] for k in range(n)]
    return CapInstance(
        capacities=warehouses[0::2],
        fixed_costs=warehouses[1::2],
        demands=[row[0] for row in rows],
        allocation_costs=[row[1:] for row in rows],
    )


def shortest_paths(distances: np.ndarray) -> np.ndarray:
    """All-pairs shortest paths by Floyd-Warshall, one vectorised relaxation per pivot.

    The O(n^3) work stays inside numpy, so pmed40 (900 nodes) takes about a second
    without a graph library; the input is left untouched.
    """
    d = distances.astype(float, copy=True)
    for k in range(d.shape[0]):
        np.minimum(d, d[:, k, None] + d[None, k, :], out=d)
    return d


def read_pmed(path: Path | str) -> PMedInstance:
    """Read a `pmed*` file: "n edges p", then "i j cost" lines for an undirected graph, 1-based.

    Some files list an edge more than once; OR-Library's published optima take the
    LAST cost given, so a later line overwrites an earlier one, whichever way round
    its end nodes are written.
    """
    tokens = _tokens(path)
    n, n_edges, p = (int(t) for t in tokens[:3])
    if len(tokens) != 3 + 3 * n_edges:
        raise ValueError(f"{path}: {len(tokens) - 3} numbers after the header, expected {3 * n_edges}")
    triples = np.array(tokens[3:], dtype=float).reshape(n_edges, 3)
    ends = triples[:, :2].astype(int)
    last_cost = {(min(i, j), max(i, j)): c for (i, j), c in zip(ends.tolist(), triples[:, 2].tolist())}
    graph = np.full((n, n), np.inf)
    np.fill_diagonal(graph, 0.0)
    for (i, j), cost in last_cost.items():
        graph[i - 1, j - 1] = graph[j - 1, i - 1] = cost
    return PMedInstance(n=n, p=p, distances=shortest_paths(graph))


def read_optima(path: Path | str) -> dict[str, float]:
    """Published optimal values by instance name, from the vendored `optima.csv`."""
    with Path(path).open(newline="") as f:
        return {row["instance"]: float(row["optimum"]) for row in csv.DictReader(f)}


def _settings(**values: object) -> pd.DataFrame:
    # An exact benchmark needs a zero gap and room to finish; every instance shares these.
    base: dict[str, object] = {"travel_cost_per_km": 1, "staff_integer": False, "mip_gap": 0, "time_limit_s": 600}
    rows = {**base, **values}
    return pd.DataFrame({"key": list(rows), "value": list(rows.values())})


def _agency() -> pd.DataFrame:
    # One agency whose staff cost nothing and serve one visit each: staff then equal the
    # visits served, so the desks limit becomes the warehouse capacity and adds no cost.
    return pd.DataFrame(
        [
            {
                "agency_id": AGENCY_ID,
                "name": "Benchmark",
                "max_distance_km": None,
                "staff_cost": 0,
                "visits_per_staff": 1,
                "min_staff": 0,
                "presence_cost": 0,
                "setup_cost": 0,
                "visits_per_capita": 0,
                "budget": None,
            }
        ]
    )


def _areas(ids: list[str], population: list[float]) -> pd.DataFrame:
    # No coordinates: the distances sheet is then the only source of reachable pairs.
    return pd.DataFrame(
        {"area_id": ids, "name": ids, "lat": None, "lon": None, "population": population, "region": None}
    )


def _sites(ids: list[str], annual_cost: list[float], desks: list[float | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "site_id": ids,
            "name": ids,
            "lat": None,
            "lon": None,
            "status": "candidate",
            "annual_cost": annual_cost,
            "open_cost": 0,
            "close_cost": 0,
            "desks": desks,
            "agencies_now": None,
            "force": None,
        }
    )


def cap_tables(inst: CapInstance) -> dict[str, pd.DataFrame]:
    """The CFLP as workbook sheets whose optimal plan cost equals the CFLP optimum.

    Fixed cost becomes a site's annual cost and capacity its desks.  A distance is the
    allocation cost per unit of demand, so with a travel cost of 1 per km the model's
    travel cost v_i * d_ij * x_ij is exactly the share x_ij of the allocation cost.
    Customers without demand cost nothing wherever they go and are left out of demand
    and distances.
    """
    customers = [f"c{i + 1}" for i in range(len(inst.demands))]
    warehouses = [f"w{j + 1}" for j in range(len(inst.capacities))]
    served = [i for i, d in enumerate(inst.demands) if d > 0]
    return {
        "settings": _settings(amortization_years=10, objective="cost"),
        "agencies": _agency(),
        "areas": _areas(customers, list(inst.demands)),
        "sites": _sites(warehouses, list(inst.fixed_costs), list(inst.capacities)),
        "demand": pd.DataFrame(
            {
                "area_id": [customers[i] for i in served],
                "agency_id": AGENCY_ID,
                "visits": [inst.demands[i] for i in served],
            }
        ),
        "distances": pd.DataFrame(
            {
                "area_id": [customers[i] for i in served for _ in warehouses],
                "site_id": [w for _ in served for w in warehouses],
                "distance_km": [
                    inst.allocation_costs[i][j] / inst.demands[i] for i in served for j in range(len(warehouses))
                ],
            }
        ),
    }


def pmed_tables(inst: PMedInstance) -> dict[str, pd.DataFrame]:
    """The p-median problem as workbook sheets: every node is both an area of one visit and a free site.

    Exactly p offices are required and sites have no desks limit, so the cheapest plan
    assigns every node to its nearest open site and costs the p-median optimum.
    """
    nodes = [f"n{k + 1}" for k in range(inst.n)]
    return {
        "settings": _settings(min_offices=inst.p, max_offices=inst.p),
        "agencies": _agency(),
        "areas": _areas(nodes, [1] * inst.n),
        "sites": _sites(nodes, [0] * inst.n, [None] * inst.n),
        "demand": pd.DataFrame({"area_id": nodes, "agency_id": AGENCY_ID, "visits": 1}),
        "distances": pd.DataFrame(
            {
                "area_id": np.repeat(nodes, inst.n),
                "site_id": np.tile(nodes, inst.n),
                "distance_km": inst.distances.ravel(),
            }
        ),
    }


# --- the same instances as a `Problem`, without a workbook ------------------------------------
#
# The tables above are what an analyst would type; these build the `Problem` those tables
# read into, directly, so that a benchmark can time the engine (distances, model, HiGHS)
# without timing openpyxl on a million distance rows.  `tests/test_orlib.py` checks that
# both routes give equal problems.


def _settings_record(**overrides: object) -> Settings:
    frame = _settings(**overrides)
    return Settings(**dict(zip(frame["key"], frame["value"])))


def _agency_record() -> Agency:
    return Agency(
        agency_id=AGENCY_ID,
        name="Benchmark",
        staff_cost=0,
        visits_per_staff=1,
        max_distance_km=None,
        min_staff=0,
        presence_cost=0,
        setup_cost=0,
        visits_per_capita=0,
        budget=None,
    )


def _site_records(ids: list[str], annual_cost: list[float], desks: list[float | None]) -> tuple[Site, ...]:
    return tuple(
        Site(site_id=s, name=s, status="candidate", annual_cost=c, open_cost=0, close_cost=0, desks=d)
        for s, c, d in zip(ids, annual_cost, desks)
    )


def cap_problem(inst: CapInstance, **settings: object) -> Problem:
    """The `Problem` that `cap_tables(inst)` reads into; `settings` override the benchmark's (e.g. time_limit_s)."""
    customers = [f"c{i + 1}" for i in range(len(inst.demands))]
    warehouses = [f"w{j + 1}" for j in range(len(inst.capacities))]
    served = [i for i, d in enumerate(inst.demands) if d > 0]
    return Problem(
        settings=replace(_settings_record(amortization_years=10, objective="cost"), **settings),
        agencies=(_agency_record(),),
        areas=tuple(Area(area_id=c, name=c, population=d) for c, d in zip(customers, inst.demands)),
        sites=_site_records(warehouses, list(inst.fixed_costs), list(inst.capacities)),
        demand={(customers[i], AGENCY_ID): inst.demands[i] for i in served},
        distances={
            (customers[i], w): inst.allocation_costs[i][j] / inst.demands[i]
            for i in served
            for j, w in enumerate(warehouses)
        },
    )


def pmed_problem(inst: PMedInstance, **settings: object) -> Problem:
    """The `Problem` that `pmed_tables(inst)` reads into; `settings` override the benchmark's (e.g. time_limit_s)."""
    nodes = [f"n{k + 1}" for k in range(inst.n)]
    pairs = zip(np.repeat(nodes, inst.n).tolist(), np.tile(nodes, inst.n).tolist())
    return Problem(
        settings=replace(_settings_record(min_offices=inst.p, max_offices=inst.p), **settings),
        agencies=(_agency_record(),),
        areas=tuple(Area(area_id=k, name=k, population=1) for k in nodes),
        sites=_site_records(nodes, [0] * inst.n, [None] * inst.n),
        demand={(k, AGENCY_ID): 1 for k in nodes},
        distances=dict(zip(pairs, inst.distances.ravel().tolist())),
    )


OrlibInstance = CapInstance | PMedInstance


def read_instance(path: Path | str) -> OrlibInstance:
    """A `pmed*` file as a p-median instance, any other (`cap*`) as a warehouse location one."""
    return read_pmed(path) if Path(path).name.startswith("pmed") else read_cap(path)


def instance_tables(inst: OrlibInstance) -> dict[str, pd.DataFrame]:
    return pmed_tables(inst) if isinstance(inst, PMedInstance) else cap_tables(inst)


def instance_problem(inst: OrlibInstance, **settings: object) -> Problem:
    return pmed_problem(inst, **settings) if isinstance(inst, PMedInstance) else cap_problem(inst, **settings)


def instance_order(path: Path | str) -> tuple[str, int]:
    """Sort key: cap before pmed, then by number (cap41 before cap101), whatever folder holds the file."""
    stem = Path(path).stem
    kind = stem.rstrip("0123456789")
    return (kind, int(stem[len(kind) :] or 0))


def instance_paths(*folders: Path | str) -> list[Path]:
    """Every `cap*.txt` and `pmed*.txt` file directly in the folders, in `instance_order`."""
    paths = [p for folder in folders for pattern in ("cap*.txt", "pmed*.txt") for p in Path(folder).glob(pattern)]
    return sorted(paths, key=instance_order)
