"""Solve every vendored OR-Library instance with the engine's own model and compare with the published optima.

    .venv/bin/python benchmarks/orlib_table.py [--only cap|pmed] [--max-seconds 300]
        [--csv PATH] [--workbook cap71,cap41,pmed1] [--spopt] [NAME ...]

Each instance (`benchmarks/orlib/*.txt` and `benchmarks/orlib/extended/*.txt`) is read by
`optimizer.orlib`, built as a `Problem` in memory (`instance_problem`, the same problem the
benchmark workbook reads into), and solved by the pipeline the CLI runs (`prepare`, then
`plan`; today's network is not priced, as every site is a candidate).  The seconds are
wall clock from reading the file to the plan: parsing (with Floyd-Warshall for pmed),
building the problem, distances, the Pyomo model and HiGHS.  `--max-seconds` is HiGHS's
time limit for each instance (the `time_limit_s` setting); an instance it stops has a
proven gap above zero and may not match.

The instances named by `--workbook` are also solved the way a user does it: the input
workbook is written, read back (`read_problem`, with all its validation) and solved; the
`workbook s` column is that whole round trip.

With `--spopt` each p-median instance is also solved, right after the engine and with the
same time limit, by PySAL spopt's `PMedian` with HiGHS through PuLP
(`benchmarks/spopt_runner.py`; needs `pip install -e '.[bench]'`).  spopt has no model
with opening costs, so the cap instances get no spopt run.  `spopt s` is from building
spopt's model to its solved result; `ratio` is `spopt s` over the engine's `build s` plus
`solve s` plus the plan's tables (its `seconds` less `read s`), so both start from the same
instance in memory.

Columns: `size` is warehouses x customers (cap) or nodes/edges (pmed); `p / capacity` is
the number of medians or the warehouses' capacity (58268 = the total demand, so
uncapacitated); `gap` is HiGHS's proven relative gap; `match` is whether the engine's
objective is within 1e-6 (relative) of the published optimum.  The exit status is 0 when
every instance matches and 1 otherwise.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from optimizer.orlib import (  # noqa: E402
    CapInstance,
    PMedInstance,
    instance_paths,
    instance_problem,
    instance_tables,
    read_instance,
    read_optima,
)
from optimizer.pipeline import plan, prepare  # noqa: E402
from optimizer.workbook import read_problem, write_input_workbook  # noqa: E402

if TYPE_CHECKING:
    from benchmarks.spopt_runner import SpoptResult

ORLIB = ROOT / "benchmarks" / "orlib"
FOLDERS = (ORLIB, ORLIB / "extended")
MATCH_RTOL = 1e-6


@dataclass
class Row:
    instance: str
    size: str
    p_or_capacity: str
    published: float
    status: str = ""
    engine: float | None = None
    bound: float | None = None
    gap: float | None = None
    match: bool = False
    seconds: float = 0.0
    read_s: float = 0.0
    build_s: float = 0.0
    solve_s: float = 0.0
    workbook_s: float | None = None
    workbook_engine: float | None = None
    spopt_s: float | None = None
    spopt_objective: float | None = None
    spopt_status: str = ""

    @property
    def engine_in_memory_s(self) -> float:
        """The engine's seconds from the instance in memory, the span spopt's seconds cover."""
        return self.seconds - self.read_s

    @property
    def ratio(self) -> float | None:
        return None if self.spopt_s is None else self.spopt_s / self.engine_in_memory_s


def describe(inst, path: Path) -> tuple[str, str]:
    if isinstance(inst, CapInstance):
        capacities = sorted(set(inst.capacities))
        return f"{len(inst.capacities)}x{len(inst.demands)}", "cap " + "/".join(f"{c:g}" for c in capacities)
    edges = int(path.read_text().split(maxsplit=2)[1])
    return f"{inst.n}n/{edges}e", f"p {inst.p}"


def matches(engine: float | None, published: float) -> bool:
    return engine is not None and abs(engine - published) <= MATCH_RTOL * abs(published)


def solve_direct(path: Path, published: float, max_seconds: float) -> Row:
    """File -> instance -> Problem in memory -> pipeline, timed per stage.

    read: parsing (and Floyd-Warshall for pmed); build: the Problem, the distance table and
    the Pyomo model; solve: handing the model to HiGHS and HiGHS's search (so it can exceed
    the time limit by the hand-over); the plan's tables are in `seconds` but in no stage.
    """
    started = time.perf_counter()
    inst = read_instance(path)
    read_s = time.perf_counter() - started
    problem = instance_problem(inst, time_limit_s=max_seconds)
    prepared = prepare(problem)
    prepare_s = time.perf_counter() - started - read_s
    result = plan(prepared, with_today=False)
    total = time.perf_counter() - started
    sol = result.solution
    engine = result.figures.get("objective") if sol.has_plan else None
    size, p_or_capacity = describe(inst, path)
    return Row(
        instance=path.stem,
        size=size,
        p_or_capacity=p_or_capacity,
        published=published,
        status=result.status,
        engine=engine,
        bound=sol.bound,
        gap=sol.mip_gap,
        match=matches(engine, published),
        seconds=total,
        read_s=read_s,
        build_s=prepare_s + result.timings.get("build", 0.0),
        solve_s=result.timings.get("solve", 0.0),
    )


def solve_workbook_path(path: Path, max_seconds: float) -> tuple[float, float | None]:
    """Write the input workbook, read it back with validation, solve: the user's route, timed whole."""
    started = time.perf_counter()
    tables = instance_tables(read_instance(path))
    settings = tables["settings"]
    settings.loc[settings["key"] == "time_limit_s", "value"] = max_seconds
    with tempfile.TemporaryDirectory() as folder:
        workbook = Path(folder) / f"{path.stem}.xlsx"
        write_input_workbook(tables, workbook)
        problem = read_problem(workbook)
    result = plan(prepare(problem), with_today=False)
    seconds = time.perf_counter() - started
    return seconds, result.figures.get("objective") if result.solution.has_plan else None


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


