"""Single flight in the database: one holder among threads and processes, stale takeover."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import socket
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest

from hubsync_core.store import lock, runs
from hubsync_core.store.database import Database
from hubsync_core.store.lock import SyncAlreadyRunning

HOST = socket.gethostname()
ME = f"dashboard@{HOST}:{os.getpid()}"
ELSEWHERE = "cli@other-host:123"
T0 = datetime(2026, 11, 28, 10, 3, 17)


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_second_acquire_raises_with_the_holders_details(db: Database) -> None:
    run = runs.create_run(db, "full", ELSEWHERE, {})
    lock.acquire(db, ELSEWHERE, run.id, now=T0)

    with pytest.raises(SyncAlreadyRunning) as raised:
        lock.acquire(db, ME, None, now=T0 + timedelta(seconds=30))

    error = raised.value
    assert str(error) == (
        "A sync is already running (started 2026-11-28 10:03 UTC by cli on other-host pid 123)"
    )
    assert (error.owner, error.started_at, error.run_id) == (ELSEWHERE, T0, run.id)
    assert pickle.loads(pickle.dumps(error)).owner == ELSEWHERE
    holder = lock.current_holder(db)
    assert holder is not None and holder.owner == ELSEWHERE


def test_the_same_process_cannot_hold_two_syncs(db: Database) -> None:
    lock.acquire(db, ME, None)

    with pytest.raises(SyncAlreadyRunning):
        lock.acquire(db, ME, None)


def test_release_frees_the_lock_only_for_its_owner(db: Database) -> None:
    lock.acquire(db, ME, None)

    assert lock.release(db, ELSEWHERE) is False
    assert lock.current_holder(db) is not None
    assert lock.release(db, ME) is True
    assert lock.current_holder(db) is None

    lock.acquire(db, ELSEWHERE, None)
    holder = lock.current_holder(db)
    assert holder is not None and holder.owner == ELSEWHERE


def test_attach_run_and_heartbeat_answer_whether_the_owner_still_holds(db: Database) -> None:
    lock.acquire(db, ME, None, now=T0)
    run = runs.create_run(db, "full", ME, {})
    assert run.id is not None

    assert lock.attach_run(db, ME, run.id) is True
    assert lock.heartbeat(db, ME, now=T0 + timedelta(seconds=5)) is True
    assert lock.attach_run(db, ELSEWHERE, run.id) is False
    assert lock.heartbeat(db, ELSEWHERE) is False

    holder = lock.current_holder(db)
    assert holder is not None
    assert (holder.run_id, holder.heartbeat_at) == (run.id, T0 + timedelta(seconds=5))
    assert holder.description == f"dashboard on {HOST} pid {os.getpid()}"


def test_racing_threads_exactly_one_acquires(db: Database) -> None:
    count = 8
    barrier = threading.Barrier(count)
    outcomes: list[str] = []
    guard = threading.Lock()

    def attempt(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            lock.acquire(db, f"thread{i}@{HOST}:{os.getpid()}", None)
            result = "won"
        except SyncAlreadyRunning:
            result = "refused"
        with guard:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["refused"] * (count - 1) + ["won"]


def _race(url: str, start: Any, done: Any, results: Any) -> None:
    db = Database(url)
    try:
        start.wait(timeout=30)
        try:
            lock.acquire(db, lock.make_owner("cli"), None)
            results.put("won")
        except SyncAlreadyRunning as exc:
            results.put(f"refused by {exc.owner}")
        # The winner must outlive every attempt, or its ended pid would make it stale.
        done.wait(timeout=30)
    except Exception as exc:
        results.put(f"error {exc!r}")
    finally:
        db.dispose()


def test_racing_processes_exactly_one_acquires(database_url: str, db: Database) -> None:
    ctx = multiprocessing.get_context("fork")
    count = 4
    start, done, results = ctx.Barrier(count), ctx.Barrier(count), ctx.Queue()
    workers = [
        ctx.Process(target=_race, args=(database_url, start, done, results)) for _ in range(count)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)

    winners = [o for o in outcomes if o == "won"]
    refused = [o for o in outcomes if o.startswith("refused by cli@")]
    assert (len(winners), len(refused)) == (1, count - 1), outcomes
    holder = lock.current_holder(db)
    assert holder is not None
    assert holder.owner in {f"cli@{HOST}:{w.pid}" for w in workers}


def test_lock_of_an_ended_process_on_this_host_is_taken_over(db: Database) -> None:
    dead = f"cli@{HOST}:{dead_pid()}"
    old_run = runs.create_run(db, "full", dead, {})
    lock.acquire(db, dead, old_run.id)

    lock.acquire(db, ME, None)

    holder = lock.current_holder(db)
    assert holder is not None and (holder.owner, holder.run_id) == (ME, None)
    interrupted = runs.get_run(db, old_run.id)
    assert interrupted is not None
    assert interrupted.status == "interrupted"
    assert interrupted.finished_at is not None
    assert interrupted.error_message == lock.INTERRUPTED_MESSAGE


def test_a_killed_but_unreaped_process_counts_as_ended(db: Database) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        child.kill()
        # Wait for the exit without reaping it: the child stays a zombie.
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
        lock.acquire(db, f"cli@{HOST}:{child.pid}", None)

        lock.acquire(db, ME, None)

        holder = lock.current_holder(db)
        assert holder is not None and holder.owner == ME
    finally:
        child.wait()


def test_lock_with_an_old_heartbeat_is_taken_over_from_any_host(db: Database) -> None:
    old_run = runs.create_run(db, "full", ELSEWHERE, {})
    lock.acquire(db, ELSEWHERE, old_run.id, now=T0)

    with pytest.raises(SyncAlreadyRunning):
        lock.acquire(db, ME, None, stale_after=60, now=T0 + timedelta(seconds=59))
    lock.acquire(db, ME, None, stale_after=60, now=T0 + timedelta(seconds=61))

    holder = lock.current_holder(db)
    assert holder is not None and holder.owner == ME
    assert holder.acquired_at == T0 + timedelta(seconds=61)
    interrupted = runs.get_run(db, old_run.id)
    assert interrupted is not None and interrupted.status == "interrupted"


def test_heartbeat_keeps_a_holder_from_going_stale(db: Database) -> None:
    lock.acquire(db, ELSEWHERE, None, now=T0)
    assert lock.heartbeat(db, ELSEWHERE, now=T0 + timedelta(seconds=50))

    with pytest.raises(SyncAlreadyRunning):
        lock.acquire(db, ME, None, now=T0 + timedelta(seconds=100))


def test_taking_the_lock_interrupts_runs_left_running_without_it(db: Database) -> None:
    orphan = runs.create_run(db, "full", ELSEWHERE, {})  # its process died after releasing

    lock.acquire(db, ME, None)
    mine = runs.create_run(db, "full", ME, {})

    orphaned = runs.get_run(db, orphan.id)
    assert orphaned is not None and orphaned.status == "interrupted"
    current = runs.get_run(db, mine.id)
    assert current is not None and current.status == "running"


def test_mark_interrupted_runs_spares_the_live_holder_and_frees_stale_locks(
    db: Database,
) -> None:
    orphan = runs.create_run(db, "full", ELSEWHERE, {})
    lock.acquire(db, ME, None, now=T0)
    live = runs.create_run(db, "full", ME, {})
    assert live.id is not None
    lock.attach_run(db, ME, live.id)
    lock.heartbeat(db, ME, now=T0)

    assert lock.mark_interrupted_runs(db, now=T0 + timedelta(seconds=10)) == 0  # orphan done
    assert runs.get_run(db, orphan.id).status == "interrupted"  # type: ignore[union-attr]
    assert runs.get_run(db, live.id).status == "running"  # type: ignore[union-attr]

    assert lock.mark_interrupted_runs(db, now=T0 + timedelta(minutes=5)) == 1
    assert runs.get_run(db, live.id).status == "interrupted"  # type: ignore[union-attr]
    assert lock.current_holder(db) is None


def test_mark_interrupted_runs_spares_a_run_created_before_it_is_attached(
    db: Database,
) -> None:
    lock.acquire(db, ME, None)
    starting = runs.create_run(db, "full", ME, {})

    assert runs.mark_stale_runs(db) == 0
    assert runs.get_run(db, starting.id).status == "running"  # type: ignore[union-attr]


def test_owner_strings_parse_and_describe() -> None:
    assert lock.parse_owner("cli@host.example:42") == ("cli", "host.example", 42)
    assert lock.parse_owner("sdk") == ("sdk", None, None)
    assert lock.parse_owner("a@b:c") == ("a@b:c", None, None)
    assert lock.describe_owner("sdk") == "sdk"
    assert lock.make_owner("cli") == f"cli@{HOST}:{os.getpid()}"


def test_live_holder_hides_a_holder_that_would_be_taken_over(db: Database) -> None:
    assert lock.live_holder(db) is None
    lock.acquire(db, ELSEWHERE, None, now=T0)

    alive = lock.live_holder(db, now=T0 + timedelta(seconds=30))
    assert alive is not None
    assert str(SyncAlreadyRunning.from_holder(alive)).startswith("A sync is already running")
    assert lock.live_holder(db, now=T0 + timedelta(minutes=2)) is None
