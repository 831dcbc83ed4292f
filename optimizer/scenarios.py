"""Saved plans that outlive the app: one SQLite file, shared by every browser session.

A planner saves a plan under a name together with the inputs it was solved from, so that it
can be shown, compared and solved again after the server restarts.  SQLite needs no server,
and its write-ahead log lets several sessions (threads or processes) read while one writes.
Each operation opens its own short-lived connection, so no connection is ever shared
between threads, and writes take the lock up front (`BEGIN IMMEDIATE`) so that two writers
queue behind the busy timeout instead of failing half-way.

A store file may come from someone else, so nothing in it is unpickled: tables are JSON
(with their dtypes, since "1" and 1 and True are different inputs) and the solution's
arrays are `.npy` bytes read with `allow_pickle=False`.
"""

from __future__ import annotations

import io
import json
import math
import os
import sqlite3
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .plan import Plan
from .solve import Solution

STORE_ENV = "OFFICEPLAN_STORE"
DEFAULT_STORE = Path("plans/scenarios.sqlite")
# "OPLN": tells an officeplan store from any other SQLite file a user might point us at.
APPLICATION_ID = 0x4F504C4E
SCHEMA_VERSION = 1
# A save of a national plan holds the lock for milliseconds; waiting this long means a stuck writer.
BUSY_TIMEOUT_S = 30.0

_TABLES = ("sites", "assignments", "areas", "changes")
_ARRAYS = ("y", "z", "n", "x")
# Columns list() shows, and the figure each comes from.
_HEADLINES = {
    "objective": "objective",
    "annual_cost": "annual cost",
    "offices_operating": "offices operating",
    "staff": "staff",
}
# pandas' own dtypes whose values are plain scalars or missing; anything else is refused at save.
_EXTENSION_DTYPES = frozenset(
    {"str", "string", "boolean", "Float32", "Float64"}
    | {f"{sign}Int{bits}" for sign in ("", "U") for bits in (8, 16, 32, 64)}
)


class StoreError(RuntimeError):
    """The file cannot be used as a plan store (another kind of file, or a newer officeplan's)."""


class NameTaken(ValueError):
    """A plan is already saved under this name and the caller did not ask to replace it."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"A plan named {name!r} is already saved; choose another name or replace it.")


@dataclass(frozen=True, eq=False)
class SavedPlan:
    """A plan as saved: the inputs it was solved from travel with it, so it can be solved again."""

    name: str
    saved_at: str  # UTC, ISO-8601
    inputs: dict[str, pd.DataFrame]
    plan: Plan


def default_store_path() -> Path:
    """Where the app keeps its plans; `OFFICEPLAN_STORE` lets a deployment put them elsewhere."""
    configured = os.environ.get(STORE_ENV, "").strip()
    return Path(configured).expanduser() if configured else DEFAULT_STORE


# --- values and tables as JSON -----------------------------------------------------------


def _plain(value: Any, where: str) -> Any:
    """A cell as a JSON value that reads back as the same Python type; `pd.NA` is tagged."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if value is pd.NA:
        return {"NA": True}
    raise TypeError(f"{where}: cannot save a value of type {type(value).__name__} ({value!r}).")


def _unplain(value: Any) -> Any:
    return pd.NA if isinstance(value, dict) else value


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _encode_values(values: pd.Series | pd.Index, where: str) -> dict[str, Any]:
    dtype = values.dtype
    name = str(dtype)
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        return {"dtype": name, "values": values.tolist()}  # NaN and inf are written as such
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        return {"dtype": name, "values": [_plain(v, where) for v in values]}
    if name in _EXTENSION_DTYPES:
        return {"dtype": name, "values": [None if _missing(v) else _plain(v, where) for v in values]}
    raise TypeError(f"{where}: cannot save a column of dtype {name}.")


def _decode_values(doc: Mapping[str, Any]) -> np.ndarray | pd.api.extensions.ExtensionArray:
    name, values = doc["dtype"], doc["values"]
    if name in _EXTENSION_DTYPES:
        return pd.array(values, dtype=pd.api.types.pandas_dtype(name))
    dtype = np.dtype(name)
    if dtype.kind == "O":
        out = np.empty(len(values), dtype=object)
        out[:] = [_unplain(v) for v in values]
        return out
    if dtype.kind not in "biuf":
        raise StoreError(f"The store holds a column of unsupported dtype {name}.")
    return np.array(values, dtype=dtype)


