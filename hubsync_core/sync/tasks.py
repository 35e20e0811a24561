"""Work of one run that goes alongside its phases: calls that depend on no other call.

At real-world latency a sync's fixed calls (portal details, properties, the expected total,
list discovery and memberships, option labels) cost seconds when made one after another.
None of them depends on the contacts walk, so they run concurrently with it, all through the
one client and its shared pacing budget.

Each task's outcome is its own: a task runs in its own thread with its own stop flag, keeps
its result or its exception, and hands either over only when the phase that owns it joins
it (`Task.join`), so a task's failure is reported by its phase exactly as if that phase had
made the calls itself, and never becomes, hides or replaces another phase's failure. A task
that is still running when the run ends early is stopped and waited for (`Task.abandon`):
nothing of a run writes after the run is over.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Generic, TypeVar

from hubsync_core.hubspot.errors import HubSpotError
from hubsync_core.sync.context import Cancelled, RunContext

log = logging.getLogger("hubsync.sync")

T = TypeVar("T")

#: How often a phase waiting for a task looks at the run's cancel flag (seconds).
POLL_SECONDS = 0.2


class Task(Generic[T]):
    """`target(ctx)` in a thread of its own; `ctx` is the run's, with the task's stop flag
    as its cancel flag (`check_cancel` inside the task stops on either)."""

    def __init__(self, name: str, ctx: RunContext, target: Callable[[RunContext], T]) -> None:
        self.name = name
        self._stop = _EitherEvent(ctx.cancel)
        # The task's own view of the run: same database, client, options and warnings; its
        # own cancel flag, and no progress listener (the phases publish progress).
        self._ctx = replace(ctx, cancel=self._stop, on_progress=None)
        self._target = target
        self._done = threading.Event()
        self._result: T | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"hubsync-{name}", daemon=True)

    def start(self) -> Task[T]:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._result = self._target(self._ctx)
        except BaseException as exc:  # kept for the phase that joins the task
            self.error = exc
        finally:
            self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def join(self, ctx: RunContext) -> T:
        """Wait for the task (the run's cancel flag still works) and return its result, or
        raise its own exception."""
        while not self._done.wait(POLL_SECONDS):
            ctx.check_cancel()
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self._result  # type: ignore[return-value]

    def abandon(self) -> BaseException | None:
        """Stop the task and wait until it stopped; its failure, if it had one (a stop is
        not a failure)."""
        self._stop.set()
        self._thread.join()
        return None if isinstance(self.error, Cancelled) else self.error


class Tasks:
    """The tasks a run started, by name (one of each at a time)."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task[Any]] = {}

    def start(self, name: str, ctx: RunContext, target: Callable[[RunContext], Any]) -> None:
        self._tasks[name] = Task(name, ctx, target).start()

    def take(self, name: str) -> Task[Any] | None:
        """The task `name` (no longer tracked here), None if none was started."""
        return self._tasks.pop(name, None)

    def running(self) -> list[str]:
        """Names of the tasks still at work (for progress: what runs alongside the phase)."""
        return [name for name, task in self._tasks.items() if not task.done]

    def abandon_all(self, warnings: list[str]) -> None:
        """Stop every task; a failure of one is logged and told in `warnings`, never raised
        (the run already ends with the error that stopped it)."""
        for name in list(self._tasks):
            task = self._tasks.pop(name)
            error = task.abandon()
            if error is None:
                continue
            text = error.message if isinstance(error, HubSpotError) else repr(error)
            message = f"The {name} read alongside the run failed too: {text}"
            log.warning(message)
            warnings.append(message)


@contextmanager
def alongside(tasks: Tasks, ctx: RunContext) -> Iterator[Tasks]:
    """`tasks` for the body; on the way out, every task not joined is stopped and waited for."""
    try:
        yield tasks
    finally:
        tasks.abandon_all(ctx.warnings)


class _EitherEvent(threading.Event):
    """A stop flag that is also set when the run's cancel flag is."""

    def __init__(self, parent: threading.Event | None) -> None:
        super().__init__()
        self._parent = parent

    def is_set(self) -> bool:
        return super().is_set() or (self._parent is not None and self._parent.is_set())
