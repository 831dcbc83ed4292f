"""The engine's Python API: workbook -> problem -> instance -> solution -> plan -> workbook.

The CLI and the app are thin shells over these functions.  Each stage takes the previous
stage's result, so a caller that changes only a setting re-uses the problem and the
distance table (`prepare(problem.with_settings(...), previous.table)`), and a sweep can
send the same `Instance` to worker processes (everything here pickles).
"""

from __future__ import annotations

import math
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from models.assignment import cheapest_assignment
from models.nearest_office import eligible

from . import general_bound, office_moves
from .desk_fit import nearest_plan, thinned, within_desks
from .instance import DistanceTable, Instance, build_instance
from .plan import Plan, cost_parts, make_plan
from .plan_workbook import write_plan
from .problem import Problem, Settings
from .radius import hint, price_today_nearest, relaxed, solve_nearest
from .resolve import Resolver
from .rules import keeps_budgets, keeps_rules, overspend
from .solve import (
    Solution,
    Start,
    plan_refusal,
    price_today,
    size_refusal,
    solve,
    stopped_on_request,
    too_large_to_search,
    unreachable_message,
    unsearched_message,
    with_bound,
)
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
    settings = inst.problem.settings
    if settings.objective == "cost" and size_refusal(inst) and not plan_refusal(inst):
        return unsearched_plan(inst, start)
    if too_large_to_search(inst):
        return searched_from_moves(inst, start)
    return searched(inst, start, settings.time_limit_s)


def searched(inst: Instance, start: Start | None, time_limit_s: float) -> Solution:
    """The general model searched by HiGHS within `time_limit_s`, from `start` or else from the
    relaxation's plan, with the assignment Lagrangian's bound and plans where HiGHS proves no gap."""
    settings = inst.problem.settings
    started = time.perf_counter()
    hinted, bound, _ = general_hint(inst) if start is None and not size_refusal(inst) else Hint(None, None)
    seconds = time.perf_counter() - started
    # The hint, the completion, HiGHS and the assignment bound share the time limit.
    left = time_limit_s - seconds - assignment_bound_seconds(settings)
    if start is None and hinted is not None:
        solution = solve(inst, Start.of(inst, hinted), complete=True, time_limit_s=left)
    else:
        solution = solve(inst, start, time_limit_s=left)
    solution = with_bound(solution, bound, settings.mip_gap)
    started = time.perf_counter()
    solution = with_assignment_bound(inst, solution)
    return replace(solution, seconds=solution.seconds + seconds + time.perf_counter() - started)


def searched_from_moves(inst: Instance, start: Start | None = None) -> Solution:
    """Where HiGHS would not finish the root LP (`solve.too_large_to_search`): the plan made as for a
    model too large to build (`unsearched_plan`, from `start` if given), and where that is not proven
    within the gap, HiGHS's search from it in the time left; the cheaper plan, with the better bound.

    On 2,000 generated areas the moves alone prove 0.46 % in 7.2 s (HiGHS had proven 0.83 % in
    66.8 s), and with a binding budget 0.96 % in 13.0 s, once the bound prices the budget (1.38 % in
    7.8 s before, which HiGHS's search then bettered to 0.75-0.89 % in the rest of the 120 s).
    On the Finnish sample (159,701 assignments, which HiGHS searches whole) the moves alone prove
    only 1.24 % where HiGHS proves 0.34 %: HiGHS keeps the time the moves leave.
    """
    settings = inst.problem.settings
    moved = unsearched_plan(inst, start)
    left = settings.time_limit_s - moved.seconds
    if moved.status in ("optimal", "infeasible") or left < 2 * assignment_bound_seconds(settings) or (
            stopped_on_request()):
        return moved
    if not moved.has_plan:  # the model can be built: HiGHS looks for a plan itself
        return searched(inst, start, left)
    found = searched(inst, Start.of(inst, moved), left)
    seconds = moved.seconds + found.seconds
    bound = max((b for b in (moved.bound, found.bound) if b is not None), default=None)
    best = found if found.has_plan and found.objective < moved.objective else moved
    kept = with_bound(replace(best, bound=None), bound, settings.mip_gap)
    return replace(kept, seconds=seconds, build_seconds=found.build_seconds)


