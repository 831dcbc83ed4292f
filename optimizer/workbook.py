"""The input workbook: an .xlsx an analyst fills in, read into a validated `Problem`, and back.

The sheets and their columns are declared once, in `SHEETS` (and the settings keys in
`SETTINGS`); reading, validation, the blank template, its README and the writing of a
`Problem` back to sheets are all driven by that table, so a new column is one new line.

Reading never stops at the first problem: an analyst who fixes a workbook by trial and
error needs every problem at once, each located the way Excel shows it (sheet, row
number with the header as row 1, column header) and phrased as what to type instead.
Column names equal the field names of the records in `optimizer.problem`, and defaults
are the dataclass defaults: a blank cell simply leaves the field out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
import openpyxl
import pandas as pd
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from optimizer.atomic import save_workbook
from optimizer.errors import InputError, InputProblem
from optimizer.problem import Agency, Area, Problem, Settings, Site, Source

# --- the schema ---------------------------------------------------------------------------

Kind = Literal["text", "number", "integer", "flag", "choice", "id_list", "raw"]


@dataclass(frozen=True)
class Column:
    """One column of a sheet (or one key of the settings sheet) and what its cells may hold."""

    name: str
    kind: Kind
    description: str
    required: bool = False  # every data row must fill it, so the header must be there too
    in_header: bool = False  # the header must be there although cells may be blank
    minimum: float | None = None
    above: float | None = None  # exclusive lower bound
    maximum: float | None = None
    below: float | None = None  # exclusive upper bound
    choices: tuple[str, ...] = ()
    refers_to: str | None = None  # the sheet whose ids every value must be
    blank_means: str | None = None  # the column whose value a blank cell takes

    @property
    def header_needed(self) -> bool:
        return self.required or self.in_header


@dataclass(frozen=True)
class Sheet:
    name: str
    description: str
    columns: tuple[Column, ...]
    required: bool = True
    key: tuple[str, ...] = ()  # columns that identify a row: unique together
    record: type | None = None  # the dataclass each row becomes (column names = field names)
    min_rows: int = 0

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _id(name: str, what: str) -> Column:
    return Column(name, "text", f"Unique id of the {what}, used on the other sheets.", required=True)


def _name(id_column: str, what: str) -> Column:
    return Column("name", "text", f"Name of the {what}; blank = the {id_column}.", blank_means=id_column)


def _cost(name: str, description: str, required: bool = False) -> Column:
    return Column(name, "number", description, required=required, minimum=0)


def _reference(name: str, sheet: str) -> Column:
    return Column(name, "text", f"The {name} of a row on the '{sheet}' sheet.", required=True,
                  refers_to=sheet)


LAT = Column(
    "lat", "number", "Latitude in decimal degrees (WGS-84). Leave lat and lon both blank when the "
    "place has no coordinates; its distances must then come from the distances sheet.",
    minimum=-90, maximum=90,
)
LON = Column("lon", "number", "Longitude in decimal degrees (WGS-84).", minimum=-180, maximum=180)

SETTINGS: tuple[Column, ...] = (
    Column("max_distance_km", "number", "Longest acceptable distance (km) from a resident to an "
           "office, for every agency without its own limit. Blank = no limit.", above=0),
    Column("circuity_factor", "number", "Multiplies computed straight-line distances to approximate "
           "road distances (e.g. 1.3). Not applied to the distances sheet.", above=0),
    _cost("budget_annual", "Most the network may cost a year (sites, presence, staff). Blank = no limit."),
    _cost("budget_one_off", "Most the changes may cost once (opening, closing, adding agencies). "
          "Blank = no limit."),
    Column("amortization_years", "number", "Years over which one-off costs are spread in the "
           "objective: each counts 1/years a year.", above=0),
    _cost("travel_cost_per_km", "Cost per visit and km travelled by residents."),
    Column("min_offices", "integer", "Fewest offices that must operate. Blank = no minimum.", minimum=0),
    Column("max_offices", "integer", "Most offices that may operate. Blank = no maximum.", minimum=0),
    Column("objective", "choice", "cost: serve every visit at least cost. coverage: serve as many "
           "visits as the budgets allow, then at least cost.", choices=("cost", "coverage")),
    _cost("merge_radius_km", "A closed office counts as merged when an operating office within "
          "this many km hosts all its agencies."),
    Column("staff_integer", "flag", "TRUE: whole staff members. FALSE: fractional staff (faster)."),
    Column("time_limit_s", "number", "Longest the solver may search (seconds); it then returns the "
           "best plan found with its gap.", above=0),
    Column("mip_gap", "number", "Relative gap at which the solver stops (0.01 = within 1%); "
           "0 = prove optimality.", minimum=0, below=1),
)
SETTING_BY_KEY = {column.name: column for column in SETTINGS}

SETTINGS_SHEET = Sheet(
    "settings",
    "Rules for the whole plan: one row per setting. A blank value means the default.",
    (
        Column("key", "text", "The setting's name, exactly as listed.", required=True),
        Column("value", "raw", "The setting's value; blank = default.", in_header=True),
        Column("description", "raw", "What the setting means (ignored when reading)."),
    ),
    key=("key",),
)
AGENCIES = Sheet(
    "agencies",
    "One row per agency that may staff offices.",
    (
        _id("agency_id", "agency"),
        _name("agency_id", "agency"),
        Column("max_distance_km", "number", "This agency's own distance limit (km); blank = the "
               "max_distance_km setting.", above=0),
        _cost("staff_cost", "Cost of one staff member a year.", required=True),
        Column("visits_per_staff", "number", "Visits a year one staff member serves.",
               required=True, above=0),
        _cost("min_staff", "Staff the agency needs in an office where it is present."),
        _cost("presence_cost", "Cost a year for each office the agency is present in."),
        _cost("setup_cost", "One-off cost of adding the agency to an office that lacks it today."),
        _cost("visits_per_capita", "Visits a year per resident, where the demand sheet gives no figure."),
        _cost("budget", "Most the agency may spend a year (presence and staff). Blank = no limit."),
    ),
    key=("agency_id",),
    record=Agency,
    min_rows=1,
)
AREAS = Sheet(
    "areas",
    "One row per area where people live (e.g. a municipality).",
    (
        _id("area_id", "area"),
        _name("area_id", "area"),
        LAT,
        LON,
        _cost("population", "Residents.", required=True),
        Column("region", "text", "Optional grouping for reports (e.g. county)."),
    ),
    key=("area_id",),
    record=Area,
    min_rows=1,
)
SITES = Sheet(
    "sites",
    "One row per office today (existing) and per premises that could open (candidate).",
    (
        _id("site_id", "site"),
        _name("site_id", "site"),
        LAT,
        LON,
        Column("status", "choice", "existing: an office today. candidate: premises that could open.",
               required=True, choices=("existing", "candidate")),
        _cost("annual_cost", "Cost a year of operating the site (rent, premises)."),
        _cost("open_cost", "One-off cost of opening the site (candidates)."),
        _cost("close_cost", "One-off cost of closing the site (existing offices)."),
        _cost("desks", "Most staff the site holds. Blank = no limit."),
        Column("agencies_now", "id_list", "agency_ids staffing the site today, separated by commas; "
               "blank for candidates.", refers_to="agencies"),
        Column("force", "choice", "Blank = the optimiser decides. open = must operate. "
               "closed = must not operate.", choices=("open", "closed")),
    ),
    key=("site_id",),
    record=Site,
    min_rows=1,
)
DEMAND = Sheet(
    "demand",
    "Visits a year per area and agency; a listed pair replaces "
    "population x visits_per_capita.",
    (
        _reference("area_id", "areas"),
        _reference("agency_id", "agencies"),
        _cost("visits", "Visits a year from the area to the agency.", required=True),
    ),
    required=False,
    key=("area_id", "agency_id"),
)
DISTANCES = Sheet(
    "distances",
    "Distances that replace the computed ones for the listed pairs "
    "(circuity_factor is not applied to them).",
    (
        _reference("area_id", "areas"),
        _reference("site_id", "sites"),
        _cost("distance_km", "Distance in km from the area to the site.", required=True),
    ),
    required=False,
    key=("area_id", "site_id"),
)

RECORD_SHEETS = (AGENCIES, AREAS, SITES)  # a tuple of records on `Problem`
MAPPING_SHEETS = (DEMAND, DISTANCES)  # a mapping from the key columns to the last column
SHEETS = (SETTINGS_SHEET, *RECORD_SHEETS, *MAPPING_SHEETS)
SHEET_BY_NAME = {sheet.name: sheet for sheet in SHEETS}

FILE = "(file)"  # the "sheet" of problems with the file itself

# --- cells -------------------------------------------------------------------------------

_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_NUMBERISH = re.compile(r"[\d\s.,'+-]*\d[\d\s.,'+-]*")
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


class _Invalid(ValueError):
    """A cell that cannot be used; the message completes "column 'x': ..."."""


def is_blank(value: object) -> bool:
    """Nothing in the cell; an edited table in the app shows a cleared cell as NaN or NA."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return True
    return isinstance(value, str) and not value.strip()


