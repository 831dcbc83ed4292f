"""The engine's Python API: workbook -> problem -> instance -> solution -> plan -> workbook.

The CLI and the app are thin shells over these functions.  Each stage takes the previous
stage's result, so a caller that changes only a setting re-uses the problem and the
distance table (`prepare(problem.with_settings(...), previous.table)`), and a sweep can
send the same `Instance` to worker processes (everything here pickles).
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

from models.nearest_office import eligible

from .instance import DistanceTable, Instance, build_instance
from .plan import Plan, make_plan
from .plan_workbook import write_plan
from .problem import Problem
from .radius import price_today_nearest, relaxation_hint, solve_nearest
from .resolve import Resolver
from .solve import Solution, Start, price_today, solve, with_bound
from .workbook import read_problem

# Today's network is priced in a process started from a clean forkserver, never forked from
# this one: a process forked after HiGHS has started its worker threads inherits the
# threads' state without the threads, and HiGHS in it spins for ever on its first parallel task.
_PRICING_CONTEXT = multiprocessing.get_context("forkserver")
_PRICING_CONTEXT.set_forkserver_preload(["optimizer.pipeline"])


def pricing_pool() -> ProcessPoolExecutor:
    """One process for pricing today's network beside the solve."""
    return ProcessPoolExecutor(max_workers=1, mp_context=_PRICING_CONTEXT)


@dataclass
class Stopwatch:
    """Seconds per stage, in the order the stages ran; `on_stage` hears each as it ends."""

    seconds: dict[str, float] = field(default_factory=dict)
    on_stage: Callable[[str, float], None] | None = None

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        if self.on_stage:
            self.on_stage(name, seconds)


def prepare(problem: Problem, table: DistanceTable | None = None) -> Instance:
    """Distances and admissible pairs; `table` from an earlier instance is re-used when it still serves."""
    return build_instance(problem, table)


def solve_instance(inst: Instance, start: Start | None = None) -> Solution:
    """The plan's solution: by the nearest-office path when people go to the nearest office, else the
    general model, started (unless `start` is given) and bounded by the nearest-office relaxation."""
    if eligible(inst):
        solution = solve_nearest(inst, start)
        return solution if solution is not None else solve(inst, start)
    started = time.perf_counter()
    hint, bound = relaxation_hint(inst) if start is None else (None, None)
    hinted = time.perf_counter() - started
    solution = with_bound(solve(inst, start or hint), bound, inst.problem.settings.mip_gap)
    return replace(solution, seconds=solution.seconds + hinted)


def price(inst: Instance) -> Solution:
    """Today's network priced, without a model when people go to the nearest office."""
    return price_today_nearest(inst) if eligible(inst) else price_today(inst)


def plan(
    inst: Instance,
    watch: Stopwatch | None = None,
    with_today: bool = True,
    start: Start | None = None,
    today: Solution | Future[Solution] | None = None,
    resolver: Resolver | None = None,
) -> Plan:
    """Solve the instance and make the plan, pricing today's network for comparison.

    Today's network is priced in a second process while the plan is solved, since the two
    are independent and the machine has a second core; "today" times only the wait after.
    A caller that re-solves (the app) passes `today` priced earlier, or still being priced,
    for an instance with the same `today_key`.  `start`
    (`Start.of(previous_instance, previous_plan.solution)`) re-solves from an earlier plan;
    a `resolver` kept from an earlier solve answers a budget or limit move when it serves the instance.
    """
    watch = watch or Stopwatch()
    with pricing_pool() if with_today and today is None else nullcontext() as pool:
        pricing = pool.submit(price, inst) if pool else today
        solution = resolver.resolve(inst) if resolver is not None and resolver.serves(inst) else None
        if solution is None:
            solution = solve_instance(inst, start)
            watch.add("build", solution.build_seconds)
        watch.add("solve", solution.seconds)
        if isinstance(pricing, Future):
            with watch.stage("today"):
                pricing = pricing.result()
    with watch.stage("plan"):
        result = make_plan(inst, solution, pricing)
    return replace(result, timings=dict(watch.seconds))


def solve_workbook(
    input_path: str | Path,
    output_path: str | Path | None = None,
    on_stage: Callable[[str, float], None] | None = None,
) -> tuple[Problem, Plan]:
    """The whole pipeline on a file; raises `InputError` for a workbook that cannot be used."""
    watch = Stopwatch(on_stage=on_stage)
    with watch.stage("read"):
        problem = read_problem(input_path)
    with watch.stage("distances"):
        inst = prepare(problem)
    result = plan(inst, watch)
    if output_path is not None:
        with watch.stage("write"):
            write_plan(result, problem, output_path)  # its own writing time cannot be inside it
        result = replace(result, timings=dict(watch.seconds))
    return problem, result
