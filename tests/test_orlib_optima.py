"""The engine reproduces the published optima of OR-Library instances through the workbook interface.

Each instance is written as an ordinary input workbook (one agency, a distances sheet) by
`optimizer.orlib`, read back by `read_problem` and solved by the same pipeline the CLI runs.
Capacitated warehouse location (cap*) maps warehouses to sites with desks = capacity and
allocation cost / demand to distance; p-median (pmed*) maps to min = max offices = p.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.instance import build_instance
from optimizer.orlib import cap_tables, instance_problem, pmed_tables, read_cap, read_instance, read_optima, read_pmed
from optimizer.pipeline import solve_workbook
from optimizer.solve import solve
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


@pytest.mark.parametrize("path", ["extended/cap41.txt", "extended/cap64.txt", "cap71.txt", "pmed1.txt"])
def test_the_general_model_reaches_the_published_optimum_too(path):
    """The pipeline solves uncapacitated instances by the radius formulation (`optimizer.radius`);
    the general model must stay exact on them as well as on instances whose capacities bind."""
    inst = build_instance(instance_problem(read_instance(ORLIB / path)))
    solution = solve(inst)
    assert solution.status == "optimal"
    assert solution.objective == pytest.approx(read_optima(ORLIB / "optima.csv")[Path(path).stem], rel=1e-7)
