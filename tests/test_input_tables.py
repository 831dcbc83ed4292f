"""The input sheets as a planner edits them in the app: typed for a grid, changed cell by cell,
and turned back into a validated problem or a workbook without losing anything typed.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pandas as pd
import pytest

from optimizer.errors import InputError, InputProblem
from optimizer.input_tables import (
    apply_edits,
    editable,
    editable_sheets,
    problem_rows,
    problems_by_sheet,
    setting,
    with_agency_limit,
    with_cell,
    with_force,
    with_setting,
    workbook_bytes,
)
from optimizer.workbook import problem_from_sheets, read_problem, read_sheets

DEMO = Path(__file__).resolve().parents[1] / "inputs" / "demo.xlsx"


def typed(frame: pd.DataFrame) -> dict[str, list]:
    """Each column's cells as Python values (NaN and NA shown as None), for exact comparisons."""
    def plain(value):
        if value is pd.NA or value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        return value

    return {column: [plain(v) for v in frame[column].tolist()] for column in frame.columns}


def raw(**columns) -> pd.DataFrame:
    """A sheet as `read_sheets` gives it: object columns, values as Excel typed them."""
    return pd.DataFrame(columns, dtype=object)


def demo_sheets() -> dict[str, pd.DataFrame]:
    return editable_sheets(read_sheets(DEMO.read_bytes(), DEMO.name))


# --- typing a sheet for a grid ----------------------------------------------------------------


def test_a_number_column_whose_values_are_all_numbers_becomes_float():
    grid = editable(raw(site_id=["S1", "S2", "S3"], annual_cost=[770000, 560000.5, None]), "sites")
    assert str(grid["annual_cost"].dtype) == "float64"
    assert typed(grid)["annual_cost"] == [770000.0, 560000.5, None]


def test_one_bad_value_keeps_the_whole_number_column_as_text_with_the_bad_value_as_typed():
    grid = editable(raw(area_id=["a", "b", "c"], population=[98084, "12 000", 5.5]), "areas")
    assert str(grid["population"].dtype) == "string"
    assert typed(grid)["population"] == ["98084", "12 000", "5.5"]
    grid = editable(raw(agency_id=["SKV", "FK"], visits_per_staff=[4200, "59,3"]), "agencies")
    assert typed(grid)["visits_per_staff"] == ["4200", "59,3"]


def test_ids_typed_as_numbers_become_text_without_a_decimal_point():
    grid = editable(raw(area_id=[7.0, 1780, "x"], population=[1, 2, 3]), "areas")
    assert str(grid["area_id"].dtype) == "string"
    assert typed(grid)["area_id"] == ["7", "1780", "x"]


def test_flags_become_true_or_false_in_capitals():
    grid = editable(raw(key=["staff_integer", "other"], value=[True, False]), "settings")
    assert typed(grid)["value"] == ["TRUE", "FALSE"]


def test_blank_cells_stay_blank_in_number_and_text_columns():
    grid = editable(raw(site_id=["S1", None, "S3"], name=["x", "  ", None], desks=[None, 20, float("nan")]), "sites")
    assert typed(grid) == {"site_id": ["S1", None, "S3"], "name": ["x", None, None], "desks": [None, 20.0, None]}


def test_settings_values_are_text_since_each_row_holds_a_different_kind():
    grid = editable(raw(key=["max_distance_km", "mip_gap", "objective"], value=[50, 0.0001, "cost"]), "settings")
    assert typed(grid)["value"] == ["50", "0.0001", "cost"]


def test_columns_not_in_the_schema_stay_text():
    grid = editable(raw(site_id=["S1"], notes=[12.0]), "sites")
    assert typed(grid) == {"site_id": ["S1"], "notes": ["12"]}


# --- a grid's edits ----------------------------------------------------------------------------


def sites_grid() -> pd.DataFrame:
    return editable(
        raw(site_id=["S1", "S2", "S3"], status=["existing", "existing", "candidate"],
            annual_cost=[100, 200, 300], desks=[10, 20, None]),
        "sites",
    )


def test_edited_cells_are_set_at_their_row_positions():
    edited = apply_edits(sites_grid(), {"edited_rows": {0: {"annual_cost": 150.0}, "2": {"desks": 5}}})
    assert typed(edited) == {
        "site_id": ["S1", "S2", "S3"],
        "status": ["existing", "existing", "candidate"],
        "annual_cost": [150.0, 200.0, 300.0],
        "desks": [10.0, 20.0, 5.0],
    }


