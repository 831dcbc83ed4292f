"""Errors a user can act on.  Anything raised from here is shown as text, never as a traceback."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InputProblem:
    """One thing wrong in the input workbook, located the way a person finds it in Excel."""

    sheet: str
    row: int | None  # the Excel row number (the header is row 1); None for a whole sheet/column
    column: str | None  # the header name as the user wrote it
    message: str  # what is wrong and how to fix it

    def __str__(self) -> str:
        where = f"sheet '{self.sheet}'"
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column '{self.column}'"
        return f"{where}: {self.message}"


class InputError(Exception):
    """The workbook cannot be used as it is; carries every problem found, not just the first."""

    def __init__(self, problems: list[InputProblem]):
        self.problems = list(problems)
        super().__init__(self.report())

    def report(self) -> str:
        n = len(self.problems)
        head = f"The input has {n} problem{'s' if n != 1 else ''}:"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])
