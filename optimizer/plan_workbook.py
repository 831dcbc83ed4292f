"""The plan as an Excel workbook: summary, sites, assignments, areas, changes.

Written with openpyxl's write-only mode (constant memory, fast for national models) into
a temporary file that replaces the target only once complete.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, BinaryIO, Iterable

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from .atomic import save_workbook
from .plan import Plan
from .problem import Problem

_BOLD = Font(bold=True)


def _cell_value(value: Any) -> Any:
    """Excel has no NaN or numpy scalars: blanks for missing, plain Python for the rest."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def _write_sheet(wb: Workbook, title: str, header: list[str], rows: Iterable[Iterable[Any]], widths=None) -> None:
    ws = wb.create_sheet(title)
    for k, width in enumerate(widths or [max(12, len(h) + 2) for h in header]):
        ws.column_dimensions[get_column_letter(k + 1)].width = width
    head = []
    for name in header:
        cell = WriteOnlyCell(ws, value=name)
        cell.font = _BOLD
        head.append(cell)
    ws.append(head)
    for row in rows:
        ws.append([_cell_value(v) for v in row])


def _write_frame(wb: Workbook, title: str, frame: pd.DataFrame) -> None:
    _write_sheet(wb, title, list(frame.columns), frame.itertuples(index=False, name=None))


def summary_rows(plan: Plan, problem: Problem) -> list[tuple]:
    """(item, plan, today, change) rows: provenance, outcome, figures, stage times, settings."""
    sol = plan.solution
    source = problem.source
    rows: list[tuple] = [
        ("input file", source.file_name if source else None, None, None),
        ("input SHA-256", source.sha256 if source else None, None, None),
        ("status", plan.status, None, None),
        ("message", plan.message, None, None),
        ("mip gap", sol.mip_gap, None, None),
        ("objective bound", sol.bound, None, None),
        ("solver time s", sol.seconds, None, None),
        ("today's network", plan.today_message, None, None),
    ]
    if len(sol.diagnosis) > 1:  # a single line is the message itself
        rows += [(f"explanation {k + 1}", line, None, None) for k, line in enumerate(sol.diagnosis)]
    today = plan.today or {}
    for name, value in plan.figures.items():
        before = today.get(name)
        change = value - before if before is not None else None
        rows.append((name, value, before, change))
    rows += [(f"time {stage} s", seconds, None, None) for stage, seconds in plan.timings.items()]
    settings = problem.settings
    rows += [(f"setting {k}", getattr(settings, k), None, None) for k in settings.__dataclass_fields__]
    return rows


def write_plan(plan: Plan, problem: Problem, path: str | Path | BinaryIO) -> None:
    """Write the plan workbook atomically (an error or Ctrl-C leaves no half-written file), or into a stream."""
    wb = Workbook(write_only=True)
    _write_sheet(wb, "summary", ["item", "plan", "today", "change"], summary_rows(plan, problem), [44, 30, 18, 18])
    for title, frame in (
        ("sites", plan.sites),
        ("assignments", plan.assignments),
        ("areas", plan.areas),
        ("changes", plan.changes),
    ):
        _write_frame(wb, title, frame)
    save_workbook(wb, path)