COLUMNS = (
    ("instance", 8, "<"),
    ("size", 11, "<"),
    ("p / capacity", 12, "<"),
    ("published", 14, ">"),
    ("engine", 14, ">"),
    ("gap", 8, ">"),
    ("match", 5, ">"),
    ("read s", 7, ">"),
    ("build s", 7, ">"),
    ("solve s", 8, ">"),
    ("seconds", 8, ">"),
    ("workbook s", 10, ">"),
)
SPOPT_COLUMNS = (
    ("spopt s", 8, ">"),
    ("spopt match", 11, ">"),
    ("ratio", 6, ">"),
)


def line(values: list[str]) -> str:
    """One table line; without `--spopt` the values stop before the spopt columns and so does the line."""
    return "  ".join(f"{v:{align}{width}}" for v, (_, width, align) in zip(values, COLUMNS + SPOPT_COLUMNS))


def show_gap(gap: float | None) -> str:
    """HiGHS's relative gap; below 1e-9 it is floating-point noise on a proven optimum and shows as 0."""
    if gap is None:
        return "-"
    return "0" if gap < 1e-9 else f"{gap:.1e}"


def show_spopt(row: Row) -> list[str]:
    if row.spopt_s is None:
        return ["-", "-", "-"]
    return [f"{row.spopt_s:.2f}", "yes" if matches(row.spopt_objective, row.published) else "no", f"{row.ratio:.2f}"]


def show(row: Row, spopt: bool) -> str:
    return line([
        row.instance,
        row.size,
        row.p_or_capacity,
        f"{row.published:,.3f}",
        fmt(row.engine, ",.3f"),
        show_gap(row.gap),
        "yes" if row.match else "no",
        f"{row.read_s:.2f}",
        f"{row.build_s:.2f}",
        f"{row.solve_s:.2f}",
        f"{row.seconds:.2f}",
        fmt(row.workbook_s, ".2f"),
    ] + (show_spopt(row) if spopt else []))


def load_spopt() -> Callable[[PMedInstance, float], SpoptResult]:
    """`solve_with_spopt`, imported only for `--spopt` because spopt is an optional extra."""
    try:
        from benchmarks.spopt_runner import solve_with_spopt
    except ImportError as e:
        sys.exit(f"--spopt needs spopt and PuLP ({e}): pip install -e '.[bench]'")
    return solve_with_spopt


