"""A session's solver in a worker process of its own: the same plans as the engine run directly,
re-use between solves, progress while HiGHS works, stop, faults, and no process left behind.

Every test here runs real worker processes.  Each solver is closed by the `solver` fixture,
which then checks that the worker, and the process it prices today's network in, are gone.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from optimizer import background
from optimizer.background import BackgroundSolver, Progress
from optimizer.pipeline import plan, prepare
from optimizer.plan import Plan
from optimizer.solve import Start
from optimizer.workbook import read_problem

from tiny import agency, area, problem, site

INPUTS = Path(__file__).resolve().parents[1] / "inputs"
DEMO, SWEDEN = INPUTS / "demo.xlsx", INPUTS / "sweden.xlsx"

S1, S2, FAR = (60.0, 15.0), (60.05, 15.0), (61.0, 15.0)
SITE_COLUMNS = ["site_id", "action", "merged_into", "agencies_after", "staff"]


def tiny_pair():
    """s2 is cheaper than s1, 5.57 km away: the plan keeps s2 and merges s1 into it."""
    return problem(
        [agency("FK"), agency("SKV")],
        [area("a1", 1000, *S1), area("a2", 3000, *S2)],
        [
            site("s1", "existing", *S1, annual_cost=500.0, close_cost=40.0, agencies_now=("FK", "SKV")),
            site("s2", "existing", *S2, annual_cost=300.0, agencies_now=("FK", "SKV")),
            site("c3", "candidate", *FAR, annual_cost=10_000.0),
        ],
        max_distance_km=50.0,
    )


def a_hard_sweden():
    """The Swedish sample asked for a near-proof of optimality: a search that runs for minutes."""
    return read_problem(SWEDEN).with_settings(mip_gap=1e-6, time_limit_s=600.0)


def alive(pid: int) -> bool:
    """Whether the process exists and has not ended (a zombie has ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent == pid:
                found.append(int(entry))
    return found


def descendants(pid: int) -> list[int]:
    """The process's children, theirs, and so on (pricing runs in a child of the worker's forkserver)."""
    found = children(pid)
    return found + [d for child in found for d in descendants(child)]


def worker_pid(solver: BackgroundSolver) -> int:
    assert solver._process is not None and solver._process.pid is not None
    return solver._process.pid


@pytest.fixture
def solver():
    before = set(multiprocessing.active_children())
    solver = BackgroundSolver()
    pids: list[int] = []
    yield solver
    if solver._process is not None:
        pids = [worker_pid(solver), *descendants(worker_pid(solver))]
    solver.close()
    assert set(multiprocessing.active_children()) <= before
    assert ended_soon(pids)


def ended_soon(pids: list[int], within_s: float = 5.0) -> bool:
    """Whether the processes end within a few seconds: the worker's forkserver ends when it sees the worker gone."""
    deadline = time.monotonic() + within_s
    while any(alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def finished(solver: BackgroundSolver, timeout_s: float = 120.0) -> Plan:
    result = solver.wait(timeout_s)
    assert result is not None, f"no plan within {timeout_s} s"
    assert not solver.running and solver.progress is None
    return result


def assert_same_plan(got: Plan, expected: Plan) -> None:
    assert (got.status, got.message) == (expected.status, expected.message)
    assert got.figures == expected.figures
    assert got.today == expected.today and got.today_message == expected.today_message
    pd.testing.assert_frame_equal(got.sites[SITE_COLUMNS], expected.sites[SITE_COLUMNS])


# --- the same plans as the engine --------------------------------------------------------------


def test_a_tiny_plan_from_the_worker_is_the_engines_plan(solver):
    solver.submit(tiny_pair())
    got = finished(solver)
    assert_same_plan(got, plan(prepare(tiny_pair())))
    assert got.status == "optimal" and got.message == "Optimal plan."
    assert got.figures["objective"] == pytest.approx(300 + 800 + 40 / 10)
    assert list(got.sites.action) == ["merge", "keep", "unused"]
    assert set(got.timings) == {"distances", "build", "solve", "today", "plan"}


def test_the_demo_plan_from_the_worker_is_the_engines_plan(solver):
    solver.submit(read_problem(DEMO))
    got = finished(solver)
    assert_same_plan(got, plan(prepare(read_problem(DEMO))))
    assert got.status == "optimal" and got.message == "Optimal plan."
    assert got.figures["objective"] == pytest.approx(13_011_618.807149, rel=1e-9)
    assert got.figures["offices operating"] == 2


def test_a_budget_and_office_count_change_re_solves_from_the_last_plan_with_today_priced_once(solver):
    demo = read_problem(DEMO)
    three = demo.with_settings(min_offices=3, budget_annual=20e6)
    solver.submit(demo)
    first = finished(solver)
    solver.submit(three)
    second = finished(solver)
    # What the worker does, done directly: the table re-used and the last plan as the start.
    direct_first_instance = prepare(demo)
    direct_first = plan(direct_first_instance)
    expected = plan(prepare(three, direct_first_instance.table),
                    start=Start.of(direct_first_instance, direct_first.solution))
    assert_same_plan(second, expected)
    assert (first.figures["offices operating"], second.figures["offices operating"]) == (2, 3)
    # Today's network is not priced again: the same figures, and nothing to wait for.
    assert second.today == first.today
    assert second.timings["today"] < 1.0


@pytest.mark.parametrize("budget_annual", [12e6, 10.6e6], ids=["loose", "too small"])
def test_a_budget_move_answered_in_the_worker_is_the_engines_answer(solver, budget_annual):
    demo = read_problem(DEMO)
    moved = demo.with_settings(budget_annual=budget_annual)
    solver.submit(demo)
    finished(solver)
    solver.submit(moved)
    got = finished(solver)
    expected = plan(prepare(moved))
    assert got.status == expected.status
    if expected.status == "infeasible":  # 10.6 M: no plan also keeps to the one-off budget of 2 M
        assert got.message == expected.message
        assert got.message.startswith("No plan fits the budgets (annual budget, one-off budget).")
    else:  # 12 M does not bind: the plan of the demo as it is
        assert got.figures["one-off cost"] <= demo.settings.budget_one_off
        assert got.figures == pytest.approx(expected.figures, rel=1e-9)
        assert got.figures["objective"] == pytest.approx(13_011_618.807149, rel=1e-9)
        assert list(got.sites.action) == list(expected.sites.action)


def test_the_worker_keeps_the_distance_table_and_todays_pricing_while_they_still_apply():
    worker = background._Worker()
    try:
        demo = read_problem(DEMO)
        first = worker.solve(demo, from_previous=True)
        table, today = worker.table, worker.today[1]
        second = worker.solve(demo.with_settings(budget_annual=20e6, min_offices=3), from_previous=True)
        assert worker.table is table and worker.today[1] is today
        assert worker.previous[1] is second.solution
        assert (first.figures["offices operating"], second.figures["offices operating"]) == (2, 3)
        # A new time limit prices today again; a new circuity computes the distances again.
        worker.solve(demo.with_settings(time_limit_s=30.0), from_previous=True)
        assert worker.table is table and worker.today[1] is not today
        worker.solve(demo.with_settings(circuity_factor=1.3), from_previous=True)
        assert worker.table is not table
    finally:
        worker.pool.shutdown(wait=True, cancel_futures=True)


# --- progress and stop -------------------------------------------------------------------------


def test_stop_keeps_the_best_plan_found_after_showing_progress(solver):
    solver.submit(a_hard_sweden())
    seen: list[Progress] = []
    deadline = time.monotonic() + 180
    early = None
    while time.monotonic() < deadline:
        early = solver.poll(0.25)
        if early is not None:
            break
        seen.append(solver.progress)
        if solver.progress.incumbent is not None and solver.progress.bound is not None:
            break  # HiGHS may report its start before it has a bound
    else:
        pytest.fail("no incumbent and bound within 180 s")
    if early is None:
        solver.stop()
        result = finished(solver, 60)
    else:
        result = early  # HiGHS proved the gap before it was asked to stop
    if result.status == "optimal":
        assert result.message.startswith("Optimal")
    else:
        assert result.status == "feasible"
        assert result.message == (f"You stopped the search; this is the best plan found "
                                  f"(gap {result.solution.mip_gap:.2%}).")
        assert result.solution.mip_gap > 1e-6
    assert result.figures["offices operating"] > 0
    seconds = [p.seconds for p in seen]
    assert seconds == sorted(seconds) and seconds[-1] > seconds[0]
    with_both = [p for p in seen if p.incumbent is not None and p.bound is not None]
    assert with_both, "progress never showed an incumbent and a bound"
    for p in with_both:
        assert p.bound <= p.incumbent
        assert p.gap == pytest.approx((p.incumbent - p.bound) / p.incumbent)


def test_a_stop_asked_right_after_submit_still_stops_the_search(solver):
    solver.submit(a_hard_sweden())
    solver.stop()
    deadline = time.monotonic() + 60
    result = None
    while result is None and time.monotonic() < deadline:
        result = solver.poll(0.25)
    assert result is not None
    assert result.message.startswith("You stopped the search")


def test_a_second_submit_while_running_is_refused_and_an_idle_poll_is_none(solver):
    assert solver.poll() is None and not solver.running
    solver.submit(read_problem(DEMO))
    assert solver.running
    with pytest.raises(RuntimeError, match="a solve is already running: stop it or wait for it"):
        solver.submit(read_problem(DEMO))
    assert finished(solver).status == "optimal"
    assert solver.poll() is None and solver.poll(0.1) is None


# --- faults and closing ------------------------------------------------------------------------


def test_an_internal_fault_comes_back_as_an_error_plan_and_the_worker_carries_on(solver):
    solver.submit("not a problem")  # type: ignore[arg-type]
    failed = finished(solver)
    assert failed.status == "error"
    assert failed.message.startswith("The solver failed with an internal error (AttributeError: ")
    assert failed.message.endswith("). Please report it with the input workbook.")
    assert failed.figures == {} and failed.sites.empty
    pid = worker_pid(solver)
    solver.submit(tiny_pair())
    assert finished(solver).status == "optimal"
    assert worker_pid(solver) == pid


def test_close_during_a_solve_ends_the_worker_and_its_pricing_process_within_the_grace(solver):
    solver.submit(read_problem(DEMO))
    finished(solver)  # today's network priced: the worker now has a process of its own
    pid = worker_pid(solver)
    pricing = descendants(pid)
    assert len(pricing) == 2  # the worker's forkserver and, forked from it, the pricing process
    solver.submit(a_hard_sweden())
    while solver.progress.seconds < 2.0:
        assert solver.poll(0.25) is None
    started = time.monotonic()
    solver.close()
    assert time.monotonic() - started < background._STOP_GRACE_S
    assert not alive(pid) and ended_soon(pricing)
    assert [p for p in multiprocessing.active_children() if p.pid == pid] == []


def test_after_close_during_a_solve_the_solver_is_idle_and_solves_again(solver):
    solver.submit(a_hard_sweden())
    solver.poll(1.0)
    solver.close()
    assert not solver.running
    solver.submit(tiny_pair())
    assert finished(solver).status == "optimal"
