"""Solving an instance with HiGHS: the plan, today's network priced, and why a plan is impossible.

HiGHS runs in memory through Pyomo's `highs` interface (no LP files on disk).  The result is
a `Solution` of plain arrays aligned with the instance, so that nothing downstream touches
Pyomo and a solution can be pickled back from a worker process.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Literal, Protocol

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs

from models import build_model

from .distances import geodesic_km
from .instance import Instance, coordinates
from .problem import Problem

Status = Literal["optimal", "feasible", "infeasible", "error"]

# Coverage is held at its optimum in the second stage up to this relative slack, so that the
# round-off of the first stage's value cannot make the second stage infeasible.
_COVERAGE_SLACK = 1e-9


@dataclass(frozen=True, eq=False)
class Solution:
    """The decisions (arrays aligned with the instance) and how sure we are of them."""

    status: Status
    message: str
    objective: float | None = None
    bound: float | None = None
    mip_gap: float | None = None
    y: np.ndarray | None = None  # (J,) site operates
    z: np.ndarray | None = None  # (J, A) agency present
    n: np.ndarray | None = None  # (J, A) staff
    x: np.ndarray | None = None  # (K,) share of the triple's visits served
    seconds: float = 0.0  # solving, all stages included
    diagnosis: tuple[str, ...] = ()
    build_seconds: float = 0.0  # building the Pyomo model

    @property
    def has_plan(self) -> bool:
        return self.y is not None


@dataclass(frozen=True)
class _Outcome:
    status: Status
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float


def _relative_gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None or not math.isfinite(bound):
        return None
    return abs(objective - bound) / max(abs(objective), 1e-10)


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Silence warnings of a logger for a block where they are expected and handled.

    Pyomo warns of values a rounding error outside their bounds (e.g. -1e-13), which HiGHS
    meets within its tolerance and `extract` clips; and of HiGHS's "interrupted" status,
    which is a stop the watcher asked for.
    """
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@dataclass(frozen=True, eq=False)
class Start:
    """An earlier plan to begin from, keyed so that it survives a change of limits.

    Re-solving after a small change (a budget, a limit, a forced site) from the previous
    plan lets HiGHS prune with a good incumbent from the first node: on the Swedish sample
    a re-solve after a 5 % budget increase takes 3.7 s instead of 6.8 s
    (`benchmarks/bench_solve.py`).  A start that breaks the new rules is ignored by HiGHS.
    """

    y: np.ndarray
    z: np.ndarray
    n: np.ndarray
    x: dict[tuple[int, int, int], float]  # the triples served, by (i, j, a); the rest are 0

    @classmethod
    def of(cls, inst: Instance, sol: Solution) -> Start:
        """Only the served triples are keyed: at 20,000 areas 80,004 of 7.9 million, in 0.05 s and
        12 MB, where keying every triple (`Instance.triples`) took 7.2 s and 1.8 GB."""
        served = np.flatnonzero(sol.x)
        keys = zip(inst.k_area[served].tolist(), inst.k_site[served].tolist(), inst.k_agency[served].tolist())
        return cls(sol.y, sol.z, sol.n, dict(zip(keys, sol.x[served].tolist())))


def apply_start(m: pyo.ConcreteModel, start: Start) -> bool:
    """Load the start into the model's variables; False when it belongs to other sites or agencies."""
    if start.z.shape != (len(m.J), len(m.A)):
        return False
    for j in m.J:
        m.y[j].set_value(float(start.y[j]), skip_validation=True)
    for j, a in m.JA:
        m.z[j, a].set_value(float(start.z[j, a]), skip_validation=True)
        m.n[j, a].set_value(float(start.n[j, a]), skip_validation=True)
    for k in m.K:
        m.x[k].set_value(start.x.get(k, 0.0), skip_validation=True)
    return True


