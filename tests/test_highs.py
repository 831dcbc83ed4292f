"""HiGHS objects the engine makes print nothing, not even highspy's banner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_process_that_makes_highs_objects_prints_nothing_on_stdout():
    code = "from models.highs import quiet_highs; quiet_highs().run(); quiet_highs(); print('done')"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "done\n"
