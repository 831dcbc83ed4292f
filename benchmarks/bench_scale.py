"""The scale series: generated national-style instances from 300 to 100,000 areas, end to end.

    python benchmarks/bench_scale.py                       # 300 and 2,000 areas
    python benchmarks/bench_scale.py --sizes 20000x2000    # AREASxSITES, several allowed
    python benchmarks/bench_scale.py --time-limit 120
    python benchmarks/bench_scale.py --nearest-office     # no minimum staff, no desks: the radius model

Each size runs in a process of its own (so that its peak memory is its own): the instance
is generated (`benchmarks/generate.py`, seeded) and written as a workbook, then timed stage
by stage as the CLI runs it: read, distances, build, solve, plan (extract and figures),
write.  Printed per size: the seconds of each stage, peak memory (max RSS), the model's
size (assignment variables x[i, j, a]), the status and the proven gap.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_SIZES = ("300x300", "2000x600")
STAGES = ("read", "distances", "build", "solve", "plan", "write")


def one(n_areas: int, n_sites: int, time_limit_s: float, nearest_office: bool) -> dict:
    """Measure one size in this process; returns the row of the table."""
    from benchmarks.generate import national
    from optimizer.pipeline import Stopwatch, plan, prepare
    from optimizer.plan_workbook import write_plan
    from optimizer.workbook import problem_tables, read_problem, write_input_workbook

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "national.xlsx"
        generated = national(n_areas, n_sites, nearest_office=nearest_office).with_settings(time_limit_s=time_limit_s)
        write_input_workbook(problem_tables(generated), path)
        watch = Stopwatch()
        with watch.stage("read"):
            problem = read_problem(path)
        with watch.stage("distances"):
            inst = prepare(problem)
        result = plan(inst, watch, with_today=False)
        with watch.stage("write"):
            write_plan(result, problem, Path(folder) / "plan.xlsx")
    return {
        "areas": n_areas, "sites": n_sites, "agencies": inst.n_agencies, "x": len(inst.k_area),
        "seconds": {stage: watch.seconds.get(stage, 0.0) for stage in STAGES},
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "status": result.status, "gap": result.solution.mip_gap,
    }


def _row(r: dict) -> str:
    gap = "-" if r["gap"] is None else f"{r['gap']:.2%}"
    stages = " ".join(f"{r['seconds'][s]:8.1f}" for s in STAGES)
    total = sum(r["seconds"].values())
    return (f"{r['areas']:>8,} {r['sites']:>6,} {r['x']:>11,} {stages} {total:8.1f} "
            f"{r['peak_mb']:8,.0f} {r['status']:>9} {gap:>7}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES), help="AREASxSITES")
    parser.add_argument("--time-limit", type=float, default=120.0, help="HiGHS time limit per size, s")
    parser.add_argument("--nearest-office", action="store_true",
                        help="no minimum staff and no desk counts, so the radius model applies")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        n_areas, n_sites = map(int, args.one.split("x"))
        print(json.dumps(one(n_areas, n_sites, args.time_limit, args.nearest_office)))
        return
    print(f"{'areas':>8} {'sites':>6} {'x[i,j,a]':>11} " + " ".join(f"{s:>8}" for s in STAGES)
          + f" {'total s':>8} {'peak MB':>8} {'status':>9} {'gap':>7}")
    for size in args.sizes:
        started = time.perf_counter()
        flags = ["--nearest-office"] if args.nearest_office else []
        done = subprocess.run([sys.executable, __file__, "--one", size, "--time-limit", str(args.time_limit), *flags],
                              capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["?"])[-1]
            print(f"{size:>15}: failed after {time.perf_counter() - started:.0f} s ({last})", flush=True)
            continue
        print(_row(json.loads(done.stdout.strip().splitlines()[-1])), flush=True)


if __name__ == "__main__":
    main()