def _encode_index(index: pd.Index, where: str) -> dict[str, Any]:
    if isinstance(index, pd.MultiIndex):
        raise TypeError(f"{where}: cannot save a table with a MultiIndex.")
    name = _plain(index.name, where)
    if isinstance(index, pd.RangeIndex):
        return {"range": [index.start, index.stop, index.step], "name": name}
    return {**_encode_values(index, where), "name": name}


def _decode_index(doc: Mapping[str, Any]) -> pd.Index:
    if "range" in doc:
        return pd.RangeIndex(*doc["range"], name=doc["name"])
    values = _decode_values(doc)
    return pd.Index(values, dtype=values.dtype, name=doc["name"])


def _encode_frame(frame: pd.DataFrame, where: str) -> dict[str, Any]:
    """Index, column labels and every column with its dtype, so the frame reads back equal."""
    return {
        "index": _encode_index(frame.index, f"{where} (row labels)"),
        "columns": _encode_index(frame.columns, f"{where} (column labels)"),
        "data": [
            _encode_values(frame.iloc[:, k], f"{where}, column {label!r}") for k, label in enumerate(frame.columns)
        ],
    }


def _decode_frame(doc: Mapping[str, Any]) -> pd.DataFrame:
    index = _decode_index(doc["index"])
    columns = {}
    for k, column in enumerate(doc["data"]):
        values = _decode_values(column)
        columns[k] = pd.Series(values, index=index, dtype=values.dtype)
    frame = pd.DataFrame(columns, index=index)
    frame.columns = _decode_index(doc["columns"])  # labels may repeat, so they go on last
    return frame


def _scalar(value: Any) -> Any:
    """json's fallback for numpy numbers in figures and timings."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot save a value of type {type(value).__name__} ({value!r}).")


def _pack(doc: Any) -> bytes:
    """Compressed JSON: a national plan's tables shrink about tenfold, and so does the write lock."""
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=_scalar)
    return zlib.compress(text.encode("utf-8"))


def _unpack(blob: bytes) -> Any:
    return json.loads(zlib.decompress(blob).decode("utf-8"))


def _encode_array(array: np.ndarray | None) -> bytes | None:
    if array is None:
        return None
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _decode_array(blob: bytes | None) -> np.ndarray | None:
    return None if blob is None else np.load(io.BytesIO(blob), allow_pickle=False)


# --- plans and inputs as documents -------------------------------------------------------


def _encode_inputs(inputs: Mapping[str, pd.DataFrame]) -> list[list[Any]]:
    """A list of [sheet, table] pairs: the sheet order is the workbook's order."""
    out = []
    for sheet, frame in inputs.items():
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"inputs[{sheet!r}] is a {type(frame).__name__}, not a DataFrame.")
        out.append([_plain(sheet, "sheet name"), _encode_frame(frame, f"sheet {sheet!r}")])
    return out


def _decode_inputs(doc: Sequence[Sequence[Any]]) -> dict[str, pd.DataFrame]:
    return {sheet: _decode_frame(table) for sheet, table in doc}


def _encode_solution(sol: Solution) -> dict[str, Any]:
    return {
        "status": sol.status,
        "message": sol.message,
        "objective": sol.objective,
        "bound": sol.bound,
        "mip_gap": sol.mip_gap,
        "seconds": sol.seconds,
        "diagnosis": list(sol.diagnosis),
        "build_seconds": sol.build_seconds,
    }


def _decode_solution(doc: Mapping[str, Any], arrays: Mapping[str, bytes | None]) -> Solution:
    return Solution(
        doc["status"],
        doc["message"],
        doc["objective"],
        doc["bound"],
        doc["mip_gap"],
        *(_decode_array(arrays[name]) for name in _ARRAYS),
        seconds=doc["seconds"],
        diagnosis=tuple(doc["diagnosis"]),
        build_seconds=doc["build_seconds"],
    )