def unsearched_plan(inst: Instance, start: Start | None = None) -> Solution:
    """The general model's plan where the model is too large to build (`solve.size_refusal`) or
    for HiGHS to search (`solve.too_large_to_search`): the start `general_hint` makes, or the
    offices of `start` (an earlier plan, `from_start`) in its place, or a cheaper plan from the
    assignment Lagrangian's choices (`Cheapest`), bounded by the better of the relaxation's
    bound and the Lagrangian's in the rest of the time limit.  The plan is not searched for,
    and says so.  Where an earlier plan's offices lead to no plan that keeps the rules, the
    plan is made afresh, in a second time limit (300 generated areas with the annual budget cut
    by 5 %: neither way finds one).

    20,000 generated areas x 2,000 sites with minimum staff and desks (7.9 million triples,
    about 53 GB as a model) were refused before; this plan is proven within 1.2 to 1.4 % there
    in 120 s, and within 1.25 to 2.1 % with a binding budget (bench runs vary with timing).
    """
    started = time.perf_counter()
    settings = inst.problem.settings
    if reason := unreachable_message(inst):
        return Solution("infeasible", reason, diagnosis=(reason,))
    deadline = started + settings.time_limit_s
    cheapest = Cheapest(inst, None, deadline)
    begun = from_start(inst, start) if start is not None else None
    if begun is not None:  # moved, and so brought within the budgets, while the steps begin from it
        cheapest.consider(lambda: begun)
        hinted = Hint(None, None, begun)
    else:  # the first plan is moved while the relaxation is solved again
        hinted = general_hint(inst, thin=True, on_first=lambda first: cheapest.consider(lambda: first))
    if hinted.start is not None:
        cheapest.keep(hinted.start, cost_parts(inst, hinted.start)["objective"])
    # The first plan keeps every rule but the budgets, which the bound drops too: a cost the bound aims at.
    target = min(cheapest.objective, cost_parts(inst, hinted.first)["objective"] if hinted.first else math.inf)
    found = general_bound.bound(inst, target, max(deadline - time.perf_counter(), 0.0), plans=cheapest,
                                start=hinted.first or cheapest.plan) if math.isfinite(target) else -math.inf
    best = cheapest.best(stopped_on_request())
    if best is None and begun is not None and not stopped_on_request():
        return unsearched_plan(inst)
    if best is None:
        fitted = "the nearest-office relaxation's plan, fitted to the minimum staff, desks and budgets"
        reason = size_refusal(inst)
        message = f"{reason} Nor did {fitted}, give a plan." if reason else f"Neither {fitted}, nor any plan made from it, kept every rule."
        return Solution("error", message, seconds=time.perf_counter() - started)
    bounded = with_bound(best, max(found, -math.inf if hinted.bound is None else hinted.bound), settings.mip_gap)
    message = unsearched_message(bounded.mip_gap, built=size_refusal(inst) is None, previous=begun is not None)
    return replace(bounded, message=message, seconds=time.perf_counter() - started)


def from_start(inst: Instance, start: Start) -> Solution | None:
    """An earlier plan's offices as a plan of this instance: each pair at its nearest office (an
    office opened where a pair has none within its limit), staffed and fitted to the desks; None
    where the plan belongs to other sites or agencies, or cannot be fitted.  Its budgets are left
    to the moves, so that a re-solve after a budget cut begins from the plan it cuts."""
    if start.z.shape != (inst.n_sites, inst.n_agencies):
        return None
    nearest = nearest_plan(inst, start.z & start.y[:, None])
    return within_desks(inst, nearest) if nearest is not None else None


