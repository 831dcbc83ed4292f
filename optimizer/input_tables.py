"""The input sheets as a person edits them in the app: typed for a grid, changed cell by cell.

The app keeps the sheets (`read_sheets`' frames) as the one truth about the inputs: the
grids edit them, the levers (budgets, limits, locks) write into them, validation reads
them (`problem_from_sheets`) and the download writes them.  So a lever and a cell can never
disagree, and the downloaded workbook is exactly what was solved.

Nothing the user typed is lost on the way into a grid: a column becomes numeric only when
every value in it is already a number; otherwise it stays text, bad values included, for
the user to find and fix.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import pandas as pd

from .errors import InputError, InputProblem
from .workbook import AGENCIES, SETTINGS_SHEET, SHEET_BY_NAME, SITES, is_blank, write_input_workbook

Sheets = dict[str, pd.DataFrame]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_text(value: object) -> object:
    if is_blank(value):
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _numeric_kind(sheet_name: str, column: str) -> bool:
    sheet = SHEET_BY_NAME.get(sheet_name)
    if sheet is None or column not in {c.name for c in sheet.columns}:
        return False
    return sheet.column(column).kind in ("number", "integer")


def numbered(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows labelled as Excel numbers them (the header is row 1), as problems are reported."""
    return frame.set_axis(pd.RangeIndex(2, len(frame) + 2), axis=0)


def editable(frame: pd.DataFrame, sheet_name: str) -> pd.DataFrame:
    """The sheet typed for a grid: numbers as numbers where all of them are, else text."""
    out = {}
    for column in frame.columns:
        values = frame[column]
        if _numeric_kind(sheet_name, column) and all(is_blank(v) or _is_number(v) for v in values):
            out[column] = pd.to_numeric(values.map(lambda v: None if is_blank(v) else v), errors="coerce").astype(
                "float64"
            )
        else:
            out[column] = values.map(_as_text).astype("string")
    return numbered(pd.DataFrame(out, index=frame.index))


def editable_sheets(sheets: Mapping[str, pd.DataFrame]) -> Sheets:
    return {name: editable(frame, name) for name, frame in sheets.items()}


def apply_edits(frame: pd.DataFrame, edits: Mapping[str, Any]) -> pd.DataFrame:
    """A grid's edits (`st.data_editor`'s state: edited, added and deleted rows) applied to the frame.

    Row numbers in the edits are positions in the frame as shown (not its Excel row labels);
    deletions are applied last so that they refer to the same rows as the other edits.
    """
    out = frame.copy()
    for position, cells in (edits.get("edited_rows") or {}).items():
        for column, value in cells.items():
            if not _fits(out[column], value):
                out[column] = out[column].map(_as_text).astype("string")
            out.iloc[int(position), out.columns.get_loc(column)] = _cell(out[column], value)
    added = [{column: value for column, value in row.items() if column in out.columns}
             for row in edits.get("added_rows") or []]
    for row in added:
        for column, value in row.items():
            if not _fits(out[column], value):
                out[column] = out[column].map(_as_text).astype("string")
    added = [{column: _cell(out[column], value) for column, value in row.items()} for row in added]
    if added:
        out = pd.concat([out, pd.DataFrame(added, columns=out.columns).astype(out.dtypes.to_dict())],
                        ignore_index=True)
    deleted = sorted(int(p) for p in edits.get("deleted_rows") or [])
    if deleted:
        out = out.drop(index=out.index[deleted])
    return numbered(out)


def _fits(column: pd.Series, value: object) -> bool:
    """Whether the column's type holds the value; a number column given text becomes text."""
    if is_blank(value) or not pd.api.types.is_float_dtype(column):
        return True
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool)


def _cell(column: pd.Series, value: object) -> object:
    """A value typed into a grid, in the column's type (a cleared cell is blank)."""
    if is_blank(value):
        return float("nan") if pd.api.types.is_float_dtype(column) else pd.NA
    if pd.api.types.is_float_dtype(column):
        return float(value)
    return str(value)


# --- the levers: one cell each --------------------------------------------------------------


def setting(sheets: Mapping[str, pd.DataFrame], key: str) -> object:
    """The settings sheet's value for `key`, as it is in the sheet (None when blank or absent)."""
    frame = sheets.get(SETTINGS_SHEET.name)
    if frame is None or "key" not in frame or "value" not in frame:
        return None
    rows = frame.index[frame["key"].astype("string").str.strip() == key]
    return None if not len(rows) or is_blank(frame.at[rows[0], "value"]) else frame.at[rows[0], "value"]


def with_setting(sheets: Mapping[str, pd.DataFrame], key: str, value: object) -> Sheets:
    """The sheets with the setting `key` set (a row is added when the sheet lacks it)."""
    frame = sheets[SETTINGS_SHEET.name].copy()
    rows = frame.index[frame["key"].astype("string").str.strip() == key]
    text = _as_text(value)
    if len(rows):
        frame.loc[rows[0], "value"] = text if text is not None else pd.NA
    else:
        row = pd.DataFrame([{"key": key, "value": text}], columns=frame.columns).astype(frame.dtypes.to_dict())
        frame = numbered(pd.concat([frame, row], ignore_index=True))
    return {**sheets, SETTINGS_SHEET.name: frame}


def with_cell(sheets: Mapping[str, pd.DataFrame], sheet: str, record_id: str, column: str, value: object) -> Sheets:
    """The sheets with one record's cell set, the record found by its id (first column of the key)."""
    frame = sheets[sheet].copy()
    (key,) = SHEET_BY_NAME[sheet].key
    rows = frame.index[frame[key].astype("string").str.strip() == record_id]
    if not len(rows):
        raise KeyError(f"no row with {key} '{record_id}' in sheet '{sheet}'")
    if column not in frame.columns:
        frame[column] = pd.Series(pd.NA, index=frame.index, dtype="float64" if _numeric_kind(sheet, column) else "string")
    frame.loc[rows[0], column] = _cell(frame[column], value)
    return {**sheets, sheet: frame}


def with_agency_limit(sheets: Mapping[str, pd.DataFrame], agency_id: str, km: float | None) -> Sheets:
    return with_cell(sheets, AGENCIES.name, agency_id, "max_distance_km", km)


def with_force(sheets: Mapping[str, pd.DataFrame], site_id: str, force: str | None) -> Sheets:
    """Lock a site open or closed, or (None) let the plan decide."""
    return with_cell(sheets, SITES.name, site_id, "force", force)


# --- problems and downloads -----------------------------------------------------------------


def problems_by_sheet(error: InputError) -> dict[str, list[InputProblem]]:
    out: dict[str, list[InputProblem]] = {}
    for problem in error.problems:
        out.setdefault(problem.sheet, []).append(problem)
    return out


def problem_rows(problems: list[InputProblem]) -> pd.DataFrame:
    """The problems as a small table to show beside the grid; row numbers as in the grid's row label."""
    return pd.DataFrame(
        {
            "row": [p.row if p.row is not None else pd.NA for p in problems],
            "column": [p.column or "" for p in problems],
            "problem": [p.message for p in problems],
        }
    ).astype({"row": "Int64"})


def workbook_bytes(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    """The sheets as an input workbook, in the format the CLI reads."""
    buffer = io.BytesIO()
    write_input_workbook(sheets, buffer)
    return buffer.getvalue()