class Watcher(Protocol):
    """Someone watching a solve: hears HiGHS's progress and may ask it to stop.

    The app's background solve passes its progress to the page and its stop button back to
    HiGHS through this; the engine itself knows nothing of pages or processes.
    """

    def progress(self, incumbent: float | None, bound: float | None) -> None: ...

    def should_stop(self) -> bool: ...


# The watcher of the solves running in this context (thread); None when nobody watches.
_watcher: ContextVar[Watcher | None] = ContextVar("watcher", default=None)


@contextmanager
def watched_by(watcher: Watcher | None) -> Iterator[None]:
    """Every HiGHS run inside the block reports to `watcher` and stops when it asks; None: to nobody
    (a preparatory solve whose figures are not the plan's)."""
    token = _watcher.set(watcher)
    try:
        yield
    finally:
        _watcher.reset(token)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) and abs(value) < highspy.kHighsInf else None


def hand_start(model: highspy.Highs, values: np.ndarray) -> None:
    """Give HiGHS a plan (a value per column) to start its search from."""
    start = highspy.HighsSolution()
    start.col_value = values.tolist()
    start.value_valid = True
    model.setSolution(start)


class _Highs(Highs):
    """Pyomo's in-memory HiGHS interface with what it lacks: a MIP start and a watcher.

    Pyomo's new interface has no warm-start option yet, so this reaches into its variable
    map; should that change, the start is skipped and the solve runs cold.
    """

    # Pyomo re-runs __init__ when it loads a model, so the two additions are set afterwards.
    _mip_start = False
    _watcher: Watcher | None = None

    @classmethod
    def with_(cls, mip_start: bool, watcher: Watcher | None) -> _Highs:
        solver = cls()
        solver._mip_start, solver._watcher = mip_start, watcher
        return solver

    def _solve(self):
        if self._mip_start:
            self._hand_start()
        if self._watcher is not None:
            self._solver_model.cbMipInterrupt.subscribe(self._on_interrupt_check)
            self._solver_model.cbSimplexInterrupt.subscribe(self._on_interrupt_check)
        return super()._solve()

    def _hand_start(self) -> None:
        try:
            values = np.zeros(len(self._pyomo_var_to_solver_var_map))
            for var_id, column in self._pyomo_var_to_solver_var_map.items():
                values[column] = self._vars[var_id][0].value or 0.0
            hand_start(self._solver_model, values)
        except AttributeError:
            pass

    def _on_interrupt_check(self, event) -> None:
        """HiGHS asks often whether to stop; each time, tell the watcher where the search is."""
        out = event.data_out
        if event.callback_type == highspy.cb.HighsCallbackType.kCallbackMipInterrupt:
            self._watcher.progress(_finite(out.mip_primal_bound), _finite(out.mip_dual_bound))
        if self._watcher.should_stop():
            event.interrupt()


def run_highs(m: pyo.ConcreteModel, time_limit_s: float, mip_gap: float, mip_start: bool = False) -> _Outcome:
    """One HiGHS run on the model's active objective; loads the incumbent when there is one."""
    started = time.perf_counter()
    try:
        with _quiet("pyomo.contrib.solver"):
            results = _Highs.with_(mip_start, _watcher.get()).solve(
                m,
                load_solutions=False,
                raise_exception_on_nonoptimal_result=False,
                time_limit=time_limit_s,
                rel_gap=mip_gap,
            )
    except Exception:  # a solver fault must become a status, never a traceback
        return _Outcome("error", None, None, None, time.perf_counter() - started)
    seconds = time.perf_counter() - started
    has_plan = results.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)
    if has_plan:
        with _quiet("pyomo.core"):
            results.solution_loader.load_vars()
    condition = results.termination_condition
    if condition == TerminationCondition.convergenceCriteriaSatisfied and has_plan:
        status: Status = "optimal"
    elif has_plan:
        status = "feasible"
    elif condition in (TerminationCondition.provenInfeasible, TerminationCondition.infeasibleOrUnbounded):
        status = "infeasible"
    else:
        status = "error"
    objective = results.incumbent_objective if has_plan else None
    bound = results.objective_bound
    if status == "optimal" and bound is None:
        bound = objective
    return _Outcome(status, objective, bound, _relative_gap(objective, bound), seconds)


