"""The plan store: what is saved comes back exactly, names behave, and sessions can share the file.

The plans are real HiGHS solves of a tiny network (the pair of test_plan.py): s1 and s2 are
5.56 km apart, each area lives at one of them.  In coverage mode with a 3 km limit and one
office allowed, the plan keeps s2 (3,000 people), merges s1 into it and leaves a1 uncovered
(NaN distances in the areas table); PM has no demand, so its distance figures are NaN.
"""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
import threading
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.instance import build_instance
from optimizer.pipeline import plan as run_plan
from optimizer.plan import Plan
from optimizer.scenarios import (
    DEFAULT_STORE,
    NameTaken,
    SavedPlan,
    ScenarioStore,
    StoreError,
    default_store_path,
)
from optimizer.solve import Solution
from optimizer.workbook import problem_tables
from tiny import agency, area, problem, site

S1, S2, FAR = (60.0, 15.0), (60.05, 15.0), (61.0, 15.0)


def network(**settings):
    agencies = [agency("FK"), agency("SKV"), agency("PM", visits_per_capita=0.0)]
    areas = [area("a1", 1000, *S1, region="Värmland"), area("a2", 3000, *S2)]
    sites = [
        site("s1", "existing", *S1, annual_cost=500.0, close_cost=40.0, agencies_now=("FK", "SKV")),
        site("s2", "existing", *S2, annual_cost=300.0, agencies_now=("FK", "SKV")),
        site("c3", "candidate", *FAR, annual_cost=10_000.0, force="closed"),
    ]
    return problem(agencies, areas, sites, **settings)


COVERAGE = dict(objective="coverage", max_distance_km=3.0, max_offices=1)
# Today's network costs 800 a year in sites alone.
OVER_BUDGET = dict(max_distance_km=50.0, budget_annual=100.0)


@pytest.fixture(scope="module")
def solved() -> tuple[dict[str, pd.DataFrame], Plan]:
    p = network(**COVERAGE)
    return problem_tables(p), run_plan(build_instance(p), with_today=True)


@pytest.fixture(scope="module")
def infeasible() -> tuple[dict[str, pd.DataFrame], Plan]:
    p = network(**OVER_BUDGET)
    return problem_tables(p), run_plan(build_instance(p), with_today=True)


@pytest.fixture
def store(tmp_path) -> ScenarioStore:
    return ScenarioStore(tmp_path / "store" / "plans.sqlite")


# --- comparing ------------------------------------------------------------------------------


