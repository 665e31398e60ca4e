"""Racing claims: workers that start together must take each unit exactly once and lose none.

Each worker is a thread with its own session from the app's engine. They wait at a barrier, then each
calls `claim` (one attempt: the ids it took, or nothing) and commits, until an attempt takes nothing.
A claim that lets two workers take the same unit, or leaves a unit behind, fails `assert_each_once`.
"""
from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Collection, Hashable, Iterable
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
Claim = Callable[[Session], Iterable[Hashable] | None]


def together(work: Callable[[int], T], workers: int = 2) -> list[T]:
    """Run work(0), work(1), ... in threads released at the same moment by a barrier; returns their results."""
    barrier = threading.Barrier(workers)
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,), name=f"worker-{i}") for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker is still running after 120 s"
    if errors:
        raise errors[0]
    return [results[i] for i in range(workers)]


def race(factory: sessionmaker[Session], claim: Claim, *, workers: int = 2, attempts: int = 50
         ) -> list[list[Hashable]]:
    """Start `workers` claimers at once; returns what each one took, attempt after attempt."""

    def work(_: int) -> list[Hashable]:
        taken: list[Hashable] = []
        with factory() as session:
            for _ in range(attempts):
                got = list(claim(session) or [])
                session.commit()
                if not got:
                    break
                taken.extend(got)
        return taken

    return together(work, workers)


def assert_each_once(taken: list[list[Hashable]], expected: Collection[Hashable]) -> None:
    counts = Counter(unit for worker in taken for unit in worker)
    twice = sorted((u for u, n in counts.items() if n > 1), key=repr)
    lost = sorted(set(expected) - set(counts), key=repr)
    unexpected = sorted(set(counts) - set(expected), key=repr)
    assert not (twice or lost or unexpected), f"taken twice: {twice}; never taken: {lost}; not due: {unexpected}"


def race_rounds(factory: sessionmaker[Session], prepare: Callable[[], Collection[Hashable]], claim: Claim, *,
                rounds: int = 10, workers: int = 2) -> list[list[list[Hashable]]]:
    """`rounds` times: `prepare` the units (returns their ids), race the claimers, check each unit went once."""
    results = []
    for _ in range(rounds):
        expected = prepare()
        taken = race(factory, claim, workers=workers)
        assert_each_once(taken, expected)
        results.append(taken)
    return results


def claim_together(factory: sessionmaker[Session], claim: Claim, *, workers: int = 2, hold: float = 1.0
                   ) -> tuple[list[list[Hashable]], bool]:
    """Each worker claims once at the same moment and keeps its transaction open until every other worker's
    claim has returned (at most `hold` seconds), then commits. Returns what each took, and whether every
    claim returned while the others still held theirs (False when one queued behind another's locks)."""
    returned = threading.Condition()
    claimed = [0]

    def work(_: int) -> tuple[list[Hashable], bool]:
        with factory() as session:
            taken = list(claim(session) or [])
            with returned:
                claimed[0] += 1
                returned.notify_all()
                overlapped = returned.wait_for(lambda: claimed[0] == workers, timeout=hold)
            session.commit()
        return taken, overlapped

    results = together(work, workers)
    return [taken for taken, _ in results], all(overlapped for _, overlapped in results)