def _values(var, index, shape=None) -> np.ndarray:
    out = np.fromiter((var[k].value or 0.0 for k in index), dtype=float)
    return out if shape is None else out.reshape(shape)


def extract(m: pyo.ConcreteModel, inst: Instance, outcome: _Outcome, message: str) -> Solution:
    """The loaded values as arrays; binaries are rounded, staff snapped to whole numbers when integer."""
    J, A = inst.n_sites, inst.n_agencies
    y = _values(m.y, range(J)) > 0.5
    z = _values(m.z, ((j, a) for j in range(J) for a in range(A)), (J, A)) > 0.5
    n = _values(m.n, ((j, a) for j in range(J) for a in range(A)), (J, A))
    if inst.problem.settings.staff_integer:
        n = np.round(n)
    n = np.where(z, np.maximum(n, 0.0), 0.0)
    x = np.clip(_values(m.x, inst.triples()), 0.0, 1.0)
    return Solution(
        outcome.status, message, outcome.objective, outcome.bound, outcome.gap, y, z, n, x, outcome.seconds
    )


def _names(inst: Instance, pairs: list[tuple[int, int]], most: int = 20) -> str:
    areas, agencies = inst.problem.areas, inst.problem.agencies
    shown = [f"{areas[i].name} ({areas[i].area_id}) for {agencies[a].agency_id}" for i, a in pairs[:most]]
    more = f" and {len(pairs) - most} more" if len(pairs) > most else ""
    return "; ".join(shown) + more


def unreachable_message(inst: Instance) -> str | None:
    """Areas no site can serve within the limit: known before solving, and fatal in cost mode."""
    pairs = inst.unreachable_pairs()
    if not pairs:
        return None
    return (
        f"{len(pairs)} area/agency pair(s) have visits but no site within the agency's distance limit: "
        f"{_names(inst, pairs)}. Add a candidate site nearer to them, raise max_distance_km, "
        "or use objective = coverage to plan for everyone else."
    )


def _today_usable(inst: Instance) -> np.ndarray:
    """Per triple: the site exists today and the agency is there today."""
    return inst.present_today[inst.k_site, inst.k_agency]


# What the general model costs to build per assignment variable x[i, j, a], in Pyomo and
# HiGHS together: 6.7 kB (benchmarks/bench_scale.py, 2,000 areas x 600 sites: 282,208
# variables, 1.9 GB peak).
MODEL_BYTES_PER_TRIPLE = 6_700
# The share of the machine's memory a model may take; the rest is the app, the plan and HiGHS's search.
_MEMORY_SHARE = 0.6


def machine_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def size_refusal(inst: Instance, memory_bytes: int | None = None) -> str | None:
    """Why the general model is not built, when its estimated size would not fit in memory.

    Said before building, with the estimate and the ways out, rather than after minutes of
    building and an out-of-memory kill (20,000 areas x 2,000 sites at 50 km: 7.9 million
    assignments, about 53 GB).
    """
    memory_bytes = machine_memory_bytes() if memory_bytes is None else memory_bytes
    need = len(inst.k_area) * MODEL_BYTES_PER_TRIPLE
    if need <= _MEMORY_SHARE * memory_bytes:
        return None
    return (
        f"This problem is too large for the general model: {len(inst.k_area):,} area/site/agency pairs within "
        f"the distance limits would take about {need / 1e9:,.0f} GB to build, and this machine has "
        f"{memory_bytes / 1e9:,.0f} GB. Ways out: set min_staff to 0 for every agency and leave desks blank "
        "(or large enough never to bind), so that people go to the nearest office and the radius model, "
        "which needs no assignment variables, applies; or lower max_distance_km; or use fewer, larger areas."
    )