def _show(value: object) -> str:
    """A cell value as the user sees it in Excel, so that they can find it."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    return f"'{value}'"


def _bounds(column: Column) -> str:
    if column.minimum is not None and column.maximum is not None:
        return f" between {_show(column.minimum)} and {_show(column.maximum)}"
    parts = [
        f"{phrase} {_show(bound)}"
        for phrase, bound in (
            ("of at least", column.minimum),
            ("greater than", column.above),
            ("of at most", column.maximum),
            ("less than", column.below),
        )
        if bound is not None
    ]
    return "".join(f" {part}" if i == 0 else f" and {part}" for i, part in enumerate(parts))


def _expected(column: Column) -> str:
    """What a valid cell looks like, in the words of the error messages."""
    if column.kind == "number":
        return "a number" + _bounds(column)
    if column.kind == "integer":
        return "a whole number" + _bounds(column)
    if column.kind == "flag":
        return "TRUE or FALSE (yes/no and 1/0 also work)"
    if column.kind == "choice":
        return "one of: " + ", ".join(column.choices)
    if column.kind == "id_list":
        return f"{SHEET_BY_NAME[column.refers_to].key[0]}s separated by commas"
    return "text"


def _invalid(column: Column, value: object, hint: str = "") -> _Invalid:
    return _Invalid(f"must be {_expected(column)} (got {_show(value)}){hint}")


def _text(column: Column, value: object) -> str:
    """Ids typed as numbers come back from Excel as floats: 7.0 must mean the id "7"."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _show(value)
    raise _invalid(column, value)