def same_value(a, b) -> bool:
    """Equal and of the same type; NaN equals NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def assert_same_mapping(back, original):
    if original is None:
        assert back is None
        return
    assert list(back) == list(original)
    for key, value in original.items():
        assert same_value(back[key], value), (key, back[key], value)


def assert_same_array(back, original):
    if original is None:
        assert back is None
        return
    assert back.dtype == original.dtype and back.shape == original.shape
    np.testing.assert_array_equal(back, original)


def assert_same_plan(back: Plan, plan: Plan):
    assert (back.status, back.message, back.today_message) == (plan.status, plan.message, plan.today_message)
    assert_same_mapping(back.figures, plan.figures)
    assert_same_mapping(back.today, plan.today)
    assert_same_mapping(back.timings, plan.timings)
    for name in ("sites", "assignments", "areas", "changes"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(plan, name), check_exact=True)
    b, s = back.solution, plan.solution
    for field in ("status", "message", "objective", "bound", "mip_gap", "seconds", "diagnosis", "build_seconds"):
        assert same_value(getattr(b, field), getattr(s, field)), field
    for array in ("y", "z", "n", "x"):
        assert_same_array(getattr(b, array), getattr(s, array))


def assert_same_inputs(back: dict[str, pd.DataFrame], inputs: dict[str, pd.DataFrame]):
    assert list(back) == list(inputs)
    for sheet, frame in inputs.items():
        pd.testing.assert_frame_equal(back[sheet], frame, check_exact=True)
        for column in frame.columns:  # object columns: ints stay ints, bools bools, None None
            assert [type(v) for v in back[sheet][column]] == [type(v) for v in frame[column]], (sheet, column)


# --- round trips ----------------------------------------------------------------------------


def test_a_solved_plan_reads_back_exactly(store, solved):
    inputs, plan = solved
    assert plan.status == "optimal" and plan.today is not None and plan.timings
    # The features the round trip must carry: a merge, an uncovered area, NaN figures.
    assert plan.sites.set_index("site_id").loc["s1", "action"] == "merge"
    assert plan.areas.distance_km.isna().any()
    assert math.isnan(plan.figures["mean distance km: PM"])
    saved = store.save("Coverage, one office", inputs, plan)
    back = store.load("Coverage, one office")
    assert isinstance(back, SavedPlan)
    assert (back.name, back.saved_at) == (saved.name, saved.saved_at)
    assert_same_plan(back.plan, plan)
    assert_same_inputs(back.inputs, inputs)


def test_a_plan_without_a_solution_reads_back_exactly(store, infeasible):
    inputs, plan = infeasible
    assert plan.status == "infeasible" and plan.solution.y is None and plan.sites.empty
    assert plan.solution.diagnosis and plan.today is not None
    store.save("over budget", inputs, plan)
    back = store.load("over budget")
    assert_same_plan(back.plan, plan)
    assert_same_inputs(back.inputs, inputs)


def test_inputs_keep_their_values_types_and_order(store, solved):
    inputs = {
        "sites": pd.DataFrame(
            {
                "site_id": ["S1", "S2", "S3"],
                "desks": [28, None, 3.5],
                "open": [True, False, None],
                "note": ["Malmö", "", float("nan")],
                "big": [2**62, -1, 0],
            },
            dtype=object,
        ),
        "settings": pd.DataFrame({"key": ["staff_integer", "min_offices"], "value": [True, 3]}, dtype=object),
        "empty": pd.DataFrame(columns=["area_id", "visits"], dtype=object),
        "typed": pd.DataFrame({"km": [1.5, np.nan, -0.0], "n": [1, 2, 3], "flag": [True, False, True]}),
        # What an editing widget may hand back: rows deleted, pandas' own missing value and dtypes.
        "edited": pd.DataFrame(
            {
                "area_id": pd.array(["a", None, "c"], dtype="string"),
                "name": pd.array(["x", None, "z"], dtype="str"),
                "visits": pd.array([1, None, 3], dtype="Int64"),
                "ok": pd.array([True, None, False], dtype="boolean"),
                "anything": pd.Series([pd.NA, 1, "b"], dtype=object),
            },
            index=pd.Index([0, 2, 5], name="row"),
        ),
    }
    store.save("inputs", inputs, solved[1])
    back = store.load("inputs").inputs
    assert_same_inputs(back, inputs)
    assert back["sites"].loc[0, "desks"] == 28 and type(back["sites"].loc[0, "desks"]) is int
    assert back["sites"].loc[1, "desks"] is None and back["sites"].loc[2, "open"] is None
    assert math.copysign(1.0, back["typed"].loc[2, "km"]) == -1.0
    assert back["edited"].loc[0, "anything"] is pd.NA and list(back["edited"].index) == [0, 2, 5]


def test_a_value_json_cannot_hold_is_refused_and_nothing_is_saved(store, solved):
    inputs = {"sites": pd.DataFrame({"opened": [dt.datetime(2024, 1, 1)]}, dtype=object)}
    with pytest.raises(TypeError, match="sheet 'sites', column 'opened'.*datetime"):
        store.save("dated", inputs, solved[1])
    assert len(store) == 0


# --- names ----------------------------------------------------------------------------------


def test_plans_are_listed_newest_first_with_their_headline_figures(store, solved, infeasible):
    store.save("first", *solved)
    store.save("second", *infeasible)
    store.save("third", *solved)
    table = store.list()
    assert list(table.name) == ["third", "second", "first"] == store.names()
    assert list(table.columns) == [
        "name", "saved_at", "status", "objective", "annual_cost", "offices_operating", "staff"
    ]
    figures = solved[1].figures
    third = table.set_index("name").loc["third"]
    assert third.status == "optimal"
    assert third.objective == figures["objective"] and third.annual_cost == figures["annual cost"]
    assert third.offices_operating == figures["offices operating"] == 1
    assert third.staff == figures["staff"]
    second = table.set_index("name").loc["second"]
    assert second.status == "infeasible" and pd.isna(second.objective) and pd.isna(second.offices_operating)
    saved_at = pd.to_datetime(table.saved_at, format="ISO8601")
    assert saved_at.is_monotonic_decreasing and str(saved_at.dt.tz) == "UTC"


def test_a_taken_name_is_refused_unless_replaced(store, solved, infeasible):
    first = store.save("plan A", *solved)
    with pytest.raises(NameTaken, match="'plan A' is already saved") as taken:
        store.save("plan A", *infeasible)
    assert isinstance(taken.value, ValueError)
    assert store.load("plan A").plan.status == "optimal"
    store.save("plan B", *solved)
    replaced = store.save("plan A", *infeasible, replace=True)
    assert replaced.saved_at > first.saved_at
    assert store.load("plan A").plan.status == "infeasible"
    assert store.names() == ["plan A", "plan B"]  # a replaced plan is the newest


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_a_blank_name_is_refused(store, solved, name):
    with pytest.raises(ValueError, match="blank"):
        store.save(name, *solved)
    assert len(store) == 0


def test_surrounding_blanks_are_not_part_of_a_name(store, solved):
    store.save("  plan A ", *solved)
    assert store.names() == ["plan A"] and "plan A " in store
    assert store.load(" plan A").name == "plan A"
    with pytest.raises(NameTaken):
        store.save("plan A", *solved)


def test_loading_an_unknown_name_says_which_plans_there_are(store, solved):
    with pytest.raises(KeyError, match="No plan named 'nope'.*no plans are saved yet"):
        store.load("nope")
    store.save("plan A", *solved)
    with pytest.raises(KeyError) as unknown:
        store.load("plan a")
    assert unknown.value.args[0] == f"No plan named 'plan a' is saved in {store.path}; saved plans: 'plan A'."


def test_a_deleted_plan_is_gone_and_the_others_stay(store, solved):
    store.save("plan A", *solved)
    store.save("plan B", *solved)
    store.delete("plan A")
    assert store.names() == ["plan B"] and "plan A" not in store
    with pytest.raises(KeyError, match="'plan A'"):
        store.load("plan A")
    with pytest.raises(KeyError, match="'plan A'"):
        store.delete("plan A")
    store.save("plan A", *solved)  # the name is free again


def test_compare_puts_the_figures_of_plans_side_by_side(store, solved, infeasible):
    store.save("covered", *solved)
    store.save("failed", *infeasible)
    table = store.compare(["failed", "covered"])
    assert list(table.columns) == ["failed", "covered"]
    assert list(table.index) == list(solved[1].figures)
    assert table.loc["staff", "covered"] == solved[1].figures["staff"]
    assert table.failed.isna().all()
    with pytest.raises(KeyError, match="'ghost'"):
        store.compare(["covered", "ghost"])


# --- the file ---------------------------------------------------------------------------------


def test_the_store_survives_reopening(tmp_path, solved):
    path = tmp_path / "plans.sqlite"
    ScenarioStore(path).save("kept", *solved)
    again = ScenarioStore(path)
    assert again.names() == ["kept"]
    assert_same_plan(again.load("kept").plan, solved[1])
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1


def test_two_threads_saving_at_once_both_land(tmp_path, solved):
    path = tmp_path / "plans.sqlite"
    shared = ScenarioStore(path)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def saver(prefix: str, store: ScenarioStore) -> None:
        try:
            start.wait()
            for k in range(5):
                store.save(f"{prefix} {k}", *solved)
        except BaseException as error:  # an exception in a thread is otherwise lost
            errors.append(error)

    threads = [
        threading.Thread(target=saver, args=("shared", shared)),
        threading.Thread(target=saver, args=("own", ScenarioStore(path))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(shared.names()) == sorted([f"shared {k}" for k in range(5)] + [f"own {k}" for k in range(5)])
    assert_same_plan(shared.load("own 4").plan, solved[1])


def test_the_file_and_its_folder_are_created(tmp_path):
    path = tmp_path / "a" / "b" / "plans.sqlite"
    ScenarioStore(path)
    assert path.is_file()


def test_a_file_that_is_not_a_store_is_refused(tmp_path):
    text = tmp_path / "notes.sqlite"
    text.write_text("not a database at all, just some words that are long enough to have a header" * 10)
    with pytest.raises(StoreError, match="cannot be used as a plan store"):
        ScenarioStore(text)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (a)")
    with pytest.raises(StoreError, match="not an officeplan plan store"):
        ScenarioStore(other)


def test_a_store_from_a_newer_officeplan_is_refused(tmp_path):
    path = tmp_path / "plans.sqlite"
    ScenarioStore(path)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer officeplan"):
        ScenarioStore(path)


def test_the_store_path_comes_from_OFFICEPLAN_STORE(tmp_path, monkeypatch, solved):
    target = tmp_path / "elsewhere" / "team.sqlite"
    monkeypatch.setenv("OFFICEPLAN_STORE", str(target))
    assert default_store_path() == target
    ScenarioStore(default_store_path()).save("shared", *solved)
    assert ScenarioStore(target).names() == ["shared"]


def test_without_OFFICEPLAN_STORE_plans_go_next_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("OFFICEPLAN_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_store_path() == DEFAULT_STORE == Path("plans/scenarios.sqlite")
    ScenarioStore(default_store_path())
    assert (tmp_path / "plans" / "scenarios.sqlite").is_file()


def test_the_store_knows_every_field_of_a_plan_and_a_solution():
    # A field added to Plan or Solution is silently lost on save until the store learns it.
    assert [f.name for f in fields(Plan)] == [
        "status", "message", "solution", "figures", "today", "today_message",
        "sites", "assignments", "areas", "changes", "timings",
    ]
    assert [f.name for f in fields(Solution)] == [
        "status", "message", "objective", "bound", "mip_gap", "y", "z", "n", "x",
        "seconds", "diagnosis", "build_seconds",
    ]
