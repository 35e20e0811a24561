"""Overlap the network with local work: fetch the next page while the current one is written."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
_DONE = object()


class Prefetcher(Generic[T]):
    """Runs `produce` (a generator of pages) in a thread, at most `depth` pages ahead.

    Exceptions raised by the producer surface in the consumer at the point the page
    would have arrived, so error handling reads as if the fetch were sequential.
    """

    def __init__(self, produce: Callable[[], Iterator[T]], depth: int = 2) -> None:
        self._produce = produce
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hubsync-prefetch", daemon=True)

    def __enter__(self) -> Iterator[T]:
        self._thread.start()
        return self._consume()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        # Unblock a producer waiting on a full queue so the thread can see the stop flag.
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._produce():
                if not self._put(item):
                    return
        except BaseException as exc:  # handed to the consumer, re-raised there
            self._put(_Failure(exc))
            return
        self._put(_DONE)

    def _consume(self) -> Iterator[T]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item  # type: ignore[misc]


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
