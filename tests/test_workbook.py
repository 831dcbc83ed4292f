"""The input workbook contract: what an analyst may write, and what they are told when it is wrong.

Every bad-input test changes one thing in a valid workbook and asserts the single problem
reported: its sheet, Excel row (header = row 1), column header and the words that tell
the analyst what to fix.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest

from optimizer.errors import InputError, InputProblem
from optimizer.problem import Agency, Area, Problem, Settings, Site, Source
from optimizer.workbook import (
    SETTINGS,
    SHEETS,
    problem_tables,
    read_problem,
    write_input_workbook,
    write_template,
)

Sheets = dict[str, list[list[object]]]


def valid_sheets() -> Sheets:
    """A small valid workbook, written the varied ways people fill in Excel."""
    return {
        "settings": [
            ["key", "value", "note"],  # row 1; extra columns are ignored
            ["max_distance_km", 50, None],  # row 2
            ["budget_annual", "2500000", "numbers typed as text are fine"],  # row 3
            ["objective", " Coverage ", None],  # row 4
            ["staff_integer", "no", None],  # row 5
            ["min_offices", 1.0, None],  # row 6
            ["mip_gap", None, "blank = default"],  # row 7
        ],
        "agencies": [
            # column order is free
            ["visits_per_staff", "agency_id", "name", "staff_cost", "max_distance_km", "budget"],
            [4000, "FK", "Försäkringskassan", 600000, 30, 1e6],  # row 2
            [3500, 7, None, 550000, None, None],  # row 3: a numeric id, no name
        ],
        "areas": [
            ["area_id", "name", "lat", "lon", "population", "region"],
            ["0180", "Stockholm", 59.33, 18.07, 984748, "Stockholms län"],  # row 2
            [None, None, None, None, None, None],  # row 3: blank rows are skipped
            [114, None, None, None, 47000, None],  # row 4: no coordinates
        ],
        "sites": [
            ["site_id", "name", "lat", "lon", "status", "annual_cost", "open_cost", "close_cost",
             "desks", "agencies_now", "force"],
            ["S1", "Stockholm City", 59.33, 18.06, "existing", 1_000_000, None, 50000, 40, "FK, 7", None],
            ["C1", None, 59.52, 17.91, " Candidate ", 400000, 80000, None, None, None, "open"],
        ],
        "demand": [["area_id", "agency_id", "visits"], ["0180", "7", 1200]],
        "distances": [["area_id", "site_id", "distance_km"], ["114", "S1", 21.5]],
    }


EXPECTED = Problem(
    settings=Settings(max_distance_km=50.0, budget_annual=2_500_000.0, objective="coverage",
                      staff_integer=False, min_offices=1),
    agencies=(
        Agency("FK", "Försäkringskassan", staff_cost=600_000.0, visits_per_staff=4000.0,
               max_distance_km=30.0, budget=1e6),
        Agency("7", "7", staff_cost=550_000.0, visits_per_staff=3500.0),
    ),
    areas=(
        Area("0180", "Stockholm", 984_748.0, lat=59.33, lon=18.07, region="Stockholms län"),
        Area("114", "114", 47_000.0),
    ),
    sites=(
        Site("S1", "Stockholm City", "existing", lat=59.33, lon=18.06, annual_cost=1e6,
             close_cost=50_000.0, desks=40.0, agencies_now=("FK", "7")),
        Site("C1", "C1", "candidate", lat=59.52, lon=17.91, annual_cost=400_000.0,
             open_cost=80_000.0, force="open"),
    ),
    demand={("0180", "7"): 1200.0},
    distances={("114", "S1"): 21.5},
)


def save(directory: Path, sheets: Sheets, name: str = "input.xlsx") -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        worksheet = workbook.create_sheet(title)
        for row in rows:
            worksheet.append(row)
    path = directory / name
    workbook.save(path)
    return path


def with_cell(sheet: str, row: int, column: str, value: object) -> Sheets:
    """The valid workbook with one cell changed, addressed as in Excel."""
    sheets = valid_sheets()
    header = sheets[sheet][0]
    sheets[sheet][row - 1][header.index(column)] = value
    return sheets


def problems_in(path: Path) -> list[InputProblem]:
    with pytest.raises(InputError) as caught:
        read_problem(path)
    return caught.value.problems


def the_problem(path: Path) -> InputProblem:
    problems = problems_in(path)
    assert len(problems) == 1, problems
    return problems[0]


def assert_problem(problem: InputProblem, sheet: str, row: int | None, column: str | None,
                   *words: str) -> None:
    assert (problem.sheet, problem.row, problem.column) == (sheet, row, column), problem
    for word in words:
        assert word in problem.message, problem


# --- a valid workbook ------------------------------------------------------------------


def test_a_valid_workbook_reads_into_the_expected_problem(tmp_path):
    path = save(tmp_path, valid_sheets())
    problem = read_problem(path)
    assert replace(problem, source=None) == EXPECTED
    assert problem.source == Source("input.xlsx", hashlib.sha256(path.read_bytes()).hexdigest())


def test_optional_sheets_and_columns_may_be_left_out(tmp_path):
    sheets = {
        "settings": [["key", "value"]],
        "agencies": [["agency_id", "staff_cost", "visits_per_staff"], ["FK", 1, 2]],
        "areas": [["area_id", "population"], ["A", 10]],
        "sites": [["site_id", "status"], ["S", "existing"]],
    }
    assert replace(read_problem(save(tmp_path, sheets)), source=None) == Problem(
        settings=Settings(),
        agencies=(Agency("FK", "FK", staff_cost=1.0, visits_per_staff=2.0),),
        areas=(Area("A", "A", 10.0),),
        sites=(Site("S", "S", "existing"),),
    )


def test_header_cells_may_carry_surrounding_spaces(tmp_path):
    sheets = valid_sheets()
    sheets["agencies"][0][1] = "  agency_id "
    assert read_problem(save(tmp_path, sheets)).agencies[0].agency_id == "FK"


# --- bad cells ---------------------------------------------------------------------------

BAD_CELLS = [
    # (sheet, row, column, new value), then the words the message must contain
    pytest.param(("areas", 2, "population", "abc"), ["must be a number", "'abc'"], id="text-for-number"),
    pytest.param(("areas", 2, "lat", "59,33"), ["decimal point", "'59,33'"], id="decimal-comma"),
    pytest.param(("agencies", 2, "staff_cost", True), ["must be a number", "got TRUE"], id="bool-for-number"),
    pytest.param(("agencies", 2, "staff_cost", None), ["must not be blank", "a number of at least 0"],
                 id="blank-required"),
    pytest.param(("sites", 3, "site_id", " "), ["must not be blank"], id="blank-id"),
    pytest.param(("sites", 3, "site_id", "S1"), ["duplicate site_id 'S1'", "row 2"], id="duplicate-id"),
    pytest.param(("sites", 2, "agencies_now", "FK, SKV"), ["unknown agency 'SKV'", "'agencies' sheet"],
                 id="unknown-agency-now"),
    pytest.param(("demand", 2, "agency_id", "PM"), ["unknown agency 'PM'"], id="unknown-demand-agency"),
    pytest.param(("demand", 2, "area_id", "9999"), ["unknown area '9999'"], id="unknown-demand-area"),
    pytest.param(("distances", 2, "site_id", "S9"), ["unknown site 'S9'"], id="unknown-distance-site"),
    pytest.param(("distances", 2, "area_id", "0114"), ["unknown area '0114'"], id="unknown-distance-area"),
    pytest.param(("sites", 2, "annual_cost", -100), ["at least 0", "got -100"], id="negative-cost"),
    pytest.param(("agencies", 2, "budget", "-5"), ["at least 0", "got '-5'"], id="negative-cost-as-text"),
    pytest.param(("sites", 2, "desks", -1), ["at least 0"], id="negative-desks"),
    pytest.param(("distances", 2, "distance_km", -1), ["at least 0"], id="negative-distance"),
    pytest.param(("demand", 2, "visits", -1), ["at least 0"], id="negative-visits"),
    pytest.param(("areas", 2, "lat", 91), ["between -90 and 90", "got 91"], id="lat-out-of-range"),
    pytest.param(("sites", 2, "lon", -181), ["between -180 and 180", "got -181"], id="lon-out-of-range"),
    pytest.param(("agencies", 2, "visits_per_staff", 0), ["greater than 0", "got 0"], id="visits-per-staff-zero"),
    pytest.param(("agencies", 3, "visits_per_staff", -3), ["greater than 0", "got -3"],
                 id="visits-per-staff-negative"),
    pytest.param(("agencies", 2, "max_distance_km", 0), ["greater than 0"], id="agency-limit-zero"),
    pytest.param(("areas", 4, "population", -1), ["at least 0"], id="row-number-counts-blank-rows"),
    pytest.param(("sites", 2, "status", "planned"), ["existing, candidate", "'planned'"], id="bad-status"),
    pytest.param(("sites", 3, "force", "maybe"), ["open, closed", "'maybe'"], id="bad-force"),
    pytest.param(("sites", 3, "agencies_now", "FK"), ["candidate", "leave agencies_now blank"],
                 id="candidate-with-agencies"),
    pytest.param(("settings", 2, "key", "max_dist"),
                 ["unknown setting 'max_dist'", "max_distance_km", "mip_gap"], id="unknown-setting"),
    pytest.param(("settings", 7, "key", "max_distance_km"), ["duplicate key 'max_distance_km'", "row 2"],
                 id="duplicate-setting"),
    pytest.param(("settings", 4, "value", "cheapest"), ["objective", "cost, coverage", "'cheapest'"],
                 id="bad-objective"),
    pytest.param(("settings", 5, "value", "maybe"), ["staff_integer", "TRUE or FALSE"], id="bad-flag"),
    pytest.param(("settings", 6, "value", 2.5), ["min_offices", "whole number", "2.5"], id="fractional-count"),
    pytest.param(("settings", 7, "value", 1), ["mip_gap", "less than 1"], id="gap-of-one"),
    pytest.param(("settings", 2, "value", -3), ["max_distance_km", "greater than 0", "got -3"],
                 id="negative-limit"),
]


@pytest.mark.parametrize(("edit", "words"), BAD_CELLS)
def test_a_bad_cell_is_reported_at_its_sheet_row_and_column(tmp_path, edit, words):
    sheet, row, column, _ = edit
    assert_problem(the_problem(save(tmp_path, with_cell(*edit))), sheet, row, column, *words)


def test_half_a_coordinate_is_a_problem(tmp_path):
    path = save(tmp_path, with_cell("areas", 2, "lon", None))
    assert_problem(the_problem(path), "areas", 2, "lon", "is blank while lat is given")


def test_a_pair_listed_twice_is_a_problem(tmp_path):
    sheets = valid_sheets()
    sheets["demand"].append(["0180", 7, 5])
    assert_problem(the_problem(save(tmp_path, sheets)), "demand", 3, "agency_id",
                   "duplicate area_id '0180', agency_id '7'", "row 2")


# --- bad sheets and columns ------------------------------------------------------------------


def test_a_missing_sheet_is_named_with_the_sheets_found(tmp_path):
    sheets = valid_sheets()
    del sheets["sites"]
    # Only the missing sheet is reported: ids referring to it are not checked.
    assert_problem(the_problem(save(tmp_path, sheets)), "sites", None, None,
                   "required sheet is missing", "settings, agencies, areas, demand, distances")


def test_a_sheet_named_almost_right_gets_a_hint(tmp_path):
    sheets = valid_sheets()
    sheets["Sites"] = sheets.pop("sites")
    assert_problem(the_problem(save(tmp_path, sheets)), "sites", None, None,
                   "found 'Sites'", "exactly 'sites'")


def test_a_missing_column_is_named(tmp_path):
    sheets = valid_sheets()
    for row in sheets["agencies"]:
        del row[0]  # visits_per_staff
    assert_problem(the_problem(save(tmp_path, sheets)), "agencies", None, "visits_per_staff",
                   "required column is missing", "row 1")


def test_a_column_named_almost_right_gets_a_hint(tmp_path):
    sheets = valid_sheets()
    sheets["areas"][0][4] = "Population"
    assert_problem(the_problem(save(tmp_path, sheets)), "areas", None, "population",
                   "found 'Population'", "exactly 'population'")


def test_a_sheet_without_data_rows_is_a_problem(tmp_path):
    sheets = valid_sheets()
    sheets["agencies"] = sheets["agencies"][:1]
    sheets["sites"][1][9] = None  # agencies_now and demand would name agencies that are gone
    del sheets["demand"]
    assert_problem(the_problem(save(tmp_path, sheets)), "agencies", None, None, "no data rows")


# --- bad files -------------------------------------------------------------------------------


def test_a_text_file_named_xlsx_is_not_a_workbook(tmp_path):
    path = tmp_path / "input.xlsx"
    path.write_text("area_id,population\nA,10\n")
    assert_problem(the_problem(path), "(file)", None, None, "not a readable .xlsx workbook")


def test_a_missing_file_is_reported(tmp_path):
    assert_problem(the_problem(tmp_path / "nowhere.xlsx"), "(file)", None, None, "does not exist")


def test_another_file_type_is_not_a_workbook(tmp_path):
    path = tmp_path / "input.csv"
    path.write_text("area_id,population\n")
    assert_problem(the_problem(path), "(file)", None, None, "not an .xlsx workbook", "Save As")


# --- office counts ---------------------------------------------------------------------------


def test_min_offices_above_max_offices_is_a_problem(tmp_path):
    sheets = valid_sheets()
    sheets["settings"].append(["max_offices", 0])
    problems = problems_in(save(tmp_path, sheets))
    # max_offices 0 also leaves no room for the site forced open: both are said.
    assert len(problems) == 2, problems
    assert_problem(problems[0], "settings", 6, "value", "min_offices (1) is greater than max_offices (0)")
    assert_problem(problems[1], "settings", 8, "value", "max_offices (0) is less than the number of sites",
                   "force = open (1)")


def test_min_offices_above_the_sites_that_may_operate_is_a_problem(tmp_path):
    sheets = with_cell("settings", 6, "value", 2)
    sheets["sites"][1][10] = "closed"  # a site forced closed cannot count
    assert_problem(the_problem(save(tmp_path, sheets)), "settings", 6, "value",
                   "min_offices (2) is more than the number of sites that may operate (1")


# --- all problems at once --------------------------------------------------------------------


def test_every_problem_in_every_sheet_is_reported_at_once_in_workbook_order(tmp_path):
    sheets = valid_sheets()
    sheets["settings"][3][1] = "cheapest"
    sheets["agencies"][1][0] = 0
    sheets["areas"][1][2] = 91
    sheets["areas"][3][4] = "many"
    sheets["sites"][1][9] = "FK, SKV"
    sheets["demand"][1][0] = "9999"
    problems = problems_in(save(tmp_path, sheets))
    assert [(p.sheet, p.row, p.column) for p in problems] == [
        ("settings", 4, "value"),
        ("agencies", 2, "visits_per_staff"),
        ("areas", 2, "lat"),
        ("areas", 4, "population"),
        ("sites", 2, "agencies_now"),
        ("demand", 2, "area_id"),
    ]
    with pytest.raises(InputError, match="The input has 6 problems") as caught:
        read_problem(tmp_path / "input.xlsx")
    assert "sheet 'agencies', row 2, column 'visits_per_staff': must be a number greater than 0 (got 0)" \
        in str(caught.value)


# --- the template and writing back -----------------------------------------------------------


def test_the_template_has_every_sheet_with_bold_headers_and_every_setting_with_its_default(tmp_path):
    path = write_template(tmp_path / "template.xlsx")
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["README", *(sheet.name for sheet in SHEETS)]
    for sheet in SHEETS:
        header = next(workbook[sheet.name].iter_rows(max_row=1))
        assert [cell.value for cell in header] == [column.name for column in sheet.columns]
        assert all(cell.font.b for cell in header)
        assert workbook[sheet.name].column_dimensions["A"].width > len(sheet.columns[0].name)
    settings = {row[0]: row[1:] for row in workbook["settings"].iter_rows(min_row=2, values_only=True)}
    assert list(settings) == [column.name for column in SETTINGS]
    assert settings["objective"][0] == "cost" and settings["staff_integer"][0] is True
    assert all(description for _, description in settings.values())
    readme = {(row[0], row[1]) for row in workbook["README"].iter_rows(min_row=2, values_only=True)}
    assert {(sheet.name, column.name) for sheet in SHEETS[1:] for column in sheet.columns} <= readme


def test_a_filled_in_template_reads_back(tmp_path):
    path = write_template(tmp_path / "template.xlsx")
    workbook = openpyxl.load_workbook(path)
    fill = {
        "agencies": {"agency_id": "FK", "staff_cost": 600000, "visits_per_staff": 4000},
        "areas": {"area_id": "A", "lat": 59.3, "lon": 18.1, "population": 1000},
        "sites": {"site_id": "S", "lat": 59.3, "lon": 18.0, "status": "existing", "agencies_now": "FK"},
    }
    for name, values in fill.items():
        header = [cell.value for cell in workbook[name][1]]
        workbook[name].append([values.get(column) for column in header])
    workbook.save(path)
    assert replace(read_problem(path), source=None) == Problem(
        settings=Settings(),
        agencies=(Agency("FK", "FK", staff_cost=600000.0, visits_per_staff=4000.0),),
        areas=(Area("A", "A", 1000.0, lat=59.3, lon=18.1),),
        sites=(Site("S", "S", "existing", lat=59.3, lon=18.0, agencies_now=("FK",)),),
    )


def test_problem_tables_written_and_read_back_give_the_same_problem(tmp_path):
    every_field = replace(
        EXPECTED,
        settings=Settings(max_distance_km=None, circuity_factor=1.3, budget_annual=1e7, budget_one_off=2e6,
                          amortization_years=8, travel_cost_per_km=0.25, min_offices=0, max_offices=40,
                          objective="cost", merge_radius_km=0, staff_integer=True, time_limit_s=5.5,
                          mip_gap=0),
        sites=(*EXPECTED.sites, Site("S2", "Täby", "existing", force="closed", desks=0.0, agencies_now=("7",))),
    )
    for problem in (EXPECTED, every_field):
        path = write_input_workbook(problem_tables(problem), tmp_path / "round-trip.xlsx")
        assert replace(read_problem(path), source=None) == problem


def test_write_input_workbook_keeps_the_sheet_order_given(tmp_path):
    tables = problem_tables(EXPECTED)
    reordered = {name: tables[name] for name in reversed(list(tables))}
    path = write_input_workbook(reordered, tmp_path / "inputs.xlsx")
    assert openpyxl.load_workbook(path, read_only=True).sheetnames == list(reordered)


def test_an_interrupted_write_leaves_the_old_file_and_no_debris(tmp_path, monkeypatch):
    path = tmp_path / "inputs.xlsx"
    path.write_bytes(b"the previous version")

    save_workbook = openpyxl.Workbook.save

    def interrupted_save(self, filename):
        save_workbook(self, filename)
        Path(filename).write_bytes(b"half a workbook")
        raise KeyboardInterrupt

    monkeypatch.setattr(openpyxl.Workbook, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        write_input_workbook(problem_tables(EXPECTED), path)
    assert path.read_bytes() == b"the previous version"
    assert list(tmp_path.iterdir()) == [path]
