"""PySAL spopt on the OR-Library instances: the tool the benchmark table times the engine against.

spopt 0.7 has one model that states these files, `PMedian`: exactly p facilities, each
client assigned whole to one of them.  The `cap*` instances are another problem (an opening
cost per warehouse, no p, demand that may be split between warehouses), and no spopt model
has fixed costs, so only p-median instances are accepted: forcing cap through `PMedian`
would time a different model and compare its objective with an optimum it cannot reach.

Needs the `bench` extra (`pip install -e '.[bench]'`): spopt and PuLP, with HiGHS run
in-process through highspy, the same solver library the engine uses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pulp
from spopt.locate import PMedian

from optimizer.orlib import PMedInstance


@dataclass(frozen=True)
class SpoptResult:
    objective: float | None  # None when HiGHS stopped without a solution
    seconds: float
    status: str  # HiGHS's own model status: PuLP reports a time-limited incumbent as "Optimal"


def highs(time_limit_s: float) -> pulp.HiGHS:
    """In-process HiGHS with a zero relative gap, so spopt must prove the optimum as the engine does."""
    return pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapRel=0.0)


def solve_with_spopt(inst: PMedInstance, time_limit_s: float) -> SpoptResult:
    """Build spopt's `PMedian` from the all-pairs distances (every node one unit of demand) and solve it.

    Timed from `from_cost_matrix` to the returned model, with spopt's results (the
    facility-client arrays) computed as by default: what a user of spopt waits for.
    """
    if not isinstance(inst, PMedInstance):
        raise TypeError(f"spopt has no model for {type(inst).__name__} (only the p-median instances)")
    started = time.perf_counter()
    model = PMedian.from_cost_matrix(inst.distances, np.ones(inst.n), p_facilities=inst.p, name="pmed")
    try:
        model.solve(highs(time_limit_s))
        objective = pulp.value(model.problem.objective)
    except RuntimeError:  # spopt's check_status: HiGHS ended without a solution
        objective = None
    seconds = time.perf_counter() - started
    solver = model.problem.solverModel
    return SpoptResult(objective, seconds, solver.modelStatusToString(solver.getModelStatus()))
