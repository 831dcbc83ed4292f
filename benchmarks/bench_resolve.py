"""Re-solve times as the app sees them: a session's worker solves the sample, then the planner
moves the annual budget +5 %, -5 %, -7 %, -3.5 % and -12 % (below what any plan costs) of the
sample's, then the distance limit 5 km down (each from the plan before it, with 5 s between
moves, in which the worker rehearses nearby budgets; -7 % and -3.5 % fall between them).

    python benchmarks/bench_resolve.py [WORKBOOK]

Prints wall-clock seconds from submit to plan (what the planner waits), the status, the
proven gap, the objective, and the worker's own stage times.  Each budget move is checked
against a full solve of the same problem (`pipeline.plan` without any re-use): neither plan
may cost less than the other's proven bound.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optimizer.background import BackgroundSolver  # noqa: E402
from optimizer.pipeline import plan, prepare  # noqa: E402
from optimizer.workbook import read_problem  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _line(label: str, seconds: float, result) -> str:
    sol = result.solution
    gap = "-" if sol.mip_gap is None else f"{sol.mip_gap:.2%}"
    objective = "-" if sol.objective is None else f"{sol.objective:,.0f}"
    stages = ", ".join(f"{k} {v:.2f}" for k, v in result.timings.items())
    return f"{label:<22} {seconds:6.2f} s  {result.status:<8} gap {gap:>6}  objective {objective:>15}  [{stages}]"


def _check(problem, result) -> str:
    """The same problem solved in full, from nothing: the two must not contradict each other's bounds."""
    full = plan(prepare(problem), with_today=False)
    head = f"{'  full solve':<22} {full.timings['solve']:6.2f} s  {full.status:<8}"
    if not full.solution.has_plan:
        return f"{head} no plan: {full.message[:100]}"
    tolerance = 1e-6 * abs(full.solution.objective)
    consistent = (result.solution.objective >= (full.solution.bound or -float("inf")) - tolerance
                  and full.solution.objective >= result.solution.bound - tolerance)
    return (f"{head} objective {full.solution.objective:>15,.0f}; bounds "
            f"{'consistent' if consistent else 'CONTRADICT'}")


def main(path: Path) -> None:
    problem = read_problem(path)
    budget = problem.settings.budget_annual
    solver = BackgroundSolver()
    try:
        moves = [("first solve", problem)]
        moves += [(f"annual budget x {f:.2f}", problem.with_settings(budget_annual=f * budget))
                  for f in (1.05, 0.95, 0.93, 0.965, 0.88)]
        limit = problem.settings.max_distance_km
        moves += [(f"max distance {limit - 5:g} km", problem.with_settings(budget_annual=0.95 * budget,
                                                                         max_distance_km=limit - 5))]
        for label, changed in moves:
            started = time.perf_counter()
            solver.submit(changed)
            result = solver.wait(600)
            seconds = time.perf_counter() - started
            print(_line(label, seconds, result), flush=True)
            time.sleep(5)  # the planner reads the plan; the worker prepares for the next move
            if label != "first solve":
                print(_check(changed, result), flush=True)
    finally:
        solver.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "inputs" / "sweden.xlsx")