class Cheapest:
    """The cheapest plan that keeps every rule among the incumbent and the plans `consider`ed: the
    start, and those made from the assignment Lagrangian's choices of offices (`general_bound.bound`'s
    `plans`, each pair sent to the nearest office chosen), each improved by moving offices
    (`office_moves`), fitted to the desks and given its offices' cheapest assignment (`reassigned`).

    The plans are made in a thread beside the Lagrangian's steps, so that the machine's second
    core makes them and the bound loses no time to them (20,000 generated areas: a step took
    0.46 s either way in NumPy, the moves 4.2 s beside the steps against 3.7 s alone; numba releases the
    GIL).  A plan offered while the last is still being made, or too late to be made in
    `_MARGIN` times the last one's time, is let go.  The incumbent may come later (`keep`): the
    unsearched path starts moving its first plan while it looks for one within the budgets.
    """

    def __init__(self, inst: Instance, incumbent: Solution | None, deadline: float):
        self.inst, self.plan, self.deadline = inst, incumbent, deadline
        self._lock = threading.Lock()
        self._entries: office_moves.Entries | None = None
        self._worker = ThreadPoolExecutor(max_workers=1)
        self._making: Future[None] | None = None
        self._seconds = 0.0  # the last plan's making

    def consider(self, made: Callable[[], Solution | None]) -> float:
        """Start making and improving the plan `made` returns, unless one is being made; the best cost so far."""
        idle = self._making is None or self._making.done()
        if idle and time.perf_counter() + _MARGIN * self._seconds < self.deadline:
            self._making = self._worker.submit(self._improve, made)
        return self.objective

    @property
    def objective(self) -> float:
        """The best plan's cost, inf while there is none."""
        plan = self.plan
        return math.inf if plan is None else plan.objective

    def keep(self, plan: Solution, cost: float) -> None:
        """The plan, costing `cost`, where it is cheaper than the best so far (it must keep every rule)."""
        with self._lock:
            if cost < self.objective:
                base = self.plan if self.plan is not None else plan
                self.plan = replace(base, objective=cost, y=plan.y, z=plan.z, n=plan.n, x=plan.x)

    def __call__(self, choices: Callable[[], np.ndarray]) -> float:
        return self.consider(lambda: nearest_plan(self.inst, choices()))

    def best(self, stop: bool = False) -> Solution | None:
        """The cheapest plan, once the plan being made is done (at once, without its moves, if `stop`)."""
        if stop:
            self.deadline = -math.inf
        if self._making is not None:
            self._making.result()
        self._worker.shutdown()
        return self.plan

    def _improve(self, made: Callable[[], Solution | None]) -> None:
        started = time.perf_counter()
        plan = made()
        if plan is not None:
            if self._entries is None:
                self._entries = office_moves.entries(self.inst)
            self._moved_within_room(plan)
        self._seconds = time.perf_counter() - started

    def _late(self) -> bool:
        return time.perf_counter() > self.deadline

    def _moved_within_room(self, plan: Solution) -> None:
        """The plan's offices moved (`office_moves.improved`) and given their cheapest assignment
        (`reassigned`), kept where cheaper and within the rules; then moved again, from there,
        with each budget that held the moves loosened by what the assignment left unspent.

        The moves staff each office for everyone at its nearest office; the assignment then
        fills minimums with people from next door, and needs fewer staff.  20,000 generated
        areas with the 776.0 M annual budget: moved to 775.9 M a year (1,089.2 M in all), then
        assigned 767.3 M (1,084.0 M); moved again with those 8.7 M more, and assigned: 775.2 M (1,079.2 M).
        """
        e = self._entries
        budgeted = np.isfinite(e.limits)
        level = ROOM_LEVEL * np.abs(np.where(budgeted, e.limits, 0.0))
        room = np.zeros(len(e.limits))
        for _ in range(ROOM_ROUNDS):
            moved = office_moves.improved(self.inst, e._replace(limits=e.limits + room), plan, self._late)
            if moved is None:
                return
            final = reassigned(self.inst, moved, self.deadline - time.perf_counter())
            cost = cost_parts(self.inst, final)["objective"]
            if cost < self.objective and keeps_rules(self.inst, final):
                self.keep(final, cost)
            held = budgeted & (office_moves.spending(e, moved) >= e.limits + room - level)
            slack = np.where(held, e.limits - office_moves.spending(e, final), 0.0)
            if not (np.abs(slack) > level).any() or self._late():
                return
            room, plan = room + slack, moved


# The rounds of moves `Cheapest` makes with the budgets loosened by what the assignment leaves
# unspent, and the share of a budget within which a round counts as at it.
ROOM_ROUNDS = 3
ROOM_LEVEL = 1e-4


def reassigned(inst: Instance, plan: Solution, seconds: float) -> Solution:
    """The plan with its offices' cheapest assignment and staff (`models.assignment`), where that
    is found in `seconds`: people sent past their nearest office to fill one's minimum staff."""
    found = cheapest_assignment(inst, plan.y, plan.z, seconds) if seconds > 0 else None
    return plan if found is None else replace(plan, x=found[0], n=found[1])


# A plan is started only where this many times the last one's making fits before the deadline
# (20,000 generated areas: plans take 8 to 16 s, and one started 14.7 s before the limit ended
# 1.6 s after it).
_MARGIN = 1.5