def _encode_plan(plan: Plan) -> dict[str, Any]:
    return {
        "status": plan.status,
        "message": plan.message,
        "figures": plan.figures,
        "today": plan.today,
        "today_message": plan.today_message,
        "timings": plan.timings,
        "tables": {name: _encode_frame(getattr(plan, name), f"plan table {name!r}") for name in _TABLES},
        "solution": _encode_solution(plan.solution),
    }


def _decode_plan(doc: Mapping[str, Any], arrays: Mapping[str, bytes | None]) -> Plan:
    tables = {name: _decode_frame(doc["tables"][name]) for name in _TABLES}
    return Plan(
        status=doc["status"],
        message=doc["message"],
        solution=_decode_solution(doc["solution"], arrays),
        figures=doc["figures"],
        today=doc["today"],
        today_message=doc["today_message"],
        timings=doc["timings"],
        **tables,
    )


# --- the schema ----------------------------------------------------------------------------


def _create_v1(conn: sqlite3.Connection) -> None:
    # The headline columns come first and are copies of figures, so that listing plans
    # reads neither the tables nor the arrays.
    conn.execute(
        """
        CREATE TABLE plans (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            saved_at TEXT NOT NULL,
            status TEXT NOT NULL,
            objective REAL,
            annual_cost REAL,
            offices_operating INTEGER,
            staff REAL,
            figures TEXT NOT NULL,
            plan BLOB NOT NULL,
            inputs BLOB NOT NULL,
            y BLOB, z BLOB, n BLOB, x BLOB
        )
        """
    )


# MIGRATIONS[v] brings a store from schema version v to v + 1.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {0: _create_v1}


def _name(name: str) -> str:
    """Names are compared without surrounding blanks, which a person does not see in a list."""
    if not isinstance(name, str):
        raise TypeError(f"A plan name must be text, not {type(name).__name__}.")
    if not name.strip():
        raise ValueError("A plan needs a name: the name is blank.")
    return name.strip()


def _now() -> str:
    # Microseconds keep the text's order the order of saving.
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _headlines(figures: Mapping[str, float]) -> list[Any]:
    values = [figures.get(figure) for figure in _HEADLINES.values()]
    return [v.item() if isinstance(v, np.generic) else v for v in values]