def _number(column: Column, value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and _PLAIN_NUMBER.fullmatch(value.strip()):
        number = float(value.strip())
    elif isinstance(value, str) and _NUMBERISH.fullmatch(value.strip()):
        raise _invalid(column, value, ": type a plain number with a decimal point and no spaces "
                                      "or thousands separators, such as 1200.5")
    else:
        raise _invalid(column, value)
    if not (
        math.isfinite(number)
        and (column.minimum is None or number >= column.minimum)
        and (column.above is None or number > column.above)
        and (column.maximum is None or number <= column.maximum)
        and (column.below is None or number < column.below)
    ):
        raise _invalid(column, value)
    return number


def _integer(column: Column, value: object) -> int:
    number = _number(column, value)
    if not number.is_integer():
        raise _invalid(column, value)
    return int(number)


def _flag(column: Column, value: object) -> bool:
    if isinstance(value, bool):
        return value
    word = value.strip().lower() if isinstance(value, str) else _show(value)
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise _invalid(column, value)


def _choice(column: Column, value: object) -> str:
    word = value.strip().lower() if isinstance(value, str) else None
    if word not in column.choices:
        raise _invalid(column, value)
    return word


def _id_list(column: Column, value: object) -> tuple[str, ...]:
    """Repeats are dropped: listing an agency twice still means it is there."""
    parts = value.split(",") if isinstance(value, str) else [_text(column, value)]
    return tuple(dict.fromkeys(part.strip() for part in parts if part.strip()))


def _raw(column: Column, value: object) -> object:
    return value


_PARSERS = {
    "text": _text,
    "number": _number,
    "integer": _integer,
    "flag": _flag,
    "choice": _choice,
    "id_list": _id_list,
    "raw": _raw,
}


def parse_cell(column: Column, value: object) -> Any:
    """The typed value of a non-blank cell, or `_Invalid` saying what to type instead."""
    return _PARSERS[column.kind](column, value)


# --- reading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    number: int  # as Excel shows it
    values: dict[str, Any]  # the columns whose cells were filled and valid
    filled: frozenset[str]  # the columns whose cells were filled, valid or not


@dataclass(frozen=True)
class Table:
    sheet: Sheet
    found: frozenset[str]  # the sheet's columns present in the header
    rows: list[Row]

    def ids(self) -> set[str] | None:
        """The sheet's ids, or None when its id column is missing and nothing can be checked."""
        (key,) = self.sheet.key
        if key not in self.found:
            return None
        return {row.values[key] for row in self.rows if key in row.values}


def _hint(wanted: str, found: Sequence[str], what: str) -> str:
    """Point at a near miss ('Agency ID' for 'agency_id'), else list what is there."""
    def loose(name: str) -> str:
        return re.sub(r"[\s_]+", "_", name.strip().lower())

    near = [name for name in found if loose(name) == loose(wanted)]
    if near:
        return f" (found '{near[0]}': rename it to exactly '{wanted}')"
    return f" (found {what}: {', '.join(found) if found else 'none'})"


def _locate(sheet: Sheet, header: Sequence[object]) -> tuple[dict[str, int], list[InputProblem]]:
    """Where each of the sheet's columns is; headers are compared after stripping spaces."""
    names = ["" if is_blank(cell) else str(cell).strip() for cell in header]
    positions: dict[str, int] = {}
    problems = []
    for column in sheet.columns:
        hits = [i for i, name in enumerate(names) if name == column.name]
        if len(hits) > 1:
            letters = ", ".join(get_column_letter(i + 1) for i in hits)
            problems.append(InputProblem(sheet.name, 1, column.name, "the header appears in "
                                         f"several columns ({letters}): keep one"))
        elif hits:
            positions[column.name] = hits[0]
        elif column.header_needed:
            found = [name for name in names if name]
            problems.append(InputProblem(
                sheet.name, None, column.name,
                f"the required column is missing: add the header '{column.name}' to row 1"
                + _hint(column.name, found, "headers"),
            ))
    return positions, problems


def _parse_row(
    sheet: Sheet, number: int, cells: Sequence[object], positions: Iterable[tuple[Column, int]]
) -> tuple[Row, list[InputProblem]]:
    values: dict[str, Any] = {}
    filled: set[str] = set()
    problems = []
    for column, index in positions:
        cell = cells[index] if index < len(cells) else None
        if not is_blank(cell):
            filled.add(column.name)
            try:
                values[column.name] = parse_cell(column, cell)
            except _Invalid as invalid:
                problems.append(InputProblem(sheet.name, number, column.name, str(invalid)))
        elif column.required:
            what = "a value" if column.kind == "text" else _expected(column)
            problems.append(InputProblem(sheet.name, number, column.name,
                                         f"must not be blank: enter {what}"))
    return Row(number, values, frozenset(filled)), problems


def _lines(worksheet: Any) -> list[tuple[object, ...]]:
    """Every row's values, rows of different lengths included.

    The dimension a workbook declares is written by whatever program saved it and is
    sometimes wrong; trusting it would silently drop rows.
    """
    worksheet.reset_dimensions()
    return list(worksheet.iter_rows(values_only=True))


def _read_table(sheet: Sheet, lines: Sequence[Sequence[object]]) -> tuple[Table, list[InputProblem]]:
    located, problems = _locate(sheet, lines[0] if lines else ())
    positions = [(sheet.column(name), index) for name, index in located.items()]
    rows = []
    for number, cells in enumerate(lines[1:], start=2):
        if all(is_blank(cell) for cell in cells):
            continue
        row, row_problems = _parse_row(sheet, number, cells, positions)
        rows.append(row)
        problems += row_problems
    return Table(sheet, frozenset(located), rows), problems


def _file_problem(message: str) -> InputError:
    return InputError([InputProblem(FILE, None, None, message)])


def _open(data: bytes, name: str) -> openpyxl.Workbook:
    if Path(name).suffix.lower() not in (".xlsx", ".xlsm"):
        raise _file_problem(f"'{name}' is not an .xlsx workbook: in Excel use "
                            "Save As > Excel Workbook (*.xlsx)")
    try:
        return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    # A damaged or disguised file fails deep inside zipfile, XML or openpyxl with a
    # variety of exception types; to the user they all mean the same thing.
    except Exception as error:  # noqa: BLE001
        raise _file_problem(f"'{name}' is not a readable .xlsx workbook ({error}): open it "
                            "in Excel and save it as Excel Workbook (*.xlsx)") from None


def _file_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise _file_problem(f"'{path}' does not exist or is not a file")
    try:
        return path.read_bytes()
    except OSError as error:
        raise _file_problem(f"'{path}' cannot be read: {error.strerror}") from None


def _sheet_frame(lines: Sequence[Sequence[object]]) -> pd.DataFrame:
    """A sheet as typed: the header row as column names, every later row kept, blank ones too.

    Keeping blank rows keeps the numbering: the frame's row k is Excel's row k + 2, so a
    problem found later in the frame points at the same row in the file.
    """
    while lines and all(is_blank(cell) for cell in lines[-1]):
        lines = lines[:-1]
    if not lines:
        return pd.DataFrame(dtype=object)
    width = max(len(line) for line in lines)
    padded = [list(line) + [None] * (width - len(line)) for line in lines]
    header = ["" if is_blank(cell) else str(cell).strip() for cell in padded[0]]
    return pd.DataFrame(padded[1:], columns=header, dtype=object)


def read_sheets(data: bytes, name: str) -> dict[str, pd.DataFrame]:
    """Every sheet of the workbook exactly as typed, before any validation.

    The app shows these to the user to fix in place, so nothing is parsed or dropped here:
    unknown sheets and columns, bad values and blank rows all stay.  Only a file that is
    not a readable workbook at all raises `InputError`.
    """
    workbook = _open(data, name)
    try:
        sheets = {}
        for title in workbook.sheetnames:
            try:
                sheets[title] = _sheet_frame(_lines(workbook[title]))
            except Exception as error:  # noqa: BLE001 -- read-only mode meets damage only here
                raise InputError([InputProblem(title, None, None, f"the sheet cannot be read "
                                               f"({error}): re-save the workbook in Excel")]) from None
        return sheets
    finally:
        workbook.close()


def _frame_lines(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    return [tuple(frame.columns), *frame.itertuples(index=False, name=None)]


def _read_tables(sheets: Mapping[str, pd.DataFrame]) -> tuple[dict[str, Table], list[InputProblem]]:
    tables = {}
    problems = []
    for sheet in SHEETS:
        if sheet.name not in sheets:
            if sheet.required:
                problems.append(InputProblem(
                    sheet.name, None, None,
                    f"the required sheet is missing: add a sheet named exactly '{sheet.name}'"
                    + _hint(sheet.name, list(sheets), "sheets"),
                ))
            continue
        tables[sheet.name], sheet_problems = _read_table(sheet, _frame_lines(sheets[sheet.name]))
        problems += sheet_problems
    return tables, problems


# --- checks across cells, rows and sheets ------------------------------------------------


def _duplicates(table: Table) -> list[InputProblem]:
    sheet = table.sheet
    first_row: dict[tuple[Any, ...], int] = {}
    problems = []
    for row in table.rows:
        if not all(name in row.values for name in sheet.key):
            continue
        key = tuple(row.values[name] for name in sheet.key)
        if key in first_row:
            what = ", ".join(f"{name} {_show(value)}" for name, value in zip(sheet.key, key))
            problems.append(InputProblem(sheet.name, row.number, sheet.key[-1],
                                         f"duplicate {what} (also in row {first_row[key]}): "
                                         "remove or merge one of the rows"))
        else:
            first_row[key] = row.number
    return problems


def _named_ids(column: Column, row: Row) -> tuple[str, ...]:
    value = row.values.get(column.name)
    if value is None:
        return ()
    return value if column.kind == "id_list" else (value,)


def _references(table: Table, tables: Mapping[str, Table]) -> list[InputProblem]:
    """Every id that names a row elsewhere must exist there (unless that sheet is unreadable)."""
    problems = []
    for column in table.sheet.columns:
        target = tables.get(column.refers_to) if column.refers_to else None
        known = target.ids() if target else None
        if known is None:
            continue
        id_column = target.sheet.key[0]
        for row in table.rows:
            for unknown in [name for name in _named_ids(column, row) if name not in known]:
                problems.append(InputProblem(
                    table.sheet.name, row.number, column.name,
                    f"unknown {id_column.removesuffix('_id')} '{unknown}': add it to the "
                    f"'{target.sheet.name}' sheet or correct the {id_column}",
                ))
    return problems


def _enough_rows(table: Table) -> list[InputProblem]:
    if len(table.rows) >= table.sheet.min_rows:
        return []
    return [InputProblem(table.sheet.name, None, None,
                         "the sheet has no data rows: add at least one row below the header")]


def _coordinates(table: Table) -> list[InputProblem]:
    """Half a coordinate is a typo, not a place without coordinates."""
    if not {"lat", "lon"} <= {column.name for column in table.sheet.columns}:
        return []
    problems = []
    for row in table.rows:
        given = [name for name in ("lat", "lon") if name in row.filled]
        if len(given) == 1:
            missing = "lon" if given == ["lat"] else "lat"
            problems.append(InputProblem(table.sheet.name, row.number, missing,
                                         f"is blank while {given[0]} is given: "
                                         "fill in both coordinates or neither"))
    return problems


def _candidates_without_agencies(table: Table) -> list[InputProblem]:
    if table.sheet is not SITES:
        return []
    return [
        InputProblem(SITES.name, row.number, "agencies_now",
                     "a candidate site has no agencies today: leave agencies_now blank "
                     "or set status to existing")
        for row in table.rows
        if row.values.get("status") == "candidate" and row.values.get("agencies_now")
    ]


def _settings(table: Table) -> tuple[dict[str, Any], dict[str, int], list[InputProblem]]:
    """The settings given (blank values left out, so that defaults apply) and their rows."""
    values: dict[str, Any] = {}
    rows: dict[str, int] = {}
    problems = []
    for row in table.rows:
        key = row.values.get("key")
        column = SETTING_BY_KEY.get(key)
        if key is not None and column is None:
            problems.append(InputProblem(table.sheet.name, row.number, "key",
                                         f"unknown setting {_show(key)}: use one of "
                                         + ", ".join(SETTING_BY_KEY)))
        if column is None or key in rows or "value" not in row.values:
            continue
        rows[key] = row.number
        try:
            values[key] = parse_cell(column, row.values["value"])
        except _Invalid as invalid:
            problems.append(InputProblem(table.sheet.name, row.number, "value", f"{key} {invalid}"))
    return values, rows, problems


def _office_counts(
    settings: Mapping[str, Any], rows: Mapping[str, int], sites: Table | None
) -> list[InputProblem]:
    """Office limits that no plan can meet are input errors, not infeasible plans."""
    low, high = settings.get("min_offices"), settings.get("max_offices")
    problems = []
    if low is not None and high is not None and low > high:
        problems.append(InputProblem(SETTINGS_SHEET.name, rows["min_offices"], "value",
                                     f"min_offices ({low}) is greater than max_offices ({high}): "
                                     "lower min_offices or raise max_offices"))
    if sites is None:
        return problems
    forces = [row.values.get("force") for row in sites.rows]
    may_open = sum(force != "closed" for force in forces)
    must_open = forces.count("open")
    if low is not None and low > may_open:
        problems.append(InputProblem(SETTINGS_SHEET.name, rows["min_offices"], "value",
                                     f"min_offices ({low}) is more than the number of sites that may "
                                     f"operate ({may_open}, not counting sites forced closed): "
                                     "lower it or add sites"))
    if high is not None and high < must_open:
        problems.append(InputProblem(SETTINGS_SHEET.name, rows["max_offices"], "value",
                                     f"max_offices ({high}) is less than the number of sites with "
                                     f"force = open ({must_open}): raise it or force fewer sites open"))
    return problems


_TABLE_CHECKS = (_duplicates, _enough_rows, _coordinates, _candidates_without_agencies)


def _check(tables: Mapping[str, Table]) -> tuple[dict[str, Any], list[InputProblem]]:
    problems = [problem for table in tables.values()
                for check in (*_TABLE_CHECKS, lambda t: _references(t, tables))
                for problem in check(table)]
    settings: dict[str, Any] = {}
    if SETTINGS_SHEET.name in tables:
        settings, rows, setting_problems = _settings(tables[SETTINGS_SHEET.name])
        problems += setting_problems + _office_counts(settings, rows, tables.get(SITES.name))
    return settings, problems


def _in_workbook_order(problems: list[InputProblem]) -> list[InputProblem]:
    """Sheet by sheet, top to bottom: the order in which a person works through them."""
    order = {sheet.name: i for i, sheet in enumerate(SHEETS)}
    return sorted(problems, key=lambda p: (order.get(p.sheet, -1), p.row or 0))


# --- building the problem ----------------------------------------------------------------


def _record(sheet: Sheet, row: Row) -> Any:
    values = dict(row.values)
    for column in sheet.columns:
        if column.blank_means and column.name not in values:
            values[column.name] = values[column.blank_means]
    return sheet.record(**values)


def _value_column(sheet: Sheet) -> str:
    """A mapping sheet's one column that is not part of its key."""
    (value,) = [column.name for column in sheet.columns if column.name not in sheet.key]
    return value


def _mapping(sheet: Sheet, table: Table | None) -> dict[tuple[str, ...], float]:
    if table is None:
        return {}
    value = _value_column(sheet)
    return {tuple(row.values[name] for name in sheet.key): row.values[value] for row in table.rows}


def problem_from_sheets(sheets: Mapping[str, pd.DataFrame], source: Source | None = None) -> Problem:
    """The sheets (as `read_sheets` gives them, or as edited in the app) as a validated `Problem`.

    Raises `InputError` listing every problem, each at its sheet, row (frame row k is row
    k + 2, as in Excel) and column.
    """
    tables, problems = _read_tables(sheets)
    settings, check_problems = _check(tables)
    problems += check_problems
    if problems:
        raise InputError(_in_workbook_order(problems))
    return Problem(
        settings=Settings(**settings),
        **{sheet.name: tuple(_record(sheet, row) for row in tables[sheet.name].rows)
           for sheet in RECORD_SHEETS},
        **{sheet.name: _mapping(sheet, tables.get(sheet.name)) for sheet in MAPPING_SHEETS},
        source=source,
    )


def source_of(data: bytes, name: str) -> Source:
    return Source(name, hashlib.sha256(data).hexdigest())


def read_problem(path: str | Path) -> Problem:
    """The workbook at `path` as a `Problem`, or `InputError` listing every problem in it."""
    path = Path(path)
    data = _file_bytes(path)
    return problem_from_sheets(read_sheets(data, path.name), source_of(data, path.name))


# --- writing -----------------------------------------------------------------------------


def _to_cell(column: Column, value: object) -> object:
    """The inverse of `parse_cell` for the one kind that is not stored as it is."""
    if column.kind == "id_list":
        return ", ".join(value) or None
    return value


def _frame(sheet: Sheet, rows: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """Object columns keep ints, bools and None as they are, which the reader expects back."""
    return pd.DataFrame(list(rows), columns=[column.name for column in sheet.columns], dtype=object)


def problem_tables(problem: Problem) -> dict[str, pd.DataFrame]:
    """The problem as the sheets it would be read from: `read_problem` undone.

    Written and read back it gives the same problem (bar `source`) for every number
    Excel can hold; like Excel, the file keeps 15 to 16 significant digits.
    """
    tables = {
        SETTINGS_SHEET.name: _frame(SETTINGS_SHEET, (
            {"key": column.name, "value": getattr(problem.settings, column.name),
             "description": column.description}
            for column in SETTINGS
        ))
    }
    for sheet in RECORD_SHEETS:
        tables[sheet.name] = _frame(sheet, (
            {column.name: _to_cell(column, getattr(record, column.name)) for column in sheet.columns}
            for record in getattr(problem, sheet.name)
        ))
    for sheet in MAPPING_SHEETS:
        tables[sheet.name] = _frame(sheet, (
            {**dict(zip(sheet.key, key)), _value_column(sheet): value}
            for key, value in getattr(problem, sheet.name).items()
        ))
    return tables


def _default(record: type | None, column: Column) -> str:
    """The README's word on what a blank cell means, taken from the dataclass defaults.

    Sheets without a record (demand, distances) have only required columns.
    """
    if column.required:
        return "required"
    if column.blank_means:
        return f"the {column.blank_means}"
    (field,) = [field for field in dataclasses.fields(record) if field.name == column.name]
    default = _to_cell(column, field.default)
    return default if isinstance(default, str) else "none" if default is None else _show(default)


def readme_table() -> pd.DataFrame:
    """Instructions for every sheet and column, for the template's README sheet."""
    rows: list[tuple[str, str, str, str]] = []
    for sheet in SHEETS:
        rows.append((sheet.name, "", "required sheet" if sheet.required else "optional sheet",
                     sheet.description))
        is_settings = sheet is SETTINGS_SHEET
        record = Settings if is_settings else sheet.record
        rows += [(sheet.name, column.name, _default(record, column), column.description)
                 for column in (SETTINGS if is_settings else sheet.columns)]
    return pd.DataFrame(rows, columns=["sheet", "column", "default", "description"])


def _excel_value(value: object) -> object:
    """pandas and numpy stand-ins for "nothing" and for numbers, as plain Python values."""
    if isinstance(value, np.generic):
        value = value.item()
    missing = value is None or value is pd.NA or value is pd.NaT
    return None if missing or (isinstance(value, float) and math.isnan(value)) else value


def _width(header: str, values: Iterable[object]) -> float:
    """Wide enough for the header and the first rows, never wider than a screen's third."""
    longest = max([len(header), *(len(str(v)) for v in map(_excel_value, values) if v is not None)])
    return min(longest + 2, 60)


def _write_sheet(workbook: openpyxl.Workbook, name: str, frame: pd.DataFrame) -> None:
    """Bold headers, sensible widths and a frozen header row: the sheet is read by people too."""
    worksheet = workbook.create_sheet(name)
    for i, (header, values) in enumerate(frame.head(200).items(), start=1):
        worksheet.column_dimensions[get_column_letter(i)].width = _width(str(header), values)
    worksheet.freeze_panes = "A2"
    header_cells = []
    for header in frame.columns:
        cell = WriteOnlyCell(worksheet, value=str(header))
        cell.font = Font(bold=True)
        header_cells.append(cell)
    worksheet.append(header_cells)
    for row in frame.itertuples(index=False, name=None):
        worksheet.append([_excel_value(value) for value in row])


def write_input_workbook(tables: Mapping[str, pd.DataFrame], path: str | Path | BinaryIO) -> Any:
    """One sheet per table, in the given order; `path` is replaced whole or not at all.

    Write-only mode streams rows to disk, so a 100,000-row table costs no memory.
    """
    workbook = openpyxl.Workbook(write_only=True)
    for name, frame in tables.items():
        _write_sheet(workbook, name, frame)
    save_workbook(workbook, path)
    return path


def write_template(path: str | Path) -> Any:
    """The blank workbook an analyst starts from: headers, default settings and a README."""
    empty = Problem(settings=Settings(), agencies=(), areas=(), sites=())
    return write_input_workbook({"README": readme_table(), **problem_tables(empty)}, path)