# Where HiGHS stops without proving the gap, the assignment rows' Lagrangian gets this share
# of the time limit, at most BOUND_SECONDS (2,000 generated areas with minimum staff and desks:
# 966 M in 7.8 s, where the nearest-office relaxation proves 915 M and HiGHS 86 M).
BOUND_SHARE = 0.1
BOUND_SECONDS = 10.0


def assignment_bound_seconds(settings: Settings) -> float:
    """The time `with_assignment_bound` may take, kept back from HiGHS's search for it."""
    return min(BOUND_SHARE * settings.time_limit_s, BOUND_SECONDS) if settings.objective == "cost" else 0.0


def with_assignment_bound(inst: Instance, solution: Solution) -> Solution:
    """The solution with `general_bound`'s bound, when HiGHS has a plan but not the proof, and the
    cheaper plan, if any, that the Lagrangian's choices give (`Cheapest`)."""
    settings = inst.problem.settings
    if solution.status != "feasible" or solution.objective is None or settings.objective != "cost":
        return solution
    if stopped_on_request():  # the planner asked for the best plan so far, not for more work on it
        return solution
    seconds = assignment_bound_seconds(settings)
    cheapest = Cheapest(inst, solution, time.perf_counter() + seconds)
    cheapest.consider(lambda: solution)
    found = general_bound.bound(inst, solution.objective, seconds, plans=cheapest, start=solution)
    bounds = [b for b in (solution.bound, found) if b is not None and math.isfinite(b)]
    best = cheapest.best(stopped_on_request())
    return with_bound(replace(best, bound=None), max(bounds, default=None), settings.mip_gap)


class Hint(NamedTuple):
    """`general_hint`'s start, which keeps the budgets, its bound, and its first plan, which may not."""

    start: Solution | None
    bound: float | None
    first: Solution | None = None


def general_hint(inst: Instance, thin: bool = False, on_first: Callable[[Solution], object] | None = None) -> Hint:
    """A plan for the general model and a lower bound on its optimum, from nearest-office problems.

    The bound is the relaxation's (`radius.relaxed`: no minimum staff, no desks).  Its plan,
    staffed to the minimum and fitted to the desks (`desk_fit`), is the start, and with `thin`
    also without the offices that do not pay for their minimum staff: that is the plan where
    nothing searches further (`unsearched_plan`).  HiGHS, searching from it, reached the same
    plans no sooner: the Swedish sample in 3.81 s against 3.31 s, the Finnish in 136.4 s
    against 122.5-131.0 s, and on 2,000 generated areas the nearby search ends at the same
    plan from either start.

    Where the start breaks a budget, the relaxation is solved again with the budget lowered by
    the excess, at most HINT_ROUNDS times (2,000 generated areas with the annual budget 3 % below the
    unconstrained plan's: the first plan spends 35.9 M too much, and the general model alone
    finds no plan in 120 s).  The first plan is kept too (`Hint.first`), and handed to `on_first`
    as soon as it is made: moving offices brings it within the budgets at less cost than the
    lowered relaxation does (20,000 generated areas with a budget: 1,084.0 M against 1,090.4 M).
    """
    if inst.problem.settings.objective != "cost":
        return Hint(None, None)
    loose = relaxed(inst.problem)
    first = hint(inst, loose)
    if first is None:
        return Hint(None, None)
    fitted = None
    for round_ in range(HINT_ROUNDS + 1):
        nearest = first if round_ == 0 else hint(inst, loose)
        within = within_desks(inst, nearest) if nearest is not None else None
        if within is None:
            break
        start = thinned(inst, within) if thin else within
        if fitted is None:
            fitted = start
            if on_first is not None:
                on_first(start)
        if keeps_budgets(inst, start):
            return Hint(start, first.bound, fitted)
        # Lowered by the excess before thinning, which converged too slowly (2,000 areas: 5 rounds).
        loose = _lowered(loose, *overspend(inst, within))
    return Hint(None, first.bound, fitted)


# Times the relaxation is solved again with lower budgets for a start that keeps them.
HINT_ROUNDS = 3


def _lowered(problem: Problem, annual: float, agencies: np.ndarray) -> Problem:
    """The problem with each overspent budget lowered by a tenth more than its excess."""
    lowered = replace(problem, agencies=tuple(
        replace(a, budget=a.budget - 1.1 * over) if over > 0 else a for a, over in zip(problem.agencies, agencies)
    ))
    if annual > 0:
        lowered = lowered.with_settings(budget_annual=problem.settings.budget_annual - 1.1 * annual)
    return lowered


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
