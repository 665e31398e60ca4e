"""The one walker: a pool of workers visiting the URLs of one frontier, each URL once.

What a visit does is the caller's: the broken-link crawl (outreach.crawler.crawl.Crawler) checks the
URL and, for a page of the seeds' sites, adds every link it finds; the discovery walks
(outreach.discovery.site_walk.walk_site: guest-post guidelines, mentions) read a site's HTML pages
and add its same-host links ranked by what they look for. The walker owns the frontier (FIFO, or by
priority when ranked), the seen-set, the workers, the end (the frontier empty and no visit running)
and the stop.

A fixed pool of workers takes URLs from the frontier, so memory grows with the number of distinct
URLs (the seen-set and the queue), not with pending tasks. The broken-link crawl hands the walker a
frontier kept in a database instead (outreach.crawler.state.StoredFrontier: memory bounded, resumable,
shared by the processes of one crawl); it brings URLs in with `refill` and says with `finished` when
no process of the crawl has any left.
"""
from __future__ import annotations

import asyncio
import contextlib
import heapq
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Frontier(Generic[T]):
    """URLs still to visit, each with an item of the caller's, and every URL ever added.

    FIFO by default; `ranked`: the lowest priority first, then the order added.
    """

    def __init__(self, *, ranked: bool = False) -> None:
        self.ranked = ranked
        #: every URL added (the crawler reads it directly in its hot loop)
        self.seen: set[str] = set()
        self._fifo: deque[tuple[str, T]] = deque()
        self._heap: list[tuple[int, int, str, T]] = []
        self._added = 0
        #: how long an idle worker waits before asking `refill` again (None: until a visit adds something)
        self.poll_seconds: float | None = None
        #: set by the walk: tells idle workers that URLs came in
        self.wake: Callable[[], None] = lambda: None

    def add(self, url: str, item: T, priority: int = 0) -> bool:
        """Queue url unless it was ever added; whether it was queued."""
        if url in self.seen:
            return False
        self.seen.add(url)
        self.push(url, item, priority)
        return True

    def push(self, url: str, item: T, priority: int = 0) -> None:
        """Queue url, already marked seen by the caller."""
        if self.ranked:
            self._added += 1
            heapq.heappush(self._heap, (priority, self._added, url, item))
        else:
            self._fifo.append((url, item))

    def pop(self) -> tuple[str, T]:
        if self.ranked:
            _priority, _order, url, item = heapq.heappop(self._heap)
            return url, item
        return self._fifo.popleft()

    def clear(self) -> None:
        self._fifo.clear()
        self._heap.clear()

    def __len__(self) -> int:
        return len(self._heap) if self.ranked else len(self._fifo)

    async def refill(self) -> bool:
        """Bring URLs in from where else they are kept; whether any came (in memory: nowhere else)."""
        return False

    async def finished(self) -> bool:
        """Whether no URL is left anywhere, this walk's visits being over (in memory: the queue is all)."""
        return not self


class Walk(Generic[T]):
    """Workers that call `visit(url, item)` for each URL of the frontier until none is left or `stop()`.

    A visit adds what it finds with `add` (or `frontier.push`, then `wake`); the walk ends when the
    frontier is empty and no visit is running.
    """

    def __init__(self, visit: Callable[[str, T], Awaitable[None]], *, concurrency: int,
                 ranked: bool = False, frontier: Frontier[T] | None = None) -> None:
        self.frontier: Frontier[T] = frontier if frontier is not None else Frontier(ranked=ranked)
        self.concurrency = max(1, concurrency)
        self.stopped = False
        self._visit = visit
        self._wakeup = asyncio.Event()
        self.frontier.wake = self._wakeup.set
        self._busy = 0
        self._workers: list[asyncio.Task[None]] = []

    @property
    def pending(self) -> int:
        """URLs queued or being visited."""
        return len(self.frontier) + self._busy

    def add(self, url: str, item: T, priority: int = 0) -> bool:
        if self.stopped or not self.frontier.add(url, item, priority):
            return False
        self._wakeup.set()
        return True

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self) -> None:
        """Start no new visit (the running ones finish); the walk ends when they have."""
        self.stopped = True
        self.frontier.clear()
        self._wakeup.set()

    def abort(self) -> None:
        """Stop now: the running visits are cancelled too (a frontier kept elsewhere has them again on resume)."""
        self.stop()
        for task in self._workers:
            task.cancel()

    async def run(self) -> None:
        workers = self._workers = [asyncio.create_task(self._worker()) for _ in range(self.concurrency)]
        try:
            await asyncio.wait(workers)
            for task in workers:  # a visit's error ends the walk with it; an abort's cancellations do not
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _worker(self) -> None:
        frontier, wakeup = self.frontier, self._wakeup
        while True:
            if self.stopped:
                wakeup.set()
                return
            if not frontier:
                wakeup.clear()  # before looking: a wake-up that comes while this worker looks is not lost
                if await frontier.refill() or frontier:
                    continue
                if self._busy == 0 and await frontier.finished():
                    wakeup.set()  # let the other idle workers see that the walk is over
                    return
                if frontier or self.stopped:
                    continue
                if frontier.poll_seconds is None:
                    await wakeup.wait()
                else:  # another process may queue URLs for this one: look again after a while
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wakeup.wait(), frontier.poll_seconds)
                continue
            url, item = frontier.pop()
            self._busy += 1
            try:
                await self._visit(url, item)
            finally:
                self._busy -= 1
                if not frontier and self._busy == 0:
                    wakeup.set()