# What a plan of the general model costs to make without building the model (`pipeline.unsearched_plan`):
# the relaxation, the repair and the assignment Lagrangian's arrays, per triple (20,000 generated
# areas x 2,000 sites: 7.9 million triples, 3.1 GB peak with the instance).
PLAN_BYTES_PER_TRIPLE = 400


def plan_refusal(inst: Instance, memory_bytes: int | None = None) -> str | None:
    """Why no plan is made without the general model either, when even its arrays would not fit."""
    memory_bytes = machine_memory_bytes() if memory_bytes is None else memory_bytes
    if len(inst.k_area) * PLAN_BYTES_PER_TRIPLE <= _MEMORY_SHARE * memory_bytes:
        return None
    return size_refusal(inst, memory_bytes)


def too_large_to_search(inst: Instance) -> bool:
    """Whether HiGHS would only search the general model nearby (`searched_nearby`): more than
    _NEARBY_TRIPLES assignments, with sites on the map.  From no start the moves then make the
    plan first (`pipeline.searched_from_moves`): on 2,000 generated areas (282,208 assignments)
    they prove 0.46 % in 7.2 s where HiGHS proved 0.83 % in 66.8 s."""
    s = inst.problem.settings
    return s.objective == "cost" and len(inst.k_area) > _NEARBY_TRIPLES and _site_positions(inst) is not None


def unsearched_message(gap: float, built: bool = False, previous: bool = False) -> str:
    """What the plan of `pipeline.unsearched_plan` is; `built`: the model would fit in memory;
    `previous`: it began from the previous plan's offices."""
    why = ("too large for HiGHS to search within the time limit (it would not finish the root LP)" if built
           else "too large to build on this machine")
    began = "the previous plan" if previous else "the nearest-office relaxation's plan"
    return (
        f"The general model is {why}, so this plan was not searched for by HiGHS: it has "
        f"the offices of {began} or of the assignment Lagrangian's choices, "
        f"staffed to the minimum, fitted to the desks, without the offices that cost more than they save and "
        f"with offices moved while that lowered the cost, people sent to the offices where serving them "
        f"costs least, and no plan costs less than it by more than {gap:.2%}. "
        "For a searched plan, set min_staff to 0 and leave desks blank (people then go to the nearest "
        "office, which the engine solves at this scale), lower max_distance_km, or use fewer, larger areas."
    )


def solve(
    inst: Instance, start: Start | None = None, complete: bool = False, time_limit_s: float | None = None
) -> Solution:
    """The best plan for the instance's settings (cost, or coverage then cost), from `start` if given.

    `complete`: the start's sites and agencies are kept and its assignment and staff found
    anew first (`completed`), for a start made for another problem (a relaxation's plan).
    `time_limit_s`: what is left of the settings' limit when other work has used some of it;
    the completion and the search share it.
    """
    s = inst.problem.settings
    time_limit_s = s.time_limit_s if time_limit_s is None else time_limit_s
    if s.objective == "cost" and (reason := unreachable_message(inst)):
        return Solution("infeasible", reason, diagnosis=(reason,))
    if too_big := size_refusal(inst):
        return Solution("error", too_big)
    started = time.perf_counter()
    m = build_model(inst)
    build_seconds = time.perf_counter() - started
    mip_start = start is not None and apply_start(m, start) and (not complete or completed(m, time_limit_s))
    solution = _solve_model(m, inst, mip_start, time_limit_s - (time.perf_counter() - started - build_seconds))
    # Every HiGHS run counts: diagnosis, the coverage stages and the nearest-office stage.
    return replace(solution, build_seconds=build_seconds, seconds=time.perf_counter() - started - build_seconds)


