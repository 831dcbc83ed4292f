"""Re-solving after a budget or limit move in about a second: one HiGHS model kept, an LP bound, a rounding.

On this model the LP relaxation is very tight (Swedish sample: 903.6 against an optimum of
905.3 MSEK, 0.2 %), so the LP bound alone proves the usual 1 % gap.  What HiGHS lacks is
a good plan early: after a 5 % budget cut it spends a minute in root cuts without finding
one.  So a planner's budget move is answered by

1. changing only the budget rows of a HiGHS model kept from the last solve (and, for a
   tighter distance limit, the bounds of the assignments beyond it, which drop to 0), and
   re-solving its LP relaxation from the last basis (dual simplex, no presolve): a proven
   lower bound L;
2. the previous plan, if it still fits the budgets; else a rounding of the LP (sites whose
   y is above a threshold operate; a small MIP with y fixed picks agencies and staff);
3. if that plan is within the gap of L it is optimal within the gap; else a RENS sub-MIP
   (binaries integral in the LP stay fixed) and, last, the full MIP from the best plan.

The LP re-solve after a 5 % cut still takes about a second of dual simplex (1,500
iterations on the Swedish sample), and the rounding half a second more.  So in the idle time
after a plan, `rehearse` solves the LP and a rounding at nearby annual budgets: a move to a
rehearsed budget starts from its basis (no iterations) and finds its plan ready; a move in
between starts from the nearest rehearsed basis and may use the plan of any tighter
rehearsal, which fits a looser budget too.  Last, it learns each budget's floor in the LP,
below which no plan exists: such a budget is answered at once with the least it must be (the
full solve would spend its time limit there on the Swedish sample, unable to prove it).

Every plan comes from a HiGHS run on the model's own rows, so it is feasible; every bound
is an LP or MIP bound of the same model, so the gap reported is proven.  Anything else
(another objective, unpriced travel, a budget that had no row, a limit wider than the one
the model was built for, other inputs) goes to `solve.solve`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace

import highspy
import numpy as np
from pyomo.contrib.solver.solvers.highs import Highs

from models import build_model
from models.highs import quiet_highs

from .instance import Instance
from .problem import Problem
from .solve import Solution, Watcher, current_watcher, hand_start, optimal_message, stopped_message

_INF = highspy.kHighsInf
# The settings a budget move changes, and the model's rows that hold them.
_BUDGET_ROWS = {"budget_annual": "annual_budget", "budget_one_off": "one_off_budget"}
_BUDGET_NAMES = {"budget_annual": "annual budget", "budget_one_off": "one-off budget"}
# LP roundings tried in turn: sites whose y exceeds the threshold operate.
_THRESHOLDS = (0.45, 0.3, 0.01)
# The rounding's own sub-MIP is solved tighter than the plan's gap, so that what it finds
# is usually within the plan's gap of the LP bound.
_SUBMIP_GAP_SHARE = 0.1
_RENS_LIMIT_S = 5.0
# Annual budgets rehearsed in idle time, as factors of the last one: cuts first, the
# planners' usual direction, small steps before large.
REHEARSED_FACTORS = (0.95, 1.05, 0.98, 1.02, 0.9, 1.1, 0.85)
_REHEARSAL_LIMIT_S = 5.0
_REHEARSALS_KEPT = 3 * len(REHEARSED_FACTORS)
# A rehearsed LP that needs more dual simplex iterations than this is dropped: proving a budget
# infeasible takes 20 times as many (Swedish sample: 30,000 against 1,500 for a 5 % cut).
_REHEARSAL_ITERATIONS = 6_000
_UNLIMITED = 2**31 - 1


def _stop_when_asked(watcher: Watcher | None):
    """An interrupt callback for an LP: it stops when the watcher asks (idle work, a stop button)."""
    return lambda event: event.interrupt(watcher is not None and watcher.should_stop())


def _row(lp: highspy.HighsLp, row: int) -> np.ndarray:
    """One row of the constraint matrix as a dense vector over the columns."""
    matrix = lp.a_matrix_
    start, index, value = map(np.array, (matrix.start_, matrix.index_, matrix.value_))
    dense = np.zeros(lp.num_col_)
    if matrix.format_ == highspy.MatrixFormat.kRowwise:
        dense[index[start[row]:start[row + 1]]] = value[start[row]:start[row + 1]]
    else:
        columns = np.repeat(np.arange(lp.num_col_), np.diff(start))
        dense[columns[index == row]] = value[index == row]
    return dense


def _without_levers(problem: Problem) -> Problem:
    """The problem without what a re-solve may move: budgets and distance limits."""
    return replace(
        problem.with_settings(budget_annual=None, budget_one_off=None, max_distance_km=None),
        agencies=tuple(replace(a, max_distance_km=None) for a in problem.agencies),
        source=None,
    )


class Resolver:
    """The model of one instance, handed to HiGHS once, re-solved for other budgets and tighter limits."""

    def __init__(self, inst: Instance):
        self.inst = inst
        m = build_model(inst)
        solver = Highs()
        solver.set_instance(m)
        self.mip: highspy.Highs = solver._solver_model  # noqa: SLF001 -- Pyomo exposes no public handle
        self.mip.setOptionValue("output_flag", False)
        columns = solver._pyomo_var_to_solver_var_map  # noqa: SLF001
        rows = solver._pyomo_con_to_solver_con_map  # noqa: SLF001
        J, A = inst.n_sites, inst.n_agencies
        pairs = [(j, a) for j in range(J) for a in range(A)]
        self.col_y = np.array([columns[id(m.y[j])] for j in range(J)])
        self.col_z = np.array([columns[id(m.z[k])] for k in pairs])
        self.col_n = np.array([columns[id(m.n[k])] for k in pairs])
        triples = inst.triples()
        self.col_x = np.array([columns[id(m.x[k])] for k in triples], dtype=np.int64)
        self.rows = {s: rows[m.component(name)] for s, name in _BUDGET_ROWS.items() if m.component(name) is not None}
        lp = self.mip.getLp()
        self.cost, self.offset = np.array(lp.col_cost_), lp.offset_
        self.full_upper = np.array(lp.col_upper_)
        # The bounds of the problem being solved: a tighter limit closes assignments beyond it.
        self.lower, self.upper = np.array(lp.col_lower_), self.full_upper.copy()
        self.col_of_triple = dict(zip(triples, self.col_x.tolist()))
        self.all_columns = np.arange(lp.num_col_, dtype=np.int32)
        self.budget_rows = {key: _row(lp, row) for key, row in self.rows.items()}
        # Pyomo moves an expression's constant into the row's bound (the closing cost of every
        # existing site, in close_cost * (1 - y)): a budget b is the row bound b - constant.
        self.constants = {key: getattr(inst.problem.settings, key) - lp.row_upper_[row]
                          for key, row in self.rows.items()}
        self.limits = {key: lp.row_upper_[row] for key, row in self.rows.items()}
        self.relaxation = quiet_highs()
        self.relaxation.passModel(self.mip.getModel())
        self.relaxation.changeColsIntegrality(
            lp.num_col_, self.all_columns, np.zeros(lp.num_col_, dtype=np.uint8)
        )
        self.previous: np.ndarray | None = None
        # Rehearsed annual-budget limits (row bounds): each one's LP basis, and the plans found.
        self.bases: dict[float, highspy.HighsBasis] = {}
        self.rehearsed: list[np.ndarray] = []
        self.floors: dict[str, float] = {}  # the least each budget row can be (row units), once known
        self.lp_bound: float | None = None
        self.relaxation.run()  # a basis to start the next re-solve from

    def serves(self, inst: Instance) -> bool:
        """Whether `inst` is this one with other budgets or tighter limits, in a case covered here."""
        s = inst.problem.settings
        return (
            _without_levers(inst.problem) == _without_levers(self.inst.problem)
            and s.objective == "cost"
            and s.travel_cost_per_km > 0  # unpriced travel needs the nearest-office stage
            and all(getattr(s, key) is None or key in self.rows for key in _BUDGET_ROWS)
            and all(triple in self.col_of_triple for triple in inst.triples())
        )

    def remember(self, inst: Instance, sol: Solution) -> None:
        """The plan to try first next time (the last plan of `inst`, from wherever it was solved)."""
        values = np.zeros(len(self.all_columns))
        values[self.col_y], values[self.col_z] = sol.y, sol.z.ravel()
        values[self.col_n] = sol.n.ravel()
        values[self._columns(inst)] = sol.x
        self.previous = values

    # --- pieces -------------------------------------------------------------------------

    def _columns(self, inst: Instance) -> list[int]:
        """The column of each of `inst`'s triples (all of them are this model's, see `serves`)."""
        return [self.col_of_triple[t] for t in inst.triples()]

    def _objective(self, values: np.ndarray) -> float:
        return float(self.cost @ values + self.offset)

    def _set_limits(self, inst: Instance) -> None:
        """Assignments the new limits exclude get an upper bound of 0, in both models."""
        self.upper = self.full_upper.copy()
        allowed = np.zeros(len(self.all_columns), dtype=bool)
        allowed[self._columns(inst)] = True
        closed = self.col_x[~allowed[self.col_x]]
        self.upper[closed] = 0.0
        self.relaxation.changeColsBounds(len(self.all_columns), self.all_columns, self.lower, self.upper)

    def _set_budgets(self, problem: Problem) -> None:
        self._set_row_limits({key: _INF if getattr(problem.settings, key) is None
                              else getattr(problem.settings, key) - self.constants[key] for key in self.rows})

    def _set_row_limits(self, limits: dict[str, float]) -> None:
        for key, limit in limits.items():
            self.limits[key] = limit
            for model in (self.mip, self.relaxation):
                model.changeRowBounds(self.rows[key], -_INF, limit)

    def _start_from_nearest_basis(self, before: float | None) -> None:
        """The LP starts from the rehearsed basis nearest the new annual budget, when nearer than its own."""
        limit = self.limits.get("budget_annual", _INF)
        if not self.bases or before is None or limit >= _INF:
            return
        nearest = min(self.bases, key=lambda rehearsed: abs(rehearsed - limit))
        if abs(nearest - limit) < abs(before - limit):
            self.relaxation.setBasis(self.bases[nearest])

    def _solve_relaxation(self, watcher: Watcher | None = None, iterations: int = _UNLIMITED) -> bool:
        """The LP from its basis; a `watcher` may interrupt the simplex, `iterations` caps it."""
        h = self.relaxation
        h.setOptionValue("presolve", "off" if h.getBasis().valid else "choose")
        h.setOptionValue("simplex_iteration_limit", iterations)
        check = _stop_when_asked(watcher)
        h.cbSimplexInterrupt.subscribe(check)
        try:
            h.run()
        finally:
            h.cbSimplexInterrupt.unsubscribe(check)
        return h.getModelStatus() == highspy.HighsModelStatus.kOptimal

    def _target(self, bound: float, gap: float) -> float:
        """The cost a plan must not exceed to be within `gap` of `bound`: (U - L) / U <= gap."""
        return bound / (1 - gap) if bound > 0 else bound * (1 - gap)

    def rehearse(self, factors: Iterable[float] = REHEARSED_FACTORS) -> None:
        """In idle time: the LP basis and a rounded plan at annual budgets `factors` x the current one.

        Meant to run under a watcher that asks to stop when the planner moves (HiGHS then
        stops the rounding; an LP takes about a second).  Leaves the budgets and the LP's
        basis as they were.
        """
        if "budget_annual" not in self.rows or self.limits["budget_annual"] >= _INF:
            return
        watcher, gap = current_watcher(), self.inst.problem.settings.mip_gap
        saved, basis = dict(self.limits), self.relaxation.getBasis()
        budget = saved["budget_annual"] + self.constants["budget_annual"]
        try:
            for factor in factors:
                if watcher is not None and watcher.should_stop():
                    return
                limit = factor * budget - self.constants["budget_annual"]
                if limit < self.floors.get("budget_annual", -_INF):
                    continue
                self._set_row_limits({"budget_annual": limit})
                self.relaxation.setBasis(basis)
                if not self._solve_relaxation(watcher, _REHEARSAL_ITERATIONS):
                    continue
                self.bases[limit] = self.relaxation.getBasis()
                bound = self.relaxation.getInfo().objective_function_value
                relaxed = np.array(self.relaxation.getSolution().col_value)
                found = self._rounded(relaxed, _REHEARSAL_LIMIT_S, gap, self._target(bound, gap))
                if found is not None:
                    self.rehearsed.append(found)
            self._learn_floors(watcher)
        finally:
            self._set_row_limits(saved)
            self.relaxation.setBasis(basis)
            self.rehearsed = self.rehearsed[-_REHEARSALS_KEPT:]
            self.bases = dict(list(self.bases.items())[-_REHEARSALS_KEPT:])

    def _learn_floors(self, watcher: Watcher | None) -> None:
        """The least each budget row can be, in the LP without budgets and with every assignment open.

        No budget below it has a plan, at any limit the model serves, so `resolve` says so at
        once instead of proving the LP infeasible (23 s on the Swedish sample) and handing it
        to a full solve that cannot prove it in its time limit.  A floor is kept only when its
        LP was solved to the end.
        """
        for key, row in self.rows.items():
            if key in self.floors:
                continue
            h = quiet_highs()
            h.passModel(self.relaxation.getModel())
            h.changeColsBounds(len(self.all_columns), self.all_columns, self.lower, self.full_upper)
            for other in self.rows.values():
                h.changeRowBounds(other, -_INF, _INF)
            h.changeColsCost(len(self.all_columns), self.all_columns, self.budget_rows[key])
            h.changeObjectiveOffset(0.0)
            stop = _stop_when_asked(watcher)
            h.cbSimplexInterrupt.subscribe(stop)
            h.cbIpmInterrupt.subscribe(stop)
            h.run()
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                return
            self.floors[key] = h.getInfo().objective_function_value

    def _below_floor(self, started: float) -> Solution | None:
        """A budget below its floor: no plan, said at once with the least that budget must be."""
        short = [key for key, floor in self.floors.items() if self.limits[key] < floor - 1e-9 * max(abs(floor), 1.0)]
        if not short:
            return None
        least = "; ".join(f"the {_BUDGET_NAMES[key]} at least {self.floors[key] + self.constants[key]:,.0f}"
                          for key in short)
        message = (f"No plan fits the budgets. Meeting every other rule, any plan needs {least} "
                   "(proven lower bounds, from the LP relaxation); raise the budgets or relax the other rules.")
        return Solution("infeasible", message, seconds=time.perf_counter() - started, diagnosis=(message,))

    def _fits(self, values: np.ndarray) -> bool:
        """Whether a plan of this instance meets the new budgets and limits (it met every other row)."""
        return bool(np.all(values <= self.upper + 1e-9)) and all(coefficients @ values <= self.limits[key] + 1e-9 * abs(self.limits[key] + self.constants[key]) + 1e-6
                   for key, coefficients in self.budget_rows.items())

    def _run_mip(self, lower: np.ndarray, upper: np.ndarray, time_limit_s: float, gap: float,
                 start: np.ndarray | None, target: float | None) -> tuple[np.ndarray | None, float]:
        """One HiGHS run within column bounds; stops early once a plan reaches `target`.

        Its plans are plans of the whole model, so a watcher hears them as incumbents, with
        the LP bound (a sub-MIP's own bound holds only within its column bounds).
        """
        h = self.mip
        h.changeColsBounds(len(self.all_columns), self.all_columns, lower, upper)
        h.clearSolver()
        h.setOptionValue("time_limit", max(time_limit_s, 0.05))
        h.setOptionValue("mip_rel_gap", gap)
        if start is not None:
            hand_start(h, start)
        watcher = current_watcher()
        best = [_INF]  # the callback's data carries no valid primal bound at every call

        def improved(event) -> None:
            best[0] = min(best[0], event.data_out.objective_function_value)
            if watcher is not None:
                watcher.progress(best[0], self.lp_bound)

        def check(event) -> None:
            # Set both ways: HiGHS keeps the flag of an earlier, interrupted run of this model.
            event.interrupt((target is not None and best[0] <= target)
                            or (watcher is not None and watcher.should_stop()))

        h.cbMipImprovingSolution.subscribe(improved)
        h.cbMipInterrupt.subscribe(check)
        try:
            h.run()
            info = h.getInfo()  # before the bounds are restored, which discards the solution
            found = np.array(h.getSolution().col_value) if info.primal_solution_status == 2 else None
            return found, info.mip_dual_bound
        finally:
            h.cbMipImprovingSolution.unsubscribe(improved)
            h.cbMipInterrupt.unsubscribe(check)
            h.changeColsBounds(len(self.all_columns), self.all_columns, self.lower, self.upper)

    def _rounded(self, relaxed: np.ndarray, time_left_s: float, gap: float, target: float) -> np.ndarray | None:
        for threshold in _THRESHOLDS:
            operate = (relaxed[self.col_y] > threshold).astype(float)
            lower, upper = self.lower.copy(), self.upper.copy()
            lower[self.col_y] = upper[self.col_y] = operate
            found, _ = self._run_mip(lower, upper, time_left_s, gap * _SUBMIP_GAP_SHARE, None, target)
            if found is not None:
                return found
        return None

    def _rens(self, relaxed: np.ndarray, time_left_s: float, gap: float, start: np.ndarray | None,
              target: float) -> np.ndarray | None:
        binaries = np.concatenate([self.col_y, self.col_z])
        lower, upper = self.lower.copy(), self.upper.copy()
        upper[binaries[relaxed[binaries] <= 1e-6]] = 0
        lower[binaries[relaxed[binaries] >= 1 - 1e-6]] = 1
        found, _ = self._run_mip(lower, upper, min(_RENS_LIMIT_S, time_left_s), gap * _SUBMIP_GAP_SHARE, start, target)
        return found

    def _better(self, *plans: np.ndarray | None) -> np.ndarray | None:
        found = [p for p in plans if p is not None]
        return min(found, key=self._objective) if found else None

    # --- the re-solve -----------------------------------------------------------------------

    def resolve(self, inst: Instance) -> Solution | None:
        """The plan for `inst` (see `serves`); "infeasible" for a budget below its known floor;
        None when the full solve must answer (the LP has no solution, which the full solve explains)."""
        started = time.perf_counter()
        s = inst.problem.settings
        before = self.limits.get("budget_annual")
        self._set_budgets(inst.problem)
        self._set_limits(inst)
        self._start_from_nearest_basis(before)
        impossible = self._below_floor(started)
        if impossible is not None:
            return impossible
        if not self._solve_relaxation():
            return None
        bound = self.lp_bound = self.relaxation.getInfo().objective_function_value
        relaxed = np.array(self.relaxation.getSolution().col_value)
        target = self._target(bound, s.mip_gap)
        left = lambda: s.time_limit_s - (time.perf_counter() - started)  # noqa: E731
        best = self._better(*(p for p in (self.previous, *self.rehearsed) if p is not None and self._fits(p)))
        if best is None or self._objective(best) > target:
            best = self._better(best, self._rounded(relaxed, left(), s.mip_gap, target))
        if best is None or self._objective(best) > target:
            best = self._better(best, self._rens(relaxed, left(), s.mip_gap, best, target))
        if best is None or self._objective(best) > target:
            found, mip_bound = self._run_mip(self.lower, self.upper, left(), s.mip_gap, best, None)
            best, bound = self._better(best, found), max(bound, mip_bound)
        seconds = time.perf_counter() - started
        if best is None:
            return None
        self.previous = best
        return self._solution(inst, best, bound, seconds)

    def _solution(self, inst: Instance, values: np.ndarray, bound: float, seconds: float) -> Solution:
        objective = self._objective(values)
        gap = max(objective - bound, 0.0) / max(abs(objective), 1e-10)
        optimal = gap <= self.inst.problem.settings.mip_gap + 1e-12
        J, A = self.inst.n_sites, self.inst.n_agencies
        z = (values[self.col_z] > 0.5).reshape(J, A)
        n = np.where(z, np.maximum(values[self.col_n].reshape(J, A), 0.0), 0.0)
        if self.inst.problem.settings.staff_integer:
            n = np.round(n)
        x = values[self._columns(inst)]
        return Solution(
            "optimal" if optimal else "feasible",
            optimal_message(gap) if optimal else stopped_message(gap),
            objective, bound, gap,
            values[self.col_y] > 0.5, z, n, np.clip(x, 0.0, 1.0),
            seconds,
        )
