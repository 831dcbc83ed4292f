"""The `officeplan` command as a user meets it: real workbooks in, a plan workbook and JSON out.

Runs the real console entry point in a subprocess (`python -m optimizer`) so that exit
statuses, stdout/stderr and the absence of tracebacks are what a shell would see.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from optimizer.workbook import problem_tables, write_input_workbook
from tiny import agency, area, problem, site

ROOT = Path(__file__).resolve().parents[1]


def officeplan(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *map(str, args)], capture_output=True, text=True, cwd=ROOT
    )


def town_network(**settings):
    """Two existing offices 5.6 km apart and a far candidate; one agency."""
    return problem(
        [agency("FK")],
        [area("a1", 1000, 60.0, 15.0), area("a2", 3000, 60.05, 15.0)],
        [
            site("s1", "existing", 60.0, 15.0, annual_cost=500.0, agencies_now=("FK",)),
            site("s2", "existing", 60.05, 15.0, annual_cost=300.0, agencies_now=("FK",)),
            site("c3", "candidate", 61.0, 15.0, annual_cost=50.0),
        ],
        max_distance_km=50.0,
        **settings,
    )


@pytest.fixture
def workbook(tmp_path):
    def write(p, name="input.xlsx"):
        path = tmp_path / name
        write_input_workbook(problem_tables(p), path)
        return path

    return write


def test_solve_prints_json_and_writes_the_plan(workbook, tmp_path):
    plan_path = tmp_path / "plan.xlsx"
    done = officeplan("solve", workbook(town_network()), "-o", plan_path, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "optimal"
    assert result["objective"] == pytest.approx(300 + 400)  # s2 and 4 staff at 100
    assert result["annual_cost"] == pytest.approx(700.0)
    assert result["one_off_cost"] == 0 and result["travel_cost"] == 0
    assert result["covered_visits"] == result["total_visits"] == 4000
    assert result["offices_open"] == 1
    sites = {s["site_id"]: s for s in result["sites"]}
    assert sites["s1"] == {"site_id": "s1", "action": "merge", "merged_into": "s2", "agencies": [], "staff": {}}
    assert sites["s2"]["agencies"] == ["FK"] and sites["s2"]["staff"] == {"FK": 4.0}
    assert sites["c3"]["action"] == "unused"
    sheets = openpyxl.load_workbook(plan_path, read_only=True).sheetnames
    assert sheets == ["summary", "sites", "assignments", "areas", "changes"]


def test_verbose_reports_every_stage(workbook, tmp_path):
    done = officeplan("solve", workbook(town_network()), "-o", tmp_path / "p.xlsx", "--verbose")
    assert done.returncode == 0
    for stage in ("read", "distances", "build", "solve", "plan", "write"):
        assert f"[{stage}]" in done.stderr
    assert "status: optimal" in done.stdout


def test_infeasible_plan_exits_1_with_the_reason(workbook, tmp_path):
    done = officeplan("solve", workbook(town_network(budget_annual=100.0)), "-o", tmp_path / "p.xlsx", "--json")
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["status"] == "infeasible" and result["objective"] is None
    assert "cheapest annual cost is 700" in result["message"]
    assert "Traceback" not in done.stderr


def test_bad_input_exits_2_naming_sheet_row_and_column(workbook, tmp_path):
    path = workbook(town_network())
    wb = openpyxl.load_workbook(path)
    ws = wb["agencies"]
    header = [c.value for c in ws[1]]
    ws.cell(row=2, column=header.index("visits_per_staff") + 1, value=-3)
    wb.save(path)
    for command in (("solve", path, "-o", tmp_path / "p.xlsx"), ("validate", path)):
        done = officeplan(*command)
        assert done.returncode == 2
        assert "sheet 'agencies', row 2, column 'visits_per_staff'" in done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "p.xlsx").exists()


def test_a_file_that_is_not_a_workbook_exits_2(tmp_path):
    bogus = tmp_path / "notes.xlsx"
    bogus.write_text("not a workbook")
    done = officeplan("validate", bogus)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "notes.xlsx" in done.stderr


def test_validate_reports_the_size_of_a_good_workbook(workbook):
    done = officeplan("validate", workbook(town_network()))
    assert done.returncode == 0
    assert "OK (2 areas, 3 sites, 1 agencies)" in done.stdout


def test_template_filled_in_solves_and_the_plan_reads_back(tmp_path):
    template = tmp_path / "template.xlsx"
    assert officeplan("template", template).returncode == 0
    wb = openpyxl.load_workbook(template)
    rows = {
        "agencies": {"agency_id": "SKV", "name": "Skatteverket", "staff_cost": 600000, "visits_per_staff": 4000,
                     "visits_per_capita": 0.1},
        "areas": {"area_id": "0114", "name": "Upplands Väsby", "lat": 59.518, "lon": 17.911, "population": 50323},
        "sites": {"site_id": "S1", "name": "Väsby", "lat": 59.52, "lon": 17.91, "status": "existing",
                  "annual_cost": 900000, "agencies_now": "SKV"},
    }
    for sheet, values in rows.items():
        ws = wb[sheet]
        header = [c.value for c in ws[1]]
        ws.append([values.get(h) for h in header])
    settings = wb["settings"]
    for row in settings.iter_rows(min_row=2):
        if row[0].value == "max_distance_km":
            row[1].value = 50
    wb.save(template)
    plan_path = tmp_path / "plan.xlsx"
    done = officeplan("solve", template, "-o", plan_path)
    assert done.returncode == 0, done.stderr
    plan = openpyxl.load_workbook(plan_path, read_only=True)
    sites = list(plan["sites"].values)
    header = sites[0]
    s1 = dict(zip(header, sites[1]))
    assert s1["action"] == "keep" and s1["agencies_after"] == "SKV"
    assert s1["staff"] == 2  # 5,032 visits at 4,000 per staff, whole staff
    summary = {row[0]: (row + (None,))[1] for row in plan["summary"].values}  # Excel drops trailing blanks
    assert summary["input file"] == "template.xlsx"
    assert summary["annual cost"] == pytest.approx(900000 + 2 * 600000)
    assert len(summary["input SHA-256"]) == 64


def test_an_output_folder_that_does_not_exist_exits_2_without_a_traceback(workbook, tmp_path):
    done = officeplan("solve", workbook(town_network()), "-o", tmp_path / "missing" / "plan.xlsx")
    assert done.returncode == 2
    assert "cannot write" in done.stderr and "Traceback" not in done.stderr