def _solve_model(m: pyo.ConcreteModel, inst: Instance, mip_start: bool, time_limit_s: float) -> Solution:
    s = inst.problem.settings
    started = time.perf_counter()
    time_limit_s = max(time_limit_s, min(_LEAST_SECONDS, s.time_limit_s))
    nearby = mip_start and too_large_to_search(inst)
    whole_s = (_WHOLE_SHARE if nearby else 1.0) * time_limit_s
    if stopped_on_request():  # asked while the start was completed: no search begins
        outcome = _loaded(m) if mip_start else _Outcome("error", None, None, None, 0.0)
    else:
        outcome = run_highs(m, whole_s, s.mip_gap, mip_start)
    if nearby and outcome.status == "feasible" and not stopped_on_request():
        # What a run takes beyond HiGHS's own limit: Pyomo loading the model, and reading it back.
        overhead = max(outcome.seconds - whole_s, 0.0)
        outcome = searched_nearby(m, inst, outcome, time_limit_s - (time.perf_counter() - started), overhead)
    if outcome.status == "infeasible":
        diagnosis = diagnose_infeasible(m, s.time_limit_s, s.mip_gap)
        return Solution("infeasible", " ".join(diagnosis), seconds=outcome.seconds, diagnosis=tuple(diagnosis))
    if outcome.status == "error":
        message = (
            "You stopped the search before a plan was found."
            if stopped_on_request()
            else f"No plan was found within the time limit of {s.time_limit_s:g} s (or HiGHS failed); "
            "raise time_limit_s or relax the rules."
        )
        return Solution("error", message, seconds=outcome.seconds)
    if s.objective == "coverage":
        outcome = _cheapest_at_best_coverage(m, outcome, s.time_limit_s, s.mip_gap)
    if s.travel_cost_per_km == 0:  # priced travel already sends people to the nearest office
        nearest_offices(m, s.time_limit_s, s.mip_gap)
    message = optimal_message(outcome.gap) if outcome.status == "optimal" else stopped_message(outcome.gap)
    return extract(m, inst, outcome, message)


def _loaded(m: pyo.ConcreteModel) -> _Outcome:
    """The plan loaded in the model (a completed start) as a search's outcome, without a bound.

    A Stop heard while the start was completed must not wait for the search: HiGHS hears no
    Stop inside its root LP (the Finnish sample: 9 s more, then the plan).
    """
    objective = next(m.component_objects(pyo.Objective, active=True))
    return _Outcome("feasible", pyo.value(objective), None, None, 0.0)


# Where a start is given, positions are known and the model has more than _NEARBY_TRIPLES
# assignments, the whole model gets _WHOLE_SHARE of the time and the search among nearby sites
# (`searched_nearby`) the rest, unless HiGHS has proven its plan.  HiGHS's search of the whole
# model goes nowhere there: on 2,000 generated areas (282,208 assignments) it had not finished
# the root LP after 118 s, and its bound was 86 M against plans of 980 M.  The Finnish sample
# (159,701) is proven within 0.34 % in about 115 s, and keeps the whole time.  HiGHS calls back
# only between nodes, not inside the root LP, so the switch cannot wait for a sign of stalling.
# 20 % rather than 40 % leaves room for a second neighbourhood where the limit allows it (not at
# 2,000 areas and 120 s once Pyomo's loading is counted; uncounted, it reached 977.1 M at 126 s).
_NEARBY_TRIPLES = 200_000
_WHOLE_SHARE = 0.2


# Closed sites freed beside each open one in a nearby search, at first and, once that brings no
# better plan, at most (2,000 generated areas: 1 frees 171 of 603 sites, solved in 40 s, plan
# 977.9 M; 2 free 248, 69 s, 976.8 M; 4 free 364, and HiGHS found nothing better than the
# start, 986.7 M, in 90 s).
_NEIGHBOURS = 1
_MOST_NEIGHBOURS = 2


def _site_positions(inst: Instance) -> tuple[np.ndarray, np.ndarray] | None:
    lat, lon = coordinates(inst.problem.sites)
    return None if np.isnan(lat).any() or np.isnan(lon).any() else (lat, lon)


