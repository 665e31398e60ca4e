"""Crossing between sync and async code: a coroutine from sync code, blocking work off the event loop."""
from __future__ import annotations

import asyncio
import contextvars
import os
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, or the same in a helper thread when a loop already runs here (e.g. under Playwright)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    outcome: dict[str, Any] = {}
    context = contextvars.copy_context()  # keeps Flask's app and request context in the helper thread

    def target() -> None:
        try:
            outcome["value"] = context.run(asyncio.run, coro)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="run_sync")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _forget_pools() -> None:
    """In a forked child the pools' threads are gone (a pool would queue work that never runs): start anew."""
    global _POOLS_LOCK
    _POOLS.clear()
    _POOLS_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools)


def _pool(workers: int) -> ThreadPoolExecutor:
    with _POOLS_LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            pool = _POOLS[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"pool{workers}")
        return pool


async def in_threads(workers: int, fn: Callable[[], T]) -> T:
    """fn() in this process's pool of `workers` threads, so that the event loop keeps running meanwhile.

    Every caller asking for the same size shares one pool (every run of a process, whatever its loop), so
    at most `workers` such calls run at once and the others wait their turn. A caller that stops waiting
    does not stop fn: it runs to its end in its thread (fn must bound itself).
    """
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(_pool(workers), context.run, fn)
