"""HiGHS objects made quietly.

highspy prints its banner on standard output when a process makes its first `Highs`
(highspy 1.16), before any option can be set.  On the command line that banner would land
in front of `--json` output, so the first one is made with standard output closed.
"""

from __future__ import annotations

import functools
import os
import sys

import highspy


@functools.cache
def _banner_swallowed() -> None:
    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def quiet_highs() -> highspy.Highs:
    """A HiGHS object that prints nothing."""
    _banner_swallowed()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h
