"""Time every stage of solving the sample workbooks end to end, as `officeplan solve` does.

    python benchmarks/bench_solve.py [WORKBOOK ...]

Prints one row per workbook: status, proven gap, objective and seconds per stage, then
the time of re-solves after the annual budget moves by 5 % either way, re-using the
distances, cold and from the previous plan.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optimizer.pipeline import plan, prepare, solve_workbook  # noqa: E402
from optimizer.solve import Start  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = [ROOT / "inputs" / "demo.xlsx", ROOT / "inputs" / "sweden.xlsx"]
STAGES = ("read", "distances", "build", "solve", "today", "plan", "write")


def main(paths: list[Path]) -> None:
    print(f"{'workbook':14} {'status':10} {'gap':>8} {'objective':>16} " + " ".join(f"{s:>9}" for s in STAGES) + f" {'total':>7}")
    for path in paths:
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            problem, result = solve_workbook(path, Path(out) / "plan.xlsx")
            total = time.perf_counter() - started
        gap = result.solution.mip_gap
        objective = result.figures.get("objective", float("nan"))
        times = " ".join(f"{result.timings.get(s, 0.0):9.2f}" for s in STAGES)
        print(f"{path.name:14} {result.status:10} {gap if gap is not None else float('nan'):8.2e} {objective:16,.0f} {times} {total:7.2f}")
        budget = problem.settings.budget_annual
        if budget is not None:
            resolve_after_budget_change(problem, budget)


def resolve_after_budget_change(problem, budget: float) -> None:
    """What the app does when a planner moves the annual budget: re-use distances, start from the plan."""
    first = prepare(problem)
    previous = plan(first, with_today=False)
    for factor in (1.05, 0.95):
        changed = prepare(problem.with_settings(budget_annual=factor * budget), first.table)
        for label, start in (("cold", None), ("from the previous plan", Start.of(first, previous.solution))):
            started = time.perf_counter()
            again = plan(changed, with_today=False, start=start)
            print(
                f"{'':14} annual budget x {factor:.2f}, {label}: {again.status}, "
                f"{time.perf_counter() - started:.2f} s"
            )

if __name__ == "__main__":
    main([Path(p) for p in sys.argv[1:]] or DEFAULT)
