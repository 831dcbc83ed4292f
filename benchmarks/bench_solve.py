"""Time every stage of solving the sample workbooks end to end, as `officeplan solve` does.

    python benchmarks/bench_solve.py [WORKBOOK ...]

Prints one row per workbook: status, proven gap, objective and seconds per stage, then
the time of a re-solve after a 5 % cut of the annual budget that re-uses the distances.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optimizer.pipeline import plan, prepare, solve_workbook  # noqa: E402

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
            first = prepare(problem)
            started = time.perf_counter()
            again = plan(prepare(problem.with_settings(budget_annual=0.95 * budget), first.table), with_today=False)
            print(f"{'':14} re-solve with the annual budget cut 5 %: {again.status}, {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main([Path(p) for p in sys.argv[1:]] or DEFAULT)
