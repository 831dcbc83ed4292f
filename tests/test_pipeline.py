"""The pipeline prices today's network in a second process, also after HiGHS has run in this one; the
general model starts from, and is bounded by, nearest-office problems."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from models.nearest_office import eligible
from optimizer.instance import build_instance
from optimizer.pipeline import general_hint, overspend, solve_instance
from optimizer.solve import solve
from tests.test_radius import random_problem

ROOT = Path(__file__).resolve().parents[1]

# A process forked after HiGHS has started its worker threads spins for ever in its first
# parallel task; the Swedish sample's pricing has one.  So: solve the demo here, then plan
# the Swedish sample with today's network priced in the second process.
_TWO_PLANS = textwrap.dedent(
    """
    from optimizer.pipeline import plan, prepare
    from optimizer.workbook import read_problem

    if __name__ == "__main__":
        plan(prepare(read_problem("inputs/demo.xlsx")), with_today=False)
        result = plan(prepare(read_problem("inputs/sweden.xlsx")))
        print(result.status, round(result.figures["annual cost"] - result.today["annual cost"]))
    """
)


def test_a_second_plan_in_the_same_process_prices_today_and_ends():
    done = subprocess.run([sys.executable, "-c", _TWO_PLANS], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    status, change = done.stdout.split()
    assert status == "optimal" and int(change) < 0  # the plan costs less a year than today's network


def _with_minimum_staff_and_desks(seed: int):
    rng = np.random.default_rng(seed)
    p = random_problem(seed)
    return replace(p, agencies=tuple(replace(a, min_staff=float(rng.integers(1, 3))) for a in p.agencies),
                   sites=tuple(replace(s, desks=float(rng.integers(2, 40))) for s in p.sites))


@pytest.mark.parametrize("seed", range(30))
def test_the_relaxation_bounds_the_general_model_and_its_start_keeps_the_budgets(seed):
    """Minimum staff and desks added: the nearest-office relaxation's bound is below the general optimum,
    a start kept its budgets, and the general model started from it reaches the same optimum."""
    inst = build_instance(_with_minimum_staff_and_desks(seed))
    assert not eligible(inst)
    general = solve(inst)
    start, bound = general_hint(inst)
    if general.status == "infeasible":
        assert solve_instance(inst).status == "infeasible"
        return
    scale = 1e-6 * max(1.0, abs(general.objective))
    assert bound is not None and bound <= general.objective + scale
    if start is not None:
        annual, agencies = overspend(inst, start)
        assert annual <= scale and np.all(agencies <= scale)
    assert solve_instance(inst).objective == pytest.approx(general.objective, rel=1e-7, abs=1e-6)
