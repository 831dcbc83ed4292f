"""Solving in a worker process of its own, so that a page stays responsive while HiGHS works.

A page (one browser session of the app) owns one `BackgroundSolver`.  Its worker process
lives as long as the session and keeps what a re-solve can re-use: the distance table (not
recomputed while the geography and limits allow), the previous plan (handed to HiGHS as a
MIP start) and today's network priced (not priced again when only budgets, office counts
or forced sites change).  The page sends a `Problem`, polls for `Progress` and finally
receives the `Plan`; its stop button asks HiGHS to stop and keep the best plan found.

A process, not a thread, because HiGHS and Pyomo's capture of its output are
process-wide: two sessions solving in threads of one server would swallow each other's
output and could not be stopped independently.  Workers are forked from a clean
forkserver that has already imported the engine, so a new session's worker starts in
milliseconds rather than the seconds Pyomo takes to import.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import traceback
import weakref
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection

from .instance import DistanceTable, Instance
from .pipeline import Stopwatch, plan, prepare, price, pricing_pool
from .plan import Plan, no_plan
from .problem import Problem
from .resolve import Resolver
from .solve import Solution, Start, today_key, watched_by

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["optimizer.background"])

# Progress reaches the page at most this often; HiGHS asks to be interrupted far more often.
_PROGRESS_EVERY_S = 0.25
# A second copy of a model this large costs more memory than a fast budget move is worth.
_RESOLVER_MAX_TRIPLES = 2_000_000
# A stopped worker that has not answered in this time is killed (HiGHS may be in a long LP).
_STOP_GRACE_S = 10.0


@dataclass(frozen=True)
class Progress:
    """Where a running solve is, for the person waiting for it."""

    seconds: float
    incumbent: float | None = None  # the best plan's objective so far
    bound: float | None = None  # no plan can cost less than this

    @property
    def gap(self) -> float | None:
        if self.incumbent is None or self.bound is None or self.incumbent == 0:
            return None
        return max(self.incumbent - self.bound, 0.0) / abs(self.incumbent)


class _PipeWatcher:
    """The worker's side of a watched solve: progress out through the pipe, the stop flag in."""

    def __init__(self, conn: Connection, stop: threading.Event, started: float):
        self._conn, self._stop, self._started = conn, stop, started
        self._last_sent = 0.0
        self._page_gone = False

    def progress(self, incumbent: float | None, bound: float | None) -> None:
        now = time.monotonic()
        if now - self._last_sent >= _PROGRESS_EVERY_S and not self._page_gone:
            self._last_sent = now
            try:
                self._conn.send(Progress(now - self._started, incumbent, bound))
            except OSError:  # nobody is waiting for this plan any more
                self._page_gone = True

    def should_stop(self) -> bool:
        return self._page_gone or self._stop.is_set()


class _IdleWatcher:
    """Idle-time work stops as soon as the page sends the next request (which stays unread)."""

    def __init__(self, conn: Connection):
        self._conn = conn

    def progress(self, incumbent: float | None, bound: float | None) -> None:
        """Nobody waits for idle-time work."""

    def should_stop(self) -> bool:
        try:
            return self._conn.poll()
        except (EOFError, OSError):  # the page is gone: nothing to prepare for
            return True


class _Worker:
    """What the worker process keeps between solves of one session."""

    def __init__(self) -> None:
        self.table: DistanceTable | None = None
        self.previous: tuple[Instance, Solution] | None = None
        self.resolver: Resolver | None = None
        self.today: tuple[Problem, Future[Solution]] | None = None
        self.pool = pricing_pool()

    def today_for(self, inst: Instance) -> Future[Solution]:
        key = today_key(inst.problem)
        if self.today is None or self.today[0] != key:
            self.today = (key, self.pool.submit(price, inst))
        return self.today[1]

    def solve(self, problem: Problem, from_previous: bool) -> Plan:
        watch = Stopwatch()
        with watch.stage("distances"):
            inst = prepare(problem, self.table)
        self.table = inst.table
        start = resolver = None
        if from_previous and self.previous is not None and self.previous[1].has_plan:
            start = Start.of(*self.previous)
        if from_previous:  # it keeps the last plan it was told, so serves after a move with no plan too
            resolver = self.resolver
        result = plan(inst, watch, start=start, today=self.today_for(inst), resolver=resolver)
        self.previous = (inst, result.solution)
        return result

    def prepare_next(self) -> None:
        """In the idle time after a plan: get ready to answer a budget or limit move in a second.

        The planner reads the plan for longer than this takes (Swedish sample: about 2 s to
        hand the model to HiGHS, then about 1.5 s per rehearsed budget), so the next budget
        move finds the model in HiGHS with a warm LP basis, likely one at its own budget.
        Run under a watcher that stops the rehearsal as soon as the next request arrives.
        """
        if self.previous is None or not self.previous[1].has_plan:
            return
        inst, solution = self.previous
        if len(inst.k_area) > _RESOLVER_MAX_TRIPLES:
            self.resolver = None
            return
        if self.resolver is None or not self.resolver.serves(inst):
            self.resolver = Resolver(inst)
        self.resolver.remember(inst, solution)
        self.resolver.rehearse()


