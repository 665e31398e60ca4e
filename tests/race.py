"""Racing claims: workers that start together must take each unit exactly once and lose none.

Each worker is a thread with its own session from the app's engine. They wait at a barrier, then each
calls `claim` (one attempt: the ids it took, or nothing) and commits, until an attempt takes nothing.
A claim that lets two workers take the same unit, or leaves a unit behind, fails `assert_each_once`.
"""
from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Collection, Hashable, Iterable

from sqlalchemy.orm import Session, sessionmaker

Claim = Callable[[Session], Iterable[Hashable] | None]


def race(factory: sessionmaker[Session], claim: Claim, *, workers: int = 2, attempts: int = 50
         ) -> list[list[Hashable]]:
    """Start `workers` claimers at once; returns what each one took, attempt after attempt."""
    barrier = threading.Barrier(workers)
    taken: list[list[Hashable]] = [[] for _ in range(workers)]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            with factory() as session:
                barrier.wait(timeout=30)
                for _ in range(attempts):
                    got = list(claim(session) or [])
                    session.commit()
                    if not got:
                        return
                    taken[i].extend(got)
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(i,), name=f"claimer-{i}") for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a claimer is still waiting after 120 s"
    if errors:
        raise errors[0]
    return taken


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
    barrier = threading.Barrier(workers)
    returned = threading.Condition()
    claimed = [0]
    overlapped: list[bool] = []
    taken: list[list[Hashable]] = [[] for _ in range(workers)]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            with factory() as session:
                barrier.wait(timeout=30)
                taken[i].extend(claim(session) or [])
                with returned:
                    claimed[0] += 1
                    returned.notify_all()
                    overlapped.append(returned.wait_for(lambda: claimed[0] == workers, timeout=hold))
                session.commit()
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(i,), name=f"claimer-{i}") for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return taken, all(overlapped)