def test_added_rows_are_appended_with_missing_cells_blank():
    edited = apply_edits(sites_grid(), {"added_rows": [{"site_id": "C9", "status": "candidate", "annual_cost": 400}]})
    assert typed(edited) == {
        "site_id": ["S1", "S2", "S3", "C9"],
        "status": ["existing", "existing", "candidate", "candidate"],
        "annual_cost": [100.0, 200.0, 300.0, 400.0],
        "desks": [10.0, 20.0, None, None],
    }
    assert str(edited["annual_cost"].dtype) == "float64"


def test_deleted_rows_go_last_so_every_position_means_the_row_as_shown():
    edits = {
        "edited_rows": {2: {"annual_cost": 333.0}},
        "added_rows": [{"site_id": "C9", "status": "candidate"}],
        "deleted_rows": [1, 0],
    }
    edited = apply_edits(sites_grid(), edits)
    assert typed(edited) == {
        "site_id": ["S3", "C9"],
        "status": ["candidate", "candidate"],
        "annual_cost": [333.0, None],
        "desks": [None, None],
    }
    assert list(edited.index) == [2, 3]  # renumbered as Excel rows


def test_a_cleared_cell_becomes_blank():
    edited = apply_edits(sites_grid(), {"edited_rows": {1: {"annual_cost": None, "status": ""}}})
    assert typed(edited)["annual_cost"] == [100.0, None, 300.0]
    assert typed(edited)["status"] == ["existing", None, "candidate"]


def test_text_typed_into_a_number_column_turns_it_into_text_keeping_every_value():
    edited = apply_edits(sites_grid(), {"edited_rows": {1: {"annual_cost": "12 000"}}})
    assert str(edited["annual_cost"].dtype) == "string"
    assert typed(edited)["annual_cost"] == ["100", "12 000", "300"]
    assert typed(edited)["desks"] == [10.0, 20.0, None]


def test_a_number_typed_as_text_into_a_number_column_stays_a_number():
    edited = apply_edits(sites_grid(), {"edited_rows": {1: {"annual_cost": "250"}}})
    assert str(edited["annual_cost"].dtype) == "float64"
    assert typed(edited)["annual_cost"] == [100.0, 250.0, 300.0]


def test_text_typed_into_a_number_column_of_an_added_row_turns_it_into_text():
    edited = apply_edits(sites_grid(), {"added_rows": [{"site_id": "C9", "annual_cost": "1,5"}]})
    assert typed(edited)["annual_cost"] == ["100", "200", "300", "1,5"]


def test_the_frame_given_is_not_changed():
    grid = sites_grid()
    apply_edits(grid, {"edited_rows": {0: {"annual_cost": "x"}}, "deleted_rows": [2]})
    assert typed(grid) == typed(sites_grid())


# --- the levers ---------------------------------------------------------------------------------


def test_a_setting_is_read_as_it_is_in_the_sheet_and_none_when_blank_or_absent():
    sheets = demo_sheets()
    assert setting(sheets, "budget_annual") == "11000000"
    assert setting(sheets, "staff_integer") == "TRUE"
    assert setting(sheets, "min_offices") is None
    assert setting(with_setting(sheets, "budget_annual", None), "budget_annual") is None
    assert setting({}, "budget_annual") is None


def test_changing_an_existing_setting_writes_its_one_cell():
    sheets = demo_sheets()
    changed = with_setting(sheets, "budget_annual", 1234567.0)
    before, after = sheets["settings"], changed["settings"]
    assert len(after) == len(before) == 11
    assert after.at[4, "key"] == "budget_annual" and after.at[4, "value"] == "1234567"  # Excel row 4
    assert after.drop(index=4).equals(before.drop(index=4))
    assert setting(sheets, "budget_annual") == "11000000"  # the sheets given are not changed
    assert problem_from_sheets(changed).settings.budget_annual == 1234567.0


def test_a_setting_the_sheet_lacks_is_appended_as_a_row():
    changed = with_setting(demo_sheets(), "max_offices", 2)
    last = changed["settings"].iloc[-1]
    assert len(changed["settings"]) == 12
    assert (last["key"], last["value"]) == ("max_offices", "2")
    assert last["description"] is pd.NA
    assert problem_from_sheets(changed).settings.max_offices == 2


def test_an_agency_limit_is_written_into_its_row_and_cleared_with_none():
    sheets = demo_sheets()
    limited = with_agency_limit(sheets, "FK", 30.0)
    assert typed(limited["agencies"])["max_distance_km"] == [None, 30.0]
    problem = problem_from_sheets(limited)
    assert [a.max_distance_km for a in problem.agencies] == [None, 30.0]
    cleared = with_agency_limit(limited, "FK", None)
    assert typed(cleared["agencies"])["max_distance_km"] == [None, None]