def nearby_sites(inst: Instance, y: np.ndarray, neighbours: int = _NEIGHBOURS) -> np.ndarray:
    """The open sites and, beside each, the `neighbours` nearest closed ones (bool per site)."""
    lat, lon = _site_positions(inst)
    free = y.astype(bool).copy()
    closed = np.flatnonzero(~free)
    if closed.size == 0:
        return free
    for j in np.flatnonzero(y):
        km = geodesic_km(lat[j], lon[j], lat[closed], lon[closed])
        free[closed[np.argsort(km)[:neighbours]]] = True
    return free


def searched_nearby(
    m: pyo.ConcreteModel, inst: Instance, outcome: _Outcome, time_limit_s: float, overhead_s: float = 0.0
) -> _Outcome:
    """Better plans among the plan's sites and the closed ones beside them, while they improve;
    then with one more closed site beside each, up to _MOST_NEIGHBOURS.

    Where HiGHS does not finish the whole model's root LP (2,000 generated areas with minimum
    staff and desks: 282,208 assignments), it never improves on its start; with every other
    site closed the model is small enough to solve.  Its bound holds for that smaller model
    only, so the whole model's bound is kept.  Each run's `overhead_s` (Pyomo loading the
    model, about 5 s at 2,000 areas) is kept out of HiGHS's limit, so the search ends in time.
    """
    s = inst.problem.settings
    started = time.perf_counter()
    best, neighbours = outcome, _NEIGHBOURS
    while not stopped_on_request():
        left = time_limit_s - overhead_s - (time.perf_counter() - started)
        if left <= _LEAST_SECONDS:
            break
        free = nearby_sites(inst, np.array([round(m.y[j].value or 0) for j in m.J]), neighbours)
        shut = [m.y[j] for j in m.J if not free[j] and not m.y[j].fixed]
        for v in shut:
            v.fix(0)
        try:  # a tenth of the gap: within the gap of the smaller model is not yet its best plan
            found = run_highs(m, left, s.mip_gap / 10, mip_start=True)
        finally:
            for v in shut:
                v.unfix()
        if found.objective is None or found.objective >= best.objective - 1e-9 * abs(best.objective):
            if neighbours >= _MOST_NEIGHBOURS:
                break
            neighbours += 1
            continue
        gap = _relative_gap(found.objective, outcome.bound)
        status: Status = "optimal" if gap is not None and gap <= s.mip_gap else "feasible"
        best = replace(best, status=status, objective=found.objective, gap=gap)
    return replace(best, seconds=outcome.seconds + time.perf_counter() - started)


def with_bound(solution: Solution, bound: float | None, mip_gap: float) -> Solution:
    """The solution with a lower bound proven elsewhere (a relaxation), where it is better than HiGHS's own."""
    if bound is None or not solution.has_plan or solution.objective is None:
        return solution
    if solution.bound is not None and solution.bound >= bound:
        return solution
    bound = min(bound, solution.objective)
    gap = _relative_gap(solution.objective, bound)
    status = "optimal" if gap is not None and gap <= mip_gap + 1e-12 else solution.status
    message = optimal_message(gap) if status == "optimal" else stopped_message(gap)
    return replace(solution, bound=bound, mip_gap=gap, status=status, message=message)


# The share of the time limit given to completing a start.
_COMPLETION_SHARE = 0.1
# The search's time when earlier work has used up the limit: enough for HiGHS to load the start.
_LEAST_SECONDS = 1.0


def completed(m: pyo.ConcreteModel, time_limit_s: float) -> bool:
    """Find the best assignment and staff for the loaded sites and agencies; False when there is none.

    A relaxation's plan, fitted to the desks (`desk_fit`), has sites and agencies that
    serve, but a greedy assignment.  Handed to HiGHS with its assignment, a start costs HiGHS
    a repair search (the Finnish sample then ended its 120 s at a 25 % gap instead of 0.34 %);
    completed here, it is a plan HiGHS takes as its first incumbent.
    """
    decided = [v for var in (m.y, m.z) for v in var.values() if not v.fixed]
    for v in decided:
        v.fix(round(v.value or 0))
    try:
        outcome = run_highs(m, _COMPLETION_SHARE * time_limit_s, 1e-4)
    finally:
        for v in decided:
            v.unfix()
    return outcome.status in ("optimal", "feasible")


