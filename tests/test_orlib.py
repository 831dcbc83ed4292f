"""The OR-Library readers, specified by what the vendored files are known to contain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.orlib import cap_tables, pmed_tables, read_cap, read_optima, read_pmed
from optimizer.orlib import (
    cap_problem,
    instance_order,
    instance_paths,
    instance_problem,
    instance_tables,
    pmed_problem,
    read_instance,
)
from optimizer.workbook import problem_from_sheets

ORLIB = Path(__file__).resolve().parents[1] / "benchmarks" / "orlib"

SHEET_COLUMNS = {
    "settings": ["key", "value"],
    "agencies": [
        "agency_id",
        "name",
        "max_distance_km",
        "staff_cost",
        "visits_per_staff",
        "min_staff",
        "presence_cost",
        "setup_cost",
        "visits_per_capita",
        "budget",
    ],
    "areas": ["area_id", "name", "lat", "lon", "population", "region"],
    "sites": [
        "site_id",
        "name",
        "lat",
        "lon",
        "status",
        "annual_cost",
        "open_cost",
        "close_cost",
        "desks",
        "agencies_now",
        "force",
    ],
    "demand": ["area_id", "agency_id", "visits"],
    "distances": ["area_id", "site_id", "distance_km"],
}


def settings_of(tables: dict[str, pd.DataFrame]) -> dict[str, object]:
    return dict(zip(tables["settings"]["key"], tables["settings"]["value"]))


def test_cap71_has_16_warehouses_and_50_customers() -> None:
    inst = read_cap(ORLIB / "cap71.txt")
    assert len(inst.capacities) == len(inst.fixed_costs) == 16
    assert len(inst.demands) == len(inst.allocation_costs) == 50
    assert all(len(row) == 16 for row in inst.allocation_costs)


def test_cap71_values_are_read_in_file_order() -> None:
    inst = read_cap(ORLIB / "cap71.txt")
    assert inst.capacities == [58268.0] * 16
    assert inst.fixed_costs[0] == 7500.0
    assert inst.fixed_costs[10] == 0.0  # the one free warehouse of the set
    assert inst.demands[:3] == [146.0, 87.0, 672.0]
    assert inst.allocation_costs[0][0] == pytest.approx(6739.725)
    assert inst.allocation_costs[22][10] == 0.0  # written ".00000" in the file
    assert inst.allocation_costs[49][15] == pytest.approx(7448.1)


def test_cap101_has_25_warehouses_whatever_the_line_wrapping() -> None:
    inst = read_cap(ORLIB / "cap101.txt")
    assert len(inst.fixed_costs) == 25
    assert len(inst.demands) == 50
    assert all(len(row) == 25 for row in inst.allocation_costs)
    # Customers and costs are those of cap71 for the warehouses both sets share.
    assert inst.allocation_costs[0][:16] == read_cap(ORLIB / "cap71.txt").allocation_costs[0]


def test_a_truncated_cap_file_is_refused(tmp_path: Path) -> None:
    text = (ORLIB / "cap71.txt").read_text().split()
    truncated = tmp_path / "cap.txt"
    truncated.write_text(" ".join(text[:-1]))
    with pytest.raises(ValueError, match="expected"):
        read_cap(truncated)


def test_pmed1_is_100_nodes_with_p_5() -> None:
    inst = read_pmed(ORLIB / "pmed1.txt")
    assert (inst.n, inst.p) == (100, 5)
    assert inst.distances.shape == (100, 100)


def test_shortest_paths_form_a_metric() -> None:
    d = read_pmed(ORLIB / "pmed1.txt").distances
    assert np.isfinite(d).all()  # the graph is connected
    assert np.array_equal(d, d.T)
    assert np.all(np.diag(d) == 0)
    via = d[:, :, None] + d[None, :, :]  # via[i, k, j] = d[i, k] + d[k, j]
    assert np.all(via >= d[:, None, :] - 1e-9)


def test_shortest_path_is_no_longer_than_the_direct_edge() -> None:
    d = read_pmed(ORLIB / "pmed1.txt").distances
    assert d[0, 1] <= 30  # "1 2 30" is the file's first edge
    assert d[2, 3] == 1  # "3 4 1": nothing is shorter than the cheapest edge


def test_the_last_listing_of_an_edge_wins(tmp_path: Path) -> None:
    path = tmp_path / "tiny.txt"
    path.write_text("3 3 1\n1 2 3\n2 3 5\n2 1 10\n")
    d = read_pmed(path).distances
    assert d[0, 1] == d[1, 0] == 10  # not 3: the later line overrides, whatever its direction
    assert d[0, 2] == 15


def test_a_pmed_file_with_missing_edges_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "short.txt"
    path.write_text("3 3 1\n1 2 3\n2 3 5\n")
    with pytest.raises(ValueError, match="expected"):
        read_pmed(path)


@pytest.mark.parametrize("path", sorted(ORLIB.glob("cap*.txt")), ids=lambda p: p.stem)
def test_every_vendored_cap_file_parses(path: Path) -> None:
    inst = read_cap(path)
    assert len(inst.demands) == 50


@pytest.mark.parametrize("path", sorted(ORLIB.glob("pmed*.txt")), ids=lambda p: p.stem)
def test_every_vendored_pmed_file_parses_to_a_connected_graph(path: Path) -> None:
    inst = read_pmed(path)
    assert np.isfinite(inst.distances).all()
    assert 1 <= inst.p < inst.n


def test_every_vendored_instance_has_a_published_optimum() -> None:
    optima = read_optima(ORLIB / "optima.csv")
    assert optima["cap71"] == 932615.75
    assert optima["cap101"] == 796648.437
    assert optima["pmed1"] == 5819
    assert optima["pmed2"] == 4093
    vendored = {p.stem for p in ORLIB.glob("*.txt")}
    assert vendored <= set(optima)


def test_cap_tables_have_the_workbook_sheets_and_columns() -> None:
    tables = cap_tables(read_cap(ORLIB / "cap71.txt"))
    assert {name: list(df.columns) for name, df in tables.items()} == SHEET_COLUMNS


def test_cap_tables_row_counts() -> None:
    tables = cap_tables(read_cap(ORLIB / "cap71.txt"))
    assert len(tables["agencies"]) == 1
    assert len(tables["areas"]) == 50
    assert len(tables["sites"]) == 16
    assert len(tables["demand"]) == 50
    assert len(tables["distances"]) == 50 * 16


def test_cap_tables_price_allocation_as_travel() -> None:
    inst = read_cap(ORLIB / "cap71.txt")
    tables = cap_tables(inst)
    dist = tables["distances"].set_index(["area_id", "site_id"])["distance_km"]
    # visits * distance * (travel cost 1 per km) is the cost of allocating all the demand.
    assert 146 * dist[("c1", "w1")] == pytest.approx(inst.allocation_costs[0][0])
    sites = tables["sites"].set_index("site_id")
    assert sites.loc["w11", "annual_cost"] == 0
    assert sites.loc["w1", "desks"] == 58268
    assert set(sites["status"]) == {"candidate"}
    settings = settings_of(tables)
    assert settings["travel_cost_per_km"] == 1
    assert settings["mip_gap"] == 0
    assert settings["staff_integer"] is False
    assert settings["objective"] == "cost"


def test_cap_tables_leave_out_customers_without_demand() -> None:
    inst = read_cap(ORLIB / "cap71.txt")
    zero = type(inst)(inst.capacities, inst.fixed_costs, [0.0] + inst.demands[1:], inst.allocation_costs)
    tables = cap_tables(zero)
    assert len(tables["areas"]) == 50
    assert "c1" not in set(tables["demand"]["area_id"])
    assert "c1" not in set(tables["distances"]["area_id"])


def test_pmed_tables_have_the_workbook_sheets_and_row_counts() -> None:
    tables = pmed_tables(read_pmed(ORLIB / "pmed1.txt"))
    assert {name: list(df.columns) for name, df in tables.items()} == SHEET_COLUMNS
    assert len(tables["areas"]) == len(tables["sites"]) == len(tables["demand"]) == 100
    assert len(tables["distances"]) == 100 * 100
    assert tables["sites"]["desks"].isna().all()
    assert (tables["demand"]["visits"] == 1).all()
    settings = settings_of(tables)
    assert settings["min_offices"] == settings["max_offices"] == 5


def test_pmed_tables_distances_are_the_shortest_paths() -> None:
    inst = read_pmed(ORLIB / "pmed1.txt")
    dist = pmed_tables(inst)["distances"].set_index(["area_id", "site_id"])["distance_km"]
    assert dist[("n1", "n2")] == inst.distances[0, 1]
    assert dist[("n100", "n7")] == inst.distances[99, 6]


def test_tables_round_trip_through_xlsx(tmp_path: Path) -> None:
    tables = cap_tables(read_cap(ORLIB / "cap71.txt"))
    path = tmp_path / "cap71.xlsx"
    with pd.ExcelWriter(path) as writer:
        for name, df in tables.items():
            df.to_excel(writer, sheet_name=name, index=False)
    back = pd.read_excel(path, sheet_name=None)
    assert list(back) == list(SHEET_COLUMNS)
    assert back["areas"]["lat"].isna().all()  # blank coordinates stay blank
    assert len(back["distances"]) == 800


# --- the extended set (benchmarks/orlib/extended) and the workbook-free Problem ---------------
#
# These files live in a subfolder so that test_orlib_optima.py, which solves every file at the
# top of benchmarks/orlib through a workbook, does not pick them up: benchmarks/orlib_table.py
# solves them.  Here they are only parsed.

EXTENDED = ORLIB / "extended"

# OR-Library's pmedinfo: nodes, edges and p of each file.
PMED_HEADERS = {
    "pmed11": (300, 1800, 5),
    "pmed12": (300, 1800, 10),
    "pmed13": (300, 1800, 30),
    "pmed14": (300, 1800, 60),
    "pmed15": (300, 1800, 100),
    "pmed16": (400, 3200, 5),
    "pmed17": (400, 3200, 10),
    "pmed18": (400, 3200, 40),
    "pmed19": (400, 3200, 80),
    "pmed20": (400, 3200, 133),
}

# Beasley (1988) sets IV-VI, VIII-IX, XI-XII: warehouses, capacity of every warehouse, and the
# fixed cost of every warehouse but the free one; the customers are those of cap71/cap101/cap131.
CAP_SETS = {
    **{f"cap4{k}": (16, 5000, f) for k, f in zip("1234", (7500, 12500, 17500, 25000))},
    "cap51": (16, 10000, 17500),
    **{f"cap6{k}": (16, 15000, f) for k, f in zip("1234", (7500, 12500, 17500, 25000))},
    **{f"cap8{k}": (25, 5000, f) for k, f in zip("1234", (7500, 12500, 17500, 25000))},
    **{f"cap9{k}": (25, 15000, f) for k, f in zip("1234", (7500, 12500, 17500, 25000))},
    **{f"cap11{k}": (50, 5000, f) for k, f in zip("1234", (7500, 12500, 17500, 25000))},
    **{f"cap12{k}": (50, 15000, f) for k, f in zip("1234", (7500, 12500, 17500, 25000))},
}
UNCAPACITATED_TWIN = {16: "cap71", 25: "cap101", 50: "cap131"}


def test_the_extended_set_is_vendored() -> None:
    names = {p.stem for p in EXTENDED.glob("*.txt")}
    assert names == set(PMED_HEADERS) | set(CAP_SETS)


@pytest.mark.parametrize("name", sorted(PMED_HEADERS), ids=str)
def test_extended_pmed_header_and_graph(name: str) -> None:
    path = EXTENDED / f"{name}.txt"
    tokens = path.read_text().split()
    n, edges, p = PMED_HEADERS[name]
    assert tuple(int(t) for t in tokens[:3]) == (n, edges, p)
    assert len(tokens) == 3 + 3 * edges
    ends = np.array(tokens[3:], dtype=int).reshape(edges, 3)[:, :2]
    assert ends.min() == 1 and ends.max() == n
    inst = read_pmed(path)
    assert (inst.n, inst.p) == (n, p)
    assert inst.distances.shape == (n, n)
    assert np.isfinite(inst.distances).all()  # connected
    assert np.array_equal(inst.distances, inst.distances.T)


@pytest.mark.parametrize("name", sorted(CAP_SETS, key=lambda s: int(s[3:])), ids=str)
def test_extended_cap_file_is_its_uncapacitated_twin_with_other_capacities(name: str) -> None:
    m, capacity, fixed = CAP_SETS[name]
    inst = read_cap(EXTENDED / f"{name}.txt")
    assert len(inst.capacities) == m and len(inst.demands) == 50
    assert inst.capacities == [capacity] * m
    assert sorted(set(inst.fixed_costs)) == [0.0, fixed]
    assert inst.fixed_costs.count(0.0) == 1
    twin = read_cap(ORLIB / f"{UNCAPACITATED_TWIN[m]}.txt")
    assert inst.demands == twin.demands
    assert inst.allocation_costs == twin.allocation_costs
    assert inst.fixed_costs.index(0.0) == twin.fixed_costs.index(0.0)


def test_the_extended_cap_sets_bind_capacity() -> None:
    total_demand = sum(read_cap(ORLIB / "cap71.txt").demands)
    assert total_demand == 58268
    assert all(capacity < total_demand for _, capacity, _ in CAP_SETS.values())


def test_every_extended_instance_has_a_published_optimum() -> None:
    optima = read_optima(ORLIB / "optima.csv")
    assert {p.stem for p in EXTENDED.glob("*.txt")} <= set(optima)
    assert optima["cap41"] == 1040444.375
    assert optima["cap124"] == 946051.325
    assert optima["pmed11"] == 7696
    assert optima["pmed15"] == 1729
    assert optima["pmed20"] == 1789


@pytest.mark.parametrize("name", ["cap71", "cap101", "pmed1"])
def test_the_direct_problem_is_the_one_the_tables_read_into(name: str) -> None:
    inst = read_instance(ORLIB / f"{name}.txt")
    assert instance_problem(inst) == problem_from_sheets(instance_tables(inst))


def test_the_direct_problem_of_a_capacitated_instance() -> None:
    inst = read_cap(EXTENDED / "cap41.txt")
    assert cap_problem(inst) == problem_from_sheets(cap_tables(inst))
    assert {s.desks for s in cap_problem(inst).sites} == {5000}


def test_the_direct_problem_takes_setting_overrides() -> None:
    inst = read_pmed(ORLIB / "pmed1.txt")
    problem = pmed_problem(inst, time_limit_s=5)
    assert problem.settings.time_limit_s == 5
    assert problem.settings.min_offices == problem.settings.max_offices == 5
    assert problem.settings.mip_gap == 0
    assert len(problem.distances) == 100 * 100
    assert problem.distances[("n1", "n2")] == inst.distances[0, 1]


def test_read_instance_tells_the_families_apart() -> None:
    assert isinstance(read_instance(ORLIB / "pmed1.txt"), type(read_pmed(ORLIB / "pmed1.txt")))
    assert isinstance(read_instance(EXTENDED / "cap41.txt"), type(read_cap(ORLIB / "cap71.txt")))


def test_instances_are_ordered_by_family_then_number_across_folders() -> None:
    names = [p.stem for p in instance_paths(ORLIB, EXTENDED)]
    assert names[:3] == ["cap41", "cap42", "cap43"]
    assert names.index("cap74") < names.index("cap81") < names.index("cap101") < names.index("cap131")
    assert names.index("cap134") < names.index("pmed1") < names.index("pmed10") < names.index("pmed11")
    assert names[-1] == "pmed20"
    assert instance_order("pmed2.txt") < instance_order("pmed10.txt")
