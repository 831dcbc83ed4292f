"""The pipeline prices today's network in a second process, also after HiGHS has run in this one."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

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