def _serve(conn: Connection, stop: threading.Event) -> None:
    """The worker's loop: one request, one answer (a `Plan`, or the text of an internal fault)."""
    worker = _Worker()
    try:
        while True:
            try:
                problem, from_previous = conn.recv()
            except EOFError:  # the page is gone
                return
            watcher = _PipeWatcher(conn, stop, time.monotonic())
            try:
                with watched_by(watcher):
                    answer: Plan | str = worker.solve(problem, from_previous)
            except Exception:  # noqa: BLE001 -- reported to the page as a failed solve, never lost
                answer = traceback.format_exc()
            try:
                conn.send(answer)
            except (BrokenPipeError, OSError):  # the page went away during the solve
                return
            try:
                with watched_by(_IdleWatcher(conn)):
                    worker.prepare_next()
            except Exception:  # noqa: BLE001 -- only an optimisation: the next solve runs in full
                worker.resolver = None
    finally:
        # Its process would otherwise wait for work forever, orphaned (it is told to end by a
        # thread of this process, hence the wait).
        worker.pool.shutdown(wait=True, cancel_futures=True)


def _shutdown(process: multiprocessing.Process, conn: Connection, stop: threading.Event) -> None:
    """Stop the solve, hang up, and let the worker end itself (and its pricing process) cleanly.

    Killed outright, the worker would leave its pricing process orphaned; only a worker that
    does not end in time (HiGHS deep in an LP) is killed.
    """
    stop.set()
    conn.close()
    process.join(timeout=_STOP_GRACE_S)
    if process.is_alive():
        process.kill()
        process.join(timeout=5)


def _failed(message: str) -> Plan:
    return no_plan(Solution("error", message))


class BackgroundSolver:
    """One session's solver: submit a problem, poll until a plan comes back, stop when asked."""

    def __init__(self) -> None:
        self._process: multiprocessing.Process | None = None
        self._conn: Connection | None = None
        self._stop = _CONTEXT.Event()
        self._finalizer: weakref.finalize | None = None
        self._started = 0.0
        self._stop_asked_at: float | None = None
        self.progress: Progress | None = None

    @property
    def running(self) -> bool:
        return self.progress is not None

    def _ensure_worker(self) -> Connection:
        if self._process is None or not self._process.is_alive():
            ours, theirs = _CONTEXT.Pipe()
            self._process = _CONTEXT.Process(target=_serve, args=(theirs, self._stop))
            self._process.start()
            theirs.close()
            self._conn = ours
            # Not a daemon (it has a child of its own, pricing today); it ends with the session
            # even when nobody calls `close`, and on EOF when the server is gone.
            self._finalizer = weakref.finalize(self, _shutdown, self._process, ours, self._stop)
        assert self._conn is not None
        return self._conn

    def submit(self, problem: Problem, from_previous: bool = True) -> None:
        """Start solving; `from_previous` hands the session's previous plan to HiGHS as a start."""
        if self.running:
            raise RuntimeError("a solve is already running: stop it or wait for it")
        conn = self._ensure_worker()
        self._stop.clear()  # here, not in the worker: a stop pressed at once must not be lost
        conn.send((problem, from_previous))
        self._started = time.monotonic()
        self._stop_asked_at = None
        self.progress = Progress(0.0)

    def stop(self) -> None:
        """Ask HiGHS to stop; the plan found so far still comes back from `poll`."""
        if self.running:
            self._stop.set()
            self._stop_asked_at = self._stop_asked_at or time.monotonic()

    def poll(self, wait_s: float = 0.0) -> Plan | None:
        """The plan once the solve has ended, else None (and `progress` is brought up to date)."""
        if not self.running or self._conn is None:
            return None
        deadline = time.monotonic() + wait_s
        try:
            while self._conn.poll(max(deadline - time.monotonic(), 0.0)):
                message = self._conn.recv()
                if isinstance(message, Progress):
                    self.progress = message
                    continue
                return self._finish(message if isinstance(message, Plan) else _failed(_fault_text(message)))
        except (EOFError, OSError):
            return self._finish(_failed("The solver process ended unexpectedly (out of memory?); solve again."))
        self.progress = Progress(time.monotonic() - self._started, self.progress.incumbent, self.progress.bound)
        if self._stop_asked_at is not None and time.monotonic() - self._stop_asked_at > _STOP_GRACE_S:
            self.close()
            return self._finish(_failed("The solve was stopped by force: HiGHS did not stop in time; no plan kept."))
        return None

    def wait(self, timeout_s: float) -> Plan | None:
        """Block until the plan comes back (tests and scripts; a page polls instead)."""
        return self.poll(wait_s=timeout_s)

    def _finish(self, result: Plan) -> Plan:
        self.progress = None
        return result

    def close(self) -> None:
        """End the worker now (its cache goes with it)."""
        if self._finalizer is not None:
            self._finalizer()
        self._process = self._conn = self._finalizer = None
        self.progress = None


def _fault_text(trace: str) -> str:
    last = trace.strip().splitlines()[-1] if trace.strip() else "unknown error"
    return f"The solver failed with an internal error ({last}). Please report it with the input workbook."