def test_a_site_is_locked_and_unlocked_in_its_force_cell():
    sheets = demo_sheets()
    closed = with_force(sheets, "S2", "closed")
    assert typed(closed["sites"])["force"] == [None, "closed", None, None, None]
    assert [s.force for s in problem_from_sheets(closed).sites] == [None, "closed", None, None, None]
    free = with_force(closed, "S2", None)
    assert typed(free["sites"])["force"] == [None] * 5
    assert problem_from_sheets(free).sites == read_problem(DEMO).sites


def test_a_cell_of_an_unknown_record_raises_keyerror_naming_the_sheet():
    with pytest.raises(KeyError, match="no row with site_id 'S9' in sheet 'sites'"):
        with_force(demo_sheets(), "S9", "open")
    with pytest.raises(KeyError, match="no row with agency_id 'PM' in sheet 'agencies'"):
        with_agency_limit(demo_sheets(), "PM", 10.0)


def test_a_cell_in_a_column_the_sheet_lacks_adds_the_column():
    sheets = {**demo_sheets(), "sites": demo_sheets()["sites"].drop(columns=["force"])}
    locked = with_cell(sheets, "sites", "C1", "force", "open")
    assert typed(locked["sites"])["force"] == [None, None, None, "open", None]


# --- round trip and problems ----------------------------------------------------------------------


def test_the_demo_survives_the_grid_and_the_download_unchanged():
    sheets = editable_sheets(read_sheets(DEMO.read_bytes(), DEMO.name))
    again = problem_from_sheets(read_sheets(workbook_bytes(sheets), "download.xlsx"))
    expected = read_problem(DEMO)
    assert expected.source is not None and again.source is None
    assert again == dataclasses.replace(expected, source=None)


def test_a_bad_cell_is_reported_at_its_sheet_excel_row_and_column():
    sheets = demo_sheets()
    edited = {**sheets, "sites": apply_edits(sheets["sites"], {"edited_rows": {3: {"annual_cost": "630 000"}}})}
    with pytest.raises(InputError) as caught:
        problem_from_sheets(edited)
    assert caught.value.problems == [
        InputProblem(
            "sites", 5, "annual_cost",
            "must be a number of at least 0 (got '630 000'): type a plain number with a decimal point "
            "and no spaces or thousands separators, such as 1200.5",
        )
    ]


def test_problems_in_several_sheets_come_in_workbook_order_and_as_small_tables():
    sheets = demo_sheets()
    edited = {
        **sheets,
        "agencies": apply_edits(sheets["agencies"], {"edited_rows": {1: {"visits_per_staff": "59,3"}}}),
        "settings": with_setting(sheets, "mip_gap", "abc")["settings"],
    }
    with pytest.raises(InputError) as caught:
        problem_from_sheets(edited)
    settings_problem = InputProblem("settings", 12, "value",
                                    "mip_gap must be a number of at least 0 and less than 1 (got 'abc')")
    agencies_problem = InputProblem(
        "agencies", 3, "visits_per_staff",
        "must be a number greater than 0 (got '59,3'): type a plain number with a decimal point "
        "and no spaces or thousands separators, such as 1200.5",
    )
    assert caught.value.problems == [settings_problem, agencies_problem]
    assert problems_by_sheet(caught.value) == {"settings": [settings_problem], "agencies": [agencies_problem]}
    table = problem_rows(caught.value.problems)
    assert list(table.columns) == ["row", "column", "problem"]
    assert str(table["row"].dtype) == "Int64"
    assert table.to_dict("records") == [
        {"row": 12, "column": "value", "problem": settings_problem.message},
        {"row": 3, "column": "visits_per_staff", "problem": agencies_problem.message},
    ]


def test_a_problem_without_a_row_shows_a_blank_row_number():
    sheets = demo_sheets()
    with pytest.raises(InputError) as caught:
        problem_from_sheets({**sheets, "sites": sheets["sites"].drop(columns=["status"])})
    table = problem_rows(caught.value.problems)
    assert table.at[0, "row"] is pd.NA
    assert table.at[0, "column"] == "status"
    assert table.at[0, "problem"].startswith("the required column is missing: add the header 'status' to row 1")


def test_row_numbers_after_deleting_a_row_are_those_of_the_downloaded_workbook():
    sheets = demo_sheets()
    edited = apply_edits(sheets["areas"], {"deleted_rows": [0], "edited_rows": {2: {"population": "11 520"}}})
    with pytest.raises(InputError) as caught:
        problem_from_sheets({**sheets, "areas": edited})
    (problem,) = caught.value.problems
    assert (problem.sheet, problem.row, problem.column) == ("areas", 3, "population")
    # Row 3 of the downloaded workbook is the one with the bad value.
    downloaded = read_sheets(workbook_bytes({**sheets, "areas": edited}), "download.xlsx")
    assert downloaded["areas"].at[3 - 2, "population"] == "11 520"