def print_spopt_totals(rows: list[Row]) -> None:
    """Totals over the instances spopt solved, so the ratio compares the same work."""
    solved = [r for r in rows if r.spopt_s is not None]
    if not solved:
        return
    spopt_s = sum(r.spopt_s for r in solved)
    engine_s = sum(r.engine_in_memory_s for r in solved)
    matched = sum(matches(r.spopt_objective, r.published) for r in solved)
    print(
        f"spopt: {len(solved)} instances, {matched} match the published optimum, {spopt_s:.1f} s against the "
        f"engine's {engine_s:.1f} s from the instance in memory, ratio {spopt_s / engine_s:.2f}"
    )
    missed = [f"{r.instance} ({r.spopt_status}, {fmt(r.spopt_objective, ',.3f')})" for r in solved
              if not matches(r.spopt_objective, r.published)]
    if missed:
        print("spopt not matched: " + ", ".join(missed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="instances to solve (default: every vendored one)")
    parser.add_argument("--only", choices=("cap", "pmed"), help="only this family")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="HiGHS time limit per instance (s)")
    parser.add_argument("--csv", type=Path, help="also save the table as CSV here")
    parser.add_argument(
        "--workbook",
        default="cap71,cap41,pmed1",
        help="comma-separated instances also solved through a written and re-read workbook ('' for none)",
    )
    parser.add_argument("--spopt", action="store_true", help="also solve each p-median instance with PySAL spopt")
    args = parser.parse_args(argv)
    solve_with_spopt = load_spopt() if args.spopt else None

    optima = read_optima(ORLIB / "optima.csv")
    paths = [p for p in instance_paths(*FOLDERS) if p.stem in optima]
    if args.only:
        paths = [p for p in paths if p.stem.rstrip("0123456789") == args.only]
    if args.names:
        unknown = set(args.names) - {p.stem for p in paths}
        if unknown:
            parser.error(f"not vendored (or filtered out): {', '.join(sorted(unknown))}")
        paths = [p for p in paths if p.stem in args.names]
    via_workbook = {name for name in args.workbook.split(",") if name}

    print(f"time limit {args.max_seconds:g} s per instance; match = within {MATCH_RTOL:g} relative", flush=True)
    print(line([name for name, _, _ in COLUMNS + (SPOPT_COLUMNS if args.spopt else ())]), flush=True)
    rows: list[Row] = []
    started = time.perf_counter()
    for path in paths:
        row = solve_direct(path, optima[path.stem], args.max_seconds)
        if path.stem in via_workbook:
            row.workbook_s, row.workbook_engine = solve_workbook_path(path, args.max_seconds)
        inst = read_instance(path) if solve_with_spopt else None
        if isinstance(inst, PMedInstance):
            spopt = solve_with_spopt(inst, args.max_seconds)
            row.spopt_s, row.spopt_objective, row.spopt_status = spopt.seconds, spopt.objective, spopt.status
        rows.append(row)
        print(show(row, args.spopt), flush=True)
    wall = time.perf_counter() - started

    matched = sum(r.match for r in rows)
    proven = sum(r.status == "optimal" for r in rows)
    print(
        f"total: {len(rows)} instances, {matched} match the published optimum, {proven} proven optimal, "
        f"{sum(r.seconds for r in rows):.1f} s solving ({wall:.1f} s wall clock with the workbook"
        f"{' and spopt' if args.spopt else ''} runs)"
    )
    print_spopt_totals(rows)
    missed = [r.instance for r in rows if not r.match]
    if missed:
        print("not matched: " + ", ".join(missed))
    for r in rows:
        if r.workbook_s is not None and not matches(r.workbook_engine, r.published):
            print(f"{r.instance}: the workbook route gave {fmt(r.workbook_engine, ',.3f')}")

    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        with args.csv.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=[f.name for f in fields(Row)])
            writer.writeheader()
            for r in rows:
                writer.writerow({f.name: getattr(r, f.name) for f in fields(Row)})
        print(f"saved {args.csv}")
    return 0 if matched == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
