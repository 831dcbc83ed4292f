"""The engine reproduces the published optima of OR-Library instances through the workbook interface.

Each instance is written as an ordinary input workbook (one agency, a distances sheet) by
`optimizer.orlib`, read back by `read_problem` and solved by the same pipeline the CLI runs.
Capacitated warehouse location (cap*) maps warehouses to sites with desks = capacity and
allocation cost / demand to distance; p-median (pmed*) maps to min = max offices = p.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.orlib import cap_tables, pmed_tables, read_cap, read_optima, read_pmed
from optimizer.pipeline import solve_workbook
from optimizer.workbook import write_input_workbook

ORLIB = Path(__file__).resolve().parents[1] / "benchmarks" / "orlib"
OPTIMA = read_optima(ORLIB / "optima.csv")
INSTANCES = sorted(
    (p.stem for p in ORLIB.glob("*.txt") if p.stem in OPTIMA),
    key=lambda name: (name.rstrip("0123456789"), int(name.lstrip("capmed"))),
)


def tables(name: str):
    path = ORLIB / f"{name}.txt"
    return cap_tables(read_cap(path)) if name.startswith("cap") else pmed_tables(read_pmed(path))


def test_the_required_instances_are_vendored():
    assert {"cap71", "cap101", "pmed1", "pmed2"} <= set(INSTANCES)


@pytest.mark.parametrize("name", INSTANCES)
def test_published_optimum_through_the_workbook(name, tmp_path):
    workbook = tmp_path / f"{name}.xlsx"
    write_input_workbook(tables(name), workbook)
    _, plan = solve_workbook(workbook, tmp_path / f"{name}_plan.xlsx")
    assert plan.status == "optimal"
    assert plan.figures["objective"] == pytest.approx(OPTIMA[name], rel=1e-7)
    assert (tmp_path / f"{name}_plan.xlsx").exists()