class ScenarioStore:
    """Named plans with their inputs in one SQLite file; safe to share between threads and processes."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._migrate()

    def __repr__(self) -> str:
        return f"ScenarioStore({str(self.path)!r})"

    # --- connections ---------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for one operation; autocommit, so transactions are only the explicit ones."""
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as error:
            raise StoreError(f"Cannot open the plan store {self.path}: {error}") from error
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """Take the write lock at the start, so a second writer waits rather than failing mid-way."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _migrate(self) -> None:
        """Create the schema in a new file, bring an older one up to date, refuse anything else.

        An up-to-date store is only read here: the app may open the store on every rerun.
        """
        try:
            with self._connect() as conn:
                conn.execute("PRAGMA journal_mode=WAL")  # stored in the file: once is enough, again is harmless
                if self._version(conn) == SCHEMA_VERSION:
                    return
            with self._writing() as conn:
                version = self._version(conn)  # another session may have migrated it meanwhile
                for step in range(version, SCHEMA_VERSION):
                    MIGRATIONS[step](conn)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path} cannot be used as a plan store: {error}") from error

    def _version(self, conn: sqlite3.Connection) -> int:
        """The store's schema version: 0 for an empty file; `StoreError` for a file not ours to change."""
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        application = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if application != APPLICATION_ID and (application or tables):
            raise StoreError(f"{self.path} is an SQLite file but not an officeplan plan store.")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer officeplan (schema {version}, "
                f"this one reads up to {SCHEMA_VERSION}); update officeplan to use it."
            )
        return version

    # --- the API -------------------------------------------------------------------------

    def save(self, name: str, inputs: Mapping[str, pd.DataFrame], plan: Plan, replace: bool = False) -> SavedPlan:
        """Save the plan and its inputs under `name`; `NameTaken` unless `replace` when the name is in use.

        Everything is encoded before the lock is taken, so the lock is held only for the write.
        """
        name = _name(name)
        inputs_blob = _pack(_encode_inputs(inputs))
        plan_blob = _pack(_encode_plan(plan))
        figures = json.dumps(plan.figures, default=_scalar)
        arrays = [_encode_array(getattr(plan.solution, a)) for a in _ARRAYS]
        with self._writing() as conn:
            saved_at = _now()  # under the lock, so the times are in the order the saves land
            if conn.execute("SELECT 1 FROM plans WHERE name = ?", (name,)).fetchone():
                if not replace:
                    raise NameTaken(name)
                conn.execute("DELETE FROM plans WHERE name = ?", (name,))
            conn.execute(
                "INSERT INTO plans (name, saved_at, status, objective, annual_cost, offices_operating, staff, "
                "figures, plan, inputs, y, z, n, x) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, saved_at, plan.status, *_headlines(plan.figures), figures, plan_blob, inputs_blob, *arrays),
            )
        return SavedPlan(name, saved_at, {sheet: frame.copy() for sheet, frame in inputs.items()}, plan)

    def load(self, name: str) -> SavedPlan:
        """The plan and inputs saved under `name`, equal to what was saved."""
        name = _name(name)
        with self._connect() as conn:
            row = conn.execute(
                "SELECT saved_at, plan, inputs, y, z, n, x FROM plans WHERE name = ?", (name,)
            ).fetchone()
        if row is None:
            raise KeyError(self._unknown(name))
        saved_at, plan_blob, inputs_blob, *arrays = row
        plan = _decode_plan(_unpack(plan_blob), dict(zip(_ARRAYS, arrays)))
        return SavedPlan(name, saved_at, _decode_inputs(_unpack(inputs_blob)), plan)

    def delete(self, name: str) -> None:
        """Forget the plan saved under `name`; `KeyError` when there is none."""
        name = _name(name)
        with self._writing() as conn:
            deleted = conn.execute("DELETE FROM plans WHERE name = ?", (name,)).rowcount
        if not deleted:
            raise KeyError(self._unknown(name))

    def list(self) -> pd.DataFrame:
        """One row per saved plan, newest first, with the figures a person picks a plan by."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT name, saved_at, status, objective, annual_cost, offices_operating, staff "
                "FROM plans ORDER BY saved_at DESC, id DESC"
            ).fetchall()
        columns = ["name", "saved_at", "status", *_HEADLINES]
        table = pd.DataFrame(rows, columns=columns).astype(
            {"objective": float, "annual_cost": float, "offices_operating": "Int64", "staff": float}
        )
        return table

    def names(self) -> list[str]:
        """The saved names, newest first (for a picker)."""
        with self._connect() as conn:
            return [row[0] for row in conn.execute("SELECT name FROM plans ORDER BY saved_at DESC, id DESC")]

    def compare(self, names: Sequence[str]) -> pd.DataFrame:
        """Every figure of the named plans side by side: one row per figure, one column per plan.

        Reads only the figures, not the tables, so comparing national plans stays instant.
        """
        wanted = list(dict.fromkeys(_name(name) for name in names))
        if not wanted:
            return pd.DataFrame(dtype=float).rename_axis("figure")
        with self._connect() as conn:
            found = dict(
                conn.execute(
                    f"SELECT name, figures FROM plans WHERE name IN ({', '.join('?' * len(wanted))})", wanted
                ).fetchall()
            )
        missing = [name for name in wanted if name not in found]
        if missing:
            raise KeyError(self._unknown(missing[0]))
        figures = {name: json.loads(found[name]) for name in wanted}
        # Plans with other agencies have other figures: every figure of any of them, first seen first.
        rows = list(dict.fromkeys(key for values in figures.values() for key in values))
        table = pd.DataFrame({name: [values.get(row) for row in rows] for name, values in figures.items()}, index=rows)
        return table.astype(float).rename_axis("figure")

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or not name.strip():
            return False
        with self._connect() as conn:
            return conn.execute("SELECT 1 FROM plans WHERE name = ?", (name.strip(),)).fetchone() is not None

    def __len__(self) -> int:
        with self._connect() as conn:
            return conn.execute("SELECT count(*) FROM plans").fetchone()[0]

    def _unknown(self, name: str) -> str:
        known = self.names()
        listed = ", ".join(repr(n) for n in known[:10]) + (" ..." if len(known) > 10 else "")
        return f"No plan named {name!r} is saved in {self.path}" + (
            f"; saved plans: {listed}." if known else "; no plans are saved yet."
        )
