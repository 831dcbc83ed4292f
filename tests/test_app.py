"""The app's flows, run by Streamlit's own AppTest: what a planner sees after each step.

Each test drives the real page script with a real solve in the session's worker process,
and checks the figures shown against the engine run directly on the same inputs.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from optimizer.figures_format import format_short, format_short_change, format_value
from optimizer.input_tables import apply_edits, editable_sheets, setting, with_setting, workbook_bytes
from optimizer.pipeline import plan, prepare
from optimizer.workbook import problem_from_sheets, read_problem, read_sheets

APP = str(Path(__file__).resolve().parents[1] / "app.py")
DEMO = Path(__file__).resolve().parents[1] / "inputs" / "demo.xlsx"


@pytest.fixture
def at(tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("OFFICEPLAN_STORE", str(tmp_path / "scenarios.sqlite"))
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    yield app
    app.session_state.solver.close()


def demo(at: AppTest) -> AppTest:
    return at.sidebar.radio(key="source").set_value("Demo (6 areas)").run()


def solved(at: AppTest, timeout_s: float = 90) -> AppTest:
    at.button(key="solve").click().run()
    deadline = time.monotonic() + timeout_s
    while at.session_state.solver.running and time.monotonic() < deadline:
        time.sleep(0.3)
        at.run()
    assert not at.session_state.solver.running, "the solve did not finish"
    return at.run()


def lever(at: AppTest, label: str):
    (found,) = [n for n in at.number_input if n.label == label]
    return found


def three_offices(at: AppTest) -> AppTest:
    """The demo with at least three offices, and the annual budget raised to pay for them."""
    lever(at, "Min offices").set_value(3).run()
    return lever(at, "Annual budget (kr/year)").set_value(20e6).run()


def metric(at: AppTest, label: str):
    (found,) = [m for m in at.metric if m.label == label]
    return found


def test_the_page_opens_on_the_swedish_sample_with_its_levers(at):
    assert not at.exception
    assert at.session_state.source_name == "sweden.xlsx"
    assert lever(at, "Annual budget (kr/year)").value == 780_000_000
    assert {"Plan", "Inputs", "Saved plans"} <= {t.label for t in at.tabs}
    grids = {e.key.split("-")[1] for e in at.data_editor}
    assert {"settings", "agencies", "areas", "sites"} <= grids


def test_solving_shows_the_engines_figures_against_today(at):
    demo(at)
    solved(at)
    expected = plan(prepare(read_problem(DEMO)))
    assert not at.exception
    assert at.success[0].value.startswith("**Optimal.**")
    shown = metric(at, "Annual cost")
    assert shown.value == format_short(expected.figures["annual cost"], "kr/year")
    assert shown.delta == format_short_change(expected.figures["annual cost"], expected.today["annual cost"], "kr/year")
    assert shown.help == (f"{format_value(expected.figures['annual cost'], 'kr/year')}; "
                          f"today {format_value(expected.today['annual cost'], 'kr/year')}")
    assert metric(at, "Offices operating").value == format_value(expected.figures["offices operating"], "count")
    assert metric(at, "Staff").value == format_value(expected.figures["staff"], "staff")


def test_a_budget_too_small_is_explained_not_crashed(at):
    demo(at)
    lever(at, "Annual budget (kr/year)").set_value(1_000.0).run()
    assert at.session_state.sheets["settings"].set_index("key").at["budget_annual", "value"] == "1000"
    solved(at)
    assert not at.exception
    assert "No plan fits the budgets" in at.error[0].value
    assert "cheapest annual cost" in at.error[0].value


def test_moving_the_budget_re_solves_to_the_engines_plan(at):
    demo(at)
    solved(at)
    first = metric(at, "Annual cost").value
    problem = read_problem(DEMO)
    three_offices(at)
    solved(at)
    expected = plan(prepare(problem.with_settings(min_offices=3, budget_annual=20e6)))
    assert metric(at, "Offices operating").value == "3"
    assert metric(at, "Annual cost").value == format_short(expected.figures["annual cost"], "kr/year")
    assert metric(at, "Annual cost").value != first


def test_a_bad_cell_is_shown_at_its_sheet_row_and_column_and_kept_for_fixing(at):
    # An uploaded workbook with thousands separators typed in a population cell (Excel row 2).
    sheets = read_sheets(DEMO.read_bytes(), DEMO.name)
    sheets["areas"].at[0, "population"] = "12 000"
    at.session_state.sheets = editable_sheets(read_sheets(workbook_bytes(sheets), "upload.xlsx"))
    at.session_state.version += 1
    at.run()
    assert not at.exception
    assert "1 problem(s)" in at.error[0].value
    problems = [d.value for d in at.dataframe if list(d.value.columns) == ["row", "column", "problem"]][0]
    assert problems.iloc[0]["row"] == 2 and problems.iloc[0]["column"] == "population"
    assert "plain number" in problems.iloc[0]["problem"]
    assert not any(b.key == "solve" for b in at.button)
    # What the user typed is still there to fix, and fixing it in the grid brings the plan back.
    areas = at.session_state.sheets["areas"]
    assert areas.at[2, "population"] == "12 000"  # labelled by its Excel row
    at.session_state.sheets = {**at.session_state.sheets,
                               "areas": apply_edits(areas, {"edited_rows": {0: {"population": "12000"}}})}
    at.session_state.version += 1
    at.run()
    assert not at.error
    assert any(b.key == "solve" for b in at.button)


def test_saved_plans_survive_and_compare_side_by_side(at, tmp_path):
    demo(at)
    solved(at)
    at.text_input(key="save-name").set_value("Demo as is")
    at.button(key="FormSubmitter:save-plan-Save plan").click().run()
    assert "Saved as “Demo as is”." in [i.value for i in at.info]
    three_offices(at)
    solved(at)
    at.text_input(key="save-name").set_value("Three offices")
    at.button(key="FormSubmitter:save-plan-Save plan").click().run()
    at.multiselect(key="compare").set_value(["Demo as is", "Three offices"]).run()
    assert not at.exception
    side = [d.value for d in at.dataframe if "figure" in d.value.columns][0]
    row = side.set_index("figure").loc["Offices operating"]
    assert (row["Demo as is"], row["Three offices"], row["Three offices vs Demo as is"]) == ("2", "3", "+1")
    # A new session on the same store file sees both plans.
    again = AppTest.from_file(APP, default_timeout=60)
    again.run()
    listing = [d.value for d in again.dataframe if "saved_at" in d.value.columns][0]
    assert list(listing["name"]) == ["Three offices", "Demo as is"]
    again.session_state.solver.close()


def test_two_sessions_keep_their_own_inputs(at, tmp_path):
    other = AppTest.from_file(APP, default_timeout=60)
    other.run()
    demo(at)
    lever(at, "Max offices").set_value(2).run()
    assert setting(at.session_state.sheets, "max_offices") == "2"
    assert other.session_state.source_name == "sweden.xlsx"
    assert setting(other.session_state.sheets, "max_offices") is None
    other.session_state.solver.close()


def test_the_levers_write_into_the_sheets_that_are_downloaded():
    problem = read_problem(DEMO)
    sheets = editable_sheets(read_sheets(DEMO.read_bytes(), DEMO.name))
    changed = with_setting(sheets, "budget_annual", 1234567.0)
    data = workbook_bytes(changed)
    again = problem_from_sheets(read_sheets(data, "download.xlsx"))
    assert again.settings.budget_annual == 1234567.0
    assert again.sites == problem.sites and again.areas == problem.areas


def test_a_long_solve_shows_its_progress_and_stops_with_the_best_plan(at):
    at.session_state.sheets = with_setting(at.session_state.sheets, "mip_gap", 1e-7)  # the Swedish sample, proven to the last krona
    at.session_state.version += 1
    at.run()
    at.button(key="solve").click().run()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
        shown = [i.value for i in at.info if i.value.startswith("Solving…")]
        if shown and "best plan" in shown[0] and "bound" in shown[0]:
            break
    assert shown and "best plan" in shown[0] and "gap" in shown[0], shown
    at.button(key="stop").click().run()
    while at.session_state.solver.running and time.monotonic() < deadline + 30:
        time.sleep(0.3)
        at.run()
    at.run()
    assert at.warning[0].value.startswith("**Feasible.** You stopped the search; this is the best plan found (gap")
    assert metric(at, "Offices operating").value != "–"