def minimise_instead(m: pyo.ConcreteModel, expr) -> None:
    """Make `expr` the model's only active objective (the later stages each ask one question)."""
    for obj in m.component_objects(pyo.Objective, active=True):
        obj.deactivate()
    m.del_component("secondary")
    m.secondary = pyo.Objective(expr=expr, sense=pyo.minimize)


def nearest_offices(m: pyo.ConcreteModel, time_limit_s: float, mip_gap: float) -> None:
    """Among plans with these sites and agencies at no higher cost, the one with least visit-km.

    When travel costs nothing, the cost objective is indifferent between offices within the
    limit and HiGHS may send people past a nearer one; this second stage makes the assignment
    (and the staffing that follows it) the one people would choose.  If it finds nothing in
    time, the plan already loaded stays.
    """
    cost = pyo.value(m.total_cost)
    free = [v for var in (m.y, m.z) for v in var.values() if not v.fixed]
    for v in free:
        v.fix(round(v.value or 0))
    m.cost_cap = pyo.Constraint(expr=m.total_cost <= cost + 1e-9 * abs(cost) + 1e-6)
    minimise_instead(m, m.visit_km)
    run_highs(m, time_limit_s, mip_gap)
    m.del_component(m.cost_cap)
    for v in free:
        v.unfix()


def optimal_message(gap: float | None) -> str:
    if not gap or gap < 1e-9:
        return "Optimal plan."
    return f"Optimal within the set mip_gap: no plan costs less than this one by more than {gap:.2%}."


def current_watcher() -> Watcher | None:
    """The watcher of the solve running in this context, for solve paths outside `run_highs`."""
    return _watcher.get()


def stopped_on_request() -> bool:
    watcher = _watcher.get()
    return watcher is not None and watcher.should_stop()


def stopped_message(gap: float | None) -> str:
    known = "unknown" if gap is None else f"{gap:.2%}"
    why = "You stopped the search" if stopped_on_request() else "The time limit stopped the search"
    return f"{why}; this is the best plan found (gap {known})."


def _cheapest_at_best_coverage(m, coverage: _Outcome, time_limit_s: float, mip_gap: float) -> _Outcome:
    """Second stage of the coverage objective: hold the coverage found, minimise cost.

    The coverage stage's plan stays loaded if the cost stage finds nothing better in time.
    """
    best = coverage.objective
    m.coverage_floor = pyo.Constraint(expr=m.covered_visits >= best * (1 - _COVERAGE_SLACK) - 1e-6)
    m.coverage.deactivate()
    m.cost.activate()
    remaining = max(time_limit_s - coverage.seconds, 0.1 * time_limit_s)
    cost = run_highs(m, remaining, mip_gap)
    if cost.status in ("optimal", "feasible"):
        worst = "optimal" if coverage.status == cost.status == "optimal" else "feasible"
        return replace(cost, status=worst, seconds=coverage.seconds + cost.seconds)
    return replace(coverage, objective=pyo.value(m.total_cost), bound=None, gap=None)


# --- why a plan is impossible -----------------------------------------------------------

_BUDGETS = {"annual_budget": "annual budget", "one_off_budget": "one-off budget", "agency_budget": "agency budgets"}
_OTHER_RULES = {
    "site_desks": "desk limits",
    "office_count": "min/max offices",
    "forced_sites": "sites forced open or closed",
}


def _present(m: pyo.ConcreteModel, names) -> list[str]:
    return [name for name in names if m.component(name) is not None and len(m.component(name)) > 0]


