"""The scale series: generated national-style instances from 300 to 100,000 areas, and the Finnish
postcode sample, end to end.

    python benchmarks/bench_scale.py                        # 300, 2,000 and 20,000 areas, then Finland
    python benchmarks/bench_scale.py --sizes 100000x3000    # AREASxSITES, several allowed
    python benchmarks/bench_scale.py --general              # with minimum staff and desk counts
    python benchmarks/bench_scale.py --budget-cut 0         # no annual budget
    python benchmarks/bench_scale.py --time-limit 120 --no-finland

Each row runs in a process of its own (so that its peak memory is its own).  A generated
instance (`benchmarks/generate.py`, seeded) has four agencies and a 50 km limit (80 km for
the pension agency), as the Swedish sample; by default people go to the nearest office (no
minimum staff, no desk counts), the class the engine solves at national scale, and the
annual budget is `--budget-cut` (3 %) below what the engine's plan without a budget spends a
year, so that it binds.  That first plan is part of making the instance and is not timed.
With `--general` and the 3 % cut, the 300, 2,000 and 20,000-area rows take the budgets that
plan gave at commit 9d584fb instead (`generate.GENERAL_BUDGETS`), so that their rows stay
comparable as the engine's plans get cheaper.
The instance is then written as a workbook and timed stage by stage as the CLI runs it:
read, distances, build, solve, plan (extract and figures), write.  `inputs/finland.xlsx`
(3,024 postcode areas, minimum staff and desks, its own budgets and its own 300 s time
limit: at 120 s HiGHS is at the edge of finding its first good plan) is read and timed the
same way.

Printed per row: the seconds of each stage, peak memory (max RSS), the admissible
(area, site, agency) triples, the status, the proven gap, and the annual budget with the
plan's annual cost (a plan at its budget shows that the budget binds).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_SIZES = ("300x300", "2000x600", "20000x2000")
FINLAND = ROOT / "inputs" / "finland.xlsx"
STAGES = ("read", "distances", "build", "solve", "plan", "write")


def one(path: Path, name: str, time_limit_s: float | None) -> dict:
    """Read, solve and write the workbook at `path` in this process; returns the row of the table."""
    from optimizer.pipeline import Stopwatch, plan, prepare
    from optimizer.plan_workbook import write_plan
    from optimizer.workbook import read_problem

    watch = Stopwatch()
    with watch.stage("read"):
        problem = read_problem(path)
    if time_limit_s is not None:
        problem = problem.with_settings(time_limit_s=time_limit_s)
    with watch.stage("distances"):
        inst = prepare(problem)
    result = plan(inst, watch, with_today=False)
    with tempfile.TemporaryDirectory() as folder, watch.stage("write"):
        write_plan(result, problem, Path(folder) / "plan.xlsx")
    return {
        "name": name, "areas": inst.n_areas, "sites": inst.n_sites, "triples": len(inst.k_area),
        "seconds": {stage: watch.seconds.get(stage, 0.0) for stage in STAGES},
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "status": result.status, "gap": result.solution.mip_gap,
        "budget": problem.settings.budget_annual, "annual": result.figures.get("annual cost"),
    }


def generated(size: str, general: bool, budget_cut: float, time_limit_s: float) -> dict:
    """Make the instance of `size` (AREASxSITES), write it as a workbook, and measure it."""
    from benchmarks.generate import general_budget, national, with_binding_budget
    from optimizer.workbook import problem_tables, write_input_workbook

    n_areas, n_sites = map(int, size.split("x"))
    problem = national(n_areas, n_sites, nearest_office=not general).with_settings(time_limit_s=time_limit_s)
    fixed = general_budget(n_areas, n_sites, budget_cut) if general else None
    if fixed is not None:
        problem = problem.with_settings(budget_annual=fixed)
    elif budget_cut > 0:
        problem, _ = with_binding_budget(problem, budget_cut)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "national.xlsx"
        write_input_workbook(problem_tables(problem), path)
        return one(path, size, None)


def _millions(value: float | None) -> str:
    return "-" if value is None else f"{value / 1e6:,.1f}"


def _row(r: dict) -> str:
    gap = "-" if r["gap"] is None else f"{r['gap']:.2%}"
    stages = " ".join(f"{r['seconds'][s]:8.1f}" for s in STAGES)
    total = sum(r["seconds"].values())
    return (f"{r['name']:>14} {r['areas']:>8,} {r['sites']:>6,} {r['triples']:>11,} {stages} {total:8.1f} "
            f"{r['peak_mb']:8,.0f} {r['status']:>9} {gap:>7} {_millions(r['budget']):>9} {_millions(r['annual']):>9}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES), help="AREASxSITES")
    parser.add_argument("--time-limit", type=float, default=120.0, help="time limit per generated instance, s")
    parser.add_argument("--general", action="store_true", help="minimum staff and desk counts (the general model)")
    parser.add_argument("--budget-cut", type=float, default=0.03,
                        help="annual budget this share below the unconstrained plan's annual cost (0: none)")
    parser.add_argument("--no-finland", action="store_true", help="leave out inputs/finland.xlsx")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        row = (one(FINLAND, "finland.xlsx", None) if args.one == "finland"
               else generated(args.one, args.general, args.budget_cut, args.time_limit))
        print(json.dumps(row))
        return
    kind = "minimum staff and desks" if args.general else "nearest office"
    budget = (f"annual budget {args.budget_cut:.0%} below the unconstrained plan's"
              + (" (at 9d584fb, fixed, where listed)" if args.general and args.budget_cut == 0.03 else "")
              if args.budget_cut else "no budget")
    print(f"generated: {kind}, {budget}; time limit {args.time_limit:g} s; budgets and annual costs in M")
    print(f"{'instance':>14} {'areas':>8} {'sites':>6} {'triples':>11} " + " ".join(f"{s:>8}" for s in STAGES)
          + f" {'total s':>8} {'peak MB':>8} {'status':>9} {'gap':>7} {'budget':>9} {'annual':>9}")
    rows = [*args.sizes, *([] if args.no_finland else ["finland"])]
    for name in rows:
        started = time.perf_counter()
        flags = ["--general"] if args.general else []
        done = subprocess.run([sys.executable, __file__, "--one", name, "--time-limit", str(args.time_limit),
                               "--budget-cut", str(args.budget_cut), *flags], capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["?"])[-1]
            print(f"{name:>14}: failed after {time.perf_counter() - started:.0f} s ({last})", flush=True)
            continue
        print(_row(json.loads(done.stdout.strip().splitlines()[-1])), flush=True)


if __name__ == "__main__":
    main()