def _minimum(m: pyo.ConcreteModel, expr, time_limit_s: float, mip_gap: float) -> float | None:
    """A proven lower bound on `expr` under the model's active constraints; None if none is feasible.

    The bound, not the incumbent, is what a budget must reach: any budget below it is
    certainly too small, whatever the gap.
    """
    minimise_instead(m, expr)
    outcome = run_highs(m, time_limit_s, mip_gap)
    return outcome.bound if outcome.status in ("optimal", "feasible") else None


def diagnose_infeasible(m: pyo.ConcreteModel, time_limit_s: float, mip_gap: float) -> list[str]:
    """Say which rules make the plan impossible; for budgets, the least each would have to be."""
    budgets = _present(m, _BUDGETS)
    for name in budgets:
        m.component(name).deactivate()
    lines: list[str] = []
    if budgets:
        annual = _minimum(m, m.annual_cost, time_limit_s, mip_gap)
        if annual is not None:
            one_off = _minimum(m, m.one_off_cost, time_limit_s, mip_gap)
            named = ", ".join(_BUDGETS[b] for b in budgets)
            return [
                f"No plan fits the budgets ({named}). Meeting every other rule, the cheapest "
                f"annual cost is {annual:,.0f} and the cheapest one-off cost is {one_off:,.0f} "
                "(proven lower bounds); raise the budgets to at least these or relax the other rules."
            ]
        lines.append("No plan exists even without the budgets.")
    culprits = []
    for name in _present(m, _OTHER_RULES):
        m.component(name).deactivate()
        if _minimum(m, m.annual_cost, time_limit_s, mip_gap) is not None:
            culprits.append(_OTHER_RULES[name])
        m.component(name).activate()
    if culprits:
        lines.append("The plan becomes possible when any one of these is relaxed: " + ", ".join(culprits) + ".")
    else:
        lines.append(
            "No single rule explains it: the distance limits, desks, forced sites and office counts conflict together."
        )
    return lines


def today_key(problem: Problem) -> Problem:
    """The problem without what `price_today` ignores: equal keys, equal prices of today."""
    return replace(
        problem.with_settings(budget_annual=None, budget_one_off=None, min_offices=None, max_offices=None,
                              objective="cost"),
        agencies=tuple(replace(a, budget=None) for a in problem.agencies),
        sites=tuple(replace(s, force=None) for s in problem.sites),
        source=None,
    )


def price_today(inst: Instance) -> Solution:
    """Today's network (existing sites, today's agencies) staffed and assigned at least cost.

    Budgets, office counts and forced sites are plans for the future and do not apply;
    desks and distance limits do, so today's network can itself be infeasible.
    """
    today = replace(inst, problem=inst.problem.with_settings(objective="cost"))
    if pairs := today.unreachable_pairs(_today_usable(today)):
        return Solution(
            "infeasible",
            f"Today's network leaves {len(pairs)} area/agency pair(s) beyond the distance limit: {_names(inst, pairs)}.",
        )
    if too_big := size_refusal(today):
        return Solution("error", "Today's network was not priced. " + too_big)
    m = build_model(today)
    for name in (*_BUDGETS, "office_count", "forced_sites"):
        if m.component(name) is not None:
            m.component(name).deactivate()
    for j, site in enumerate(inst.problem.sites):
        m.y[j].fix(1 if site.is_existing else 0)
        for a in range(inst.n_agencies):
            m.z[j, a].fix(int(inst.present_today[j, a]))
    s = inst.problem.settings
    outcome = run_highs(m, s.time_limit_s, s.mip_gap)
    if outcome.status in ("optimal", "feasible"):
        if s.travel_cost_per_km == 0:
            nearest_offices(m, s.time_limit_s, s.mip_gap)
        return extract(m, today, outcome, "Today's network.")
    return Solution(
        outcome.status,
        "Today's network cannot serve every area within the distance limits with the desks it has.",
    )
