"""A crawl's frontier, seen-set, page limit and findings kept in a database, so a stopped crawl resumes.

A crawl job keeps them in the app's database under its id (tables crawl_states, crawl_urls,
crawl_links) until it ends; the CLI keeps the same tables in a SQLite file of its own (`--state FILE`,
else a temporary one) with job id 0. Memory then holds only what is in flight: the URLs claimed for
the next visits, what the last visits found until it is written (a fraction of a second), and two
capped caches that spare the database the most repeated links.

Each URL is a row: queued, claimed by a process, or done with its outcome. The URLs a visit found,
its outcome and the URL's "done" are written in one transaction, so a crawl killed at any moment
resumes with every finding so far and re-fetches only the URLs it was visiting (or had finished
within the last write, a fraction of a second). The processes of one crawl share the rows: each
claims queued URLs of its own shard (by host when per-host politeness is on, by URL otherwise), the
page limit is one counter, and the crawl is over when no URL is queued or claimed.

Which pages link to a URL is kept until its check says it works; what is left at the end is the
dead URLs' linking pages.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, bindparam, delete, event, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from outreach.crawler.checker import Outcome
from outreach.crawler.walk import Frontier
from outreach.lib.clock import utcnow
from outreach.lib.urls import BadURL, url_origin
from outreach.models.crawl import CrawlFinding, CrawlLink, CrawlShard, CrawlState, CrawlURL

T = TypeVar("T")
QUEUED, CLAIMED, DONE = 0, 1, 2
TABLES = [CrawlState.__table__, CrawlURL.__table__, CrawlLink.__table__]
#: entries kept by each cache of known URLs before it starts again (about 60 MB each when full)
CACHE_LIMIT = 1_000_000
_CHUNK = 500
#: how long the writer waits for more visits to end before it writes them all in one transaction
GATHER_SECONDS = 0.02
#: how often an idle process of a crawl of several looks for URLs the others queued for it
POLL_SECONDS = 0.1


class StateMismatch(ValueError):
    """A state file or row saved by another crawl (other seeds or page limit)."""


def url_hash(text: str) -> int:
    """63 bits of BLAKE2b: the same in every process and after a restart (Python's hash() is not)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()) >> 1


def _host_hash(url: str) -> int:
    return url_hash(url_origin(url))


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@dataclass
class Counts:
    """A crawl's counters as its rows say (what a resumed crawl starts from)."""

    pages_crawled: int = 0
    links_checked: int = 0
    broken_found: int = 0
    unfinished: int = 0


@dataclass(frozen=True)
class Claimed:
    """A URL taken for a visit: its row and whether it is a page to read."""

    id: int
    url: str
    is_page: bool


class CrawlStore:
    """The rows of one crawl (job id `job_id`) as seen by one process: shard `shard` of `shards`."""

    def __init__(self, engine: Engine, job_id: int = 0, *, shard: int = 0, shards: int = 1,
                 shard_by_host: bool = True, keep_findings: bool = False, holder: str | None = None,
                 takes_back_after: float | None = None) -> None:
        self.engine, self.job_id = engine, job_id
        self.shard, self.shards, self.shard_by_host = shard, shards, shard_by_host
        #: a crawl job spread over workers: this process claims the URLs of the crawl_shards rows it holds
        #: (renewed at each write) instead of one fixed shard
        self.holder = holder
        #: the job's own worker: takes back the shards whose holder stopped renewing them for this long
        self.takes_back_after = takes_back_after
        #: the shards this process held at its last write
        self.held: list[int] = []
        #: write the job's CrawlFinding rows as dead URLs and their linking pages are found
        self.keep_findings = keep_findings
        self.origins: set[str] = set()
        self._postgres = engine.dialect.name == "postgresql"
        #: a SQLite file on this machine: its calls are quick and run on the event loop
        self.is_local = not self._postgres
        self._conn: Connection | None = None
        self._insert = postgresql.insert if self._postgres else sqlite.insert
        #: URLs known to be in the table, and URLs known to work (no linking page needs keeping)
        self._seen: set[int] = set()
        self._working: set[int] = set()

    # --- start ------------------------------------------------------------------------------------

    def open(self, seeds: list[str], max_pages: int) -> bool:
        """Start the crawl's rows with its seeds, or check saved ones are for the same crawl; True when resuming.

        URLs claimed by processes that stopped are queued again."""
        with self._begin() as conn:
            row = conn.execute(select(CrawlState.seeds, CrawlState.max_pages)
                               .where(CrawlState.job_id == self.job_id)).first()
            if row is None:
                conn.execute(insert(CrawlState).values(job_id=self.job_id, seeds=seeds, max_pages=max_pages,
                                                       pages_taken=0))
                self._add_urls(conn, [(url_hash(s), s) for s in seeds])
                self.origins = {url_origin(s) for s in seeds}
                return False
            if list(row.seeds) != seeds or row.max_pages != max_pages:
                raise StateMismatch(f"it holds a crawl of {' '.join(row.seeds)} with --max-pages {row.max_pages}")
            conn.execute(update(CrawlURL).where(CrawlURL.job_id == self.job_id, CrawlURL.state == CLAIMED)
                         .values(state=QUEUED))
            self.origins = {url_origin(s) for s in seeds}
            return True

    def attach(self) -> None:
        """Join a crawl another process opened (a shard of it)."""
        with self.engine.connect() as conn:
            seeds = conn.execute(select(CrawlState.seeds).where(CrawlState.job_id == self.job_id)).scalar_one()
        self.origins = {url_origin(s) for s in seeds}

    def counts(self) -> Counts:
        u = CrawlURL
        with self.engine.connect() as conn:
            row = conn.execute(select(
                func.count().filter(u.state == DONE),
                func.count().filter(u.is_crawled.is_(True)),
                func.count().filter(u.is_broken.is_(True)),
                func.count().filter(u.state != DONE)).where(u.job_id == self.job_id)).one()
        return Counts(links_checked=row[0], pages_crawled=row[1], broken_found=row[2], unfinished=row[3])

    # --- the write of each batch ------------------------------------------------------------------

    def write(self, links: list[tuple[str, str, str]], outcomes: list[tuple[int, Outcome, bool]],
              claim: int) -> list[Claimed]:
        """In one transaction: store what visits found and how their URLs ended, then claim up to `claim`
        queued URLs of this shard.

        `links`: (url, page, anchor) in the order found; `outcomes`: (row id, outcome, the page answered)."""
        with self._begin() as conn:
            if self.holder is not None:
                self.held = self._hold(conn)
            if outcomes:
                self._finish_urls(conn, outcomes)
            dirty: set[int] = set()
            if links:
                dirty |= self._add_links(conn, links)
            if self.keep_findings:
                dirty |= {url_hash(o.url) for _, o, _ in outcomes if o.broken}
                if dirty:
                    self._write_findings(conn, sorted(dirty))
            return self._claim(conn, claim) if claim else []

    # The statements of every batch go to the driver as they are (executemany of tuples): SQLAlchemy's
    # per-row work would cost more than the database's. `?` becomes psycopg's `%s` on PostgreSQL.

    def _run(self, conn: Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            conn.exec_driver_sql(sql.replace("?", "%s") if self._postgres else sql, rows)

    def _query(self, conn: Connection, sql: str, args: tuple[Any, ...]) -> list[Any]:
        return list(conn.exec_driver_sql(sql.replace("?", "%s") if self._postgres else sql, args))

    def _add_urls(self, conn: Connection, rows: Iterable[tuple[int, str]]) -> set[str]:
        """Queue the URLs not seen yet; returns those that cannot be fetched (never queued)."""
        new: list[tuple[Any, ...]] = []
        bad: set[str] = set()
        for h, u in rows:
            if h not in self._seen:
                try:
                    new.append((self.job_id, h, _host_hash(u), u))
                except BadURL:  # not a URL that can be fetched (a bad port, say)
                    bad.add(u)
        self._run(conn, "INSERT INTO crawl_urls (job_id, url_hash, host_hash, url, state, is_crawled, is_ok, "
                        "is_broken) VALUES (?, ?, ?, ?, 0, FALSE, FALSE, FALSE) "
                        "ON CONFLICT (job_id, url_hash) DO NOTHING", new)
        self._remember(self._seen, (row[1] for row in new))
        return bad

    def _add_links(self, conn: Connection, links: list[tuple[str, str, str]]) -> set[int]:
        """Queue the new URLs and keep their linking pages; returns dead URLs that got a linking page."""
        hashed: dict[str, int] = {}
        pages: dict[str, int] = {}
        for url, page, _ in links:
            if url not in hashed:
                hashed[url] = url_hash(url)
            if page not in pages:
                pages[page] = url_hash(page)
        bad = self._add_urls(conn, ((h, u) for u, h in hashed.items()))
        unknown = [h for h in set(hashed.values()) if h not in self._working]
        done_ok: set[int] = set()
        dead: set[int] = set()
        for chunk in _chunks(unknown):
            marks = ", ".join("?" * len(chunk))
            for h, is_ok, is_broken in self._query(
                    conn, f"SELECT url_hash, is_ok, is_broken FROM crawl_urls WHERE job_id = ? AND state = 2 "
                          f"AND url_hash IN ({marks})", (self.job_id, *chunk)):
                if is_ok:
                    done_ok.add(h)
                elif is_broken:
                    dead.add(h)
        self._remember(self._working, done_ok)
        working = self._working
        edges = [(self.job_id, hashed[url], pages[page], page, anchor) for url, page, anchor in links
                 if hashed[url] not in working and url not in bad]
        self._run(conn, "INSERT INTO crawl_links (job_id, url_hash, page_hash, page, anchor) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (job_id, url_hash, page_hash) DO NOTHING", edges)
        return dead

    def _finish_urls(self, conn: Connection, outcomes: list[tuple[int, Outcome, bool]]) -> None:
        self._run(conn, "UPDATE crawl_urls SET state = 2, is_crawled = ?, is_ok = ?, is_broken = ?, reason = ?, "
                        "http_status = ?, final_url = ? WHERE id = ?",
                  [(crawled, o.ok, o.broken, o.reason, o.status, None if o.ok else o.final_url, row_id)
                   for row_id, o, crawled in outcomes])
        working = [url_hash(o.url) for _, o, _ in outcomes if o.ok]
        for chunk in _chunks(working):
            self._run(conn, f"DELETE FROM crawl_links WHERE job_id = ? AND url_hash IN ({', '.join('?' * len(chunk))})",
                      [(self.job_id, *chunk)])
        self._remember(self._working, working)

    def _claim(self, conn: Connection, limit: int) -> list[Claimed]:
        u = CrawlURL
        where = [u.job_id == self.job_id, u.state == QUEUED]
        key = u.host_hash if self.shard_by_host else u.url_hash
        if self.holder is not None:
            if not self.held:
                return []
            where.append((key % self.shards).in_(self.held))
        elif self.shards > 1:
            where.append(key % self.shards == self.shard)
        chosen = select(u.id).where(*where).order_by(u.id).limit(limit).with_for_update(skip_locked=True)
        rows = conn.execute(update(u).where(u.id.in_(chosen.scalar_subquery())).values(state=CLAIMED)
                            .returning(u.id, u.url, u.is_page).execution_options(synchronize_session=False)).all()
        rows.sort(key=lambda r: r.id)
        undecided = [r for r in rows if r.is_page is None]
        decided: dict[int, bool] = {}
        if undecided:
            state = conn.execute(select(CrawlState.pages_taken, CrawlState.max_pages)
                                 .where(CrawlState.job_id == self.job_id).with_for_update()).one()
            taken = state.pages_taken
            for r in undecided:
                decided[r.id] = taken < state.max_pages and url_origin(r.url) in self.origins
                taken += decided[r.id]
            if taken != state.pages_taken:
                conn.execute(update(CrawlState).where(CrawlState.job_id == self.job_id).values(pages_taken=taken))
            conn.execute(update(u).where(u.id == bindparam("row_id")).values(is_page=bindparam("page"))
                         .execution_options(synchronize_session=False),
                         [{"row_id": i, "page": p} for i, p in decided.items()])
        return [Claimed(r.id, r.url, decided.get(r.id, bool(r.is_page))) for r in rows]

    def share(self, holder: str) -> None:
        """Spread the crawl over workers: every shard held by `holder` (the job's worker) until others take some."""
        with self._begin() as conn:
            conn.execute(delete(CrawlShard).where(CrawlShard.job_id == self.job_id))
            conn.execute(insert(CrawlShard), [{"job_id": self.job_id, "shard": i, "worker": holder,
                                               "heartbeat_at": utcnow()} for i in range(self.shards)])

    def _hold(self, conn: Connection) -> list[int]:
        """Renew the shards this process holds (and, the job's worker, take back stale ones); returns them."""
        now = utcnow()
        held = list(conn.execute(update(CrawlShard).where(CrawlShard.job_id == self.job_id,
                                                          CrawlShard.worker == self.holder)
                                 .values(heartbeat_at=now).returning(CrawlShard.shard)).scalars())
        if self.takes_back_after is not None:
            stale = list(conn.execute(
                update(CrawlShard).where(CrawlShard.job_id == self.job_id, CrawlShard.worker != self.holder,
                                         CrawlShard.heartbeat_at < now - timedelta(seconds=self.takes_back_after))
                .values(worker=self.holder, heartbeat_at=now).returning(CrawlShard.shard)).scalars())
            if stale:  # their holder died: the URLs it had claimed are queued again
                self.requeue_claimed(conn, stale)
                held += stale
        return sorted(held)

    def requeue_claimed(self, conn: Connection, shards: list[int]) -> None:
        """Queue again the claimed URLs of these shards (their process stopped)."""
        u = CrawlURL
        key = u.host_hash if self.shard_by_host else u.url_hash
        conn.execute(update(u).where(u.job_id == self.job_id, u.state == CLAIMED, (key % self.shards).in_(shards))
                     .values(state=QUEUED))

    def _write_findings(self, conn: Connection, hashes: list[int]) -> None:
        """Write the job's findings of these dead URLs again, with every linking page known now."""
        for chunk in _chunks(hashes):
            dead = conn.execute(select(CrawlURL.url_hash, CrawlURL.url, CrawlURL.reason, CrawlURL.http_status)
                                .where(CrawlURL.job_id == self.job_id, CrawlURL.url_hash.in_(chunk),
                                       CrawlURL.is_broken.is_(True))).all()
            if not dead:
                continue
            found_on = self._found_on(conn, [d.url_hash for d in dead])
            conn.execute(delete(CrawlFinding).where(CrawlFinding.crawl_job_id == self.job_id,
                                                    CrawlFinding.url.in_([d.url[:2000] for d in dead])))
            conn.execute(insert(CrawlFinding), [
                {"crawl_job_id": self.job_id, "url": d.url[:2000], "reason": d.reason, "http_status": d.http_status,
                 "found_on": [{"page": p, "anchor": a} for p, a in found_on.get(d.url_hash, [])],
                 "page_count": len(found_on.get(d.url_hash, []))} for d in dead])

    def _found_on(self, conn: Connection, hashes: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
        out: dict[int, list[tuple[str, str]]] = {}
        for chunk in _chunks(hashes):
            for h, page, anchor in conn.execute(
                    select(CrawlLink.url_hash, CrawlLink.page, CrawlLink.anchor)
                    .where(CrawlLink.job_id == self.job_id, CrawlLink.url_hash.in_(chunk)).order_by(CrawlLink.id)):
                out.setdefault(h, []).append((page, anchor))
        return out

    # --- the end ----------------------------------------------------------------------------------

    def unfinished(self) -> int:
        """URLs queued or being visited by any process of the crawl (0: the crawl is over)."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(CrawlURL).where(
                CrawlURL.job_id == self.job_id, CrawlURL.state != DONE)).scalar_one()

    def problems(self) -> tuple[dict[str, Outcome], dict[str, list[tuple[str, str]]]]:
        """Every URL that did not work, and the pages linking to each dead one (in the order found)."""
        u = CrawlURL
        with self.engine.connect() as conn:
            rows = conn.execute(select(u.url_hash, u.url, u.reason, u.http_status, u.final_url, u.is_broken)
                                .where(u.job_id == self.job_id, u.state == DONE, u.is_ok.is_(False))).all()
            found_on = self._found_on(conn, [r.url_hash for r in rows if r.is_broken])
        problems = {r.url: Outcome(r.url, False, r.reason, r.http_status, r.final_url or r.url) for r in rows}
        dead = {r.url: _first_per_page(found_on.get(r.url_hash, [])) for r in rows if r.is_broken}
        return problems, dead

    def drop(self) -> None:
        """Forget the crawl's rows (it has ended; its findings are stored)."""
        with self._begin() as conn:
            drop_rows(conn, self.job_id)

    # --- helpers ----------------------------------------------------------------------------------

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        from outreach.db import WRITE_LOCK

        if not self.is_local:
            with self.engine.connect().execution_options(**{WRITE_LOCK: True}) as conn, conn.begin():
                yield conn
            return
        if self._conn is None:  # a SQLite file: one connection for the crawl, spared the pool at every batch
            self._conn = self.engine.connect().execution_options(**{WRITE_LOCK: True})
        with self._conn.begin():
            yield self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @staticmethod
    def _remember(cache: set[int], hashes: Iterable[int]) -> None:
        if len(cache) > CACHE_LIMIT:
            cache.clear()  # bounded memory: the table still knows, only the shortcut is lost
        cache.update(hashes)


def drop_rows(conn: Connection | Session, job_id: int) -> None:
    """Delete a crawl's rows (in the caller's transaction)."""
    for table in (CrawlLink, CrawlURL, CrawlState, CrawlShard):
        conn.execute(delete(table).where(table.job_id == job_id))


def _first_per_page(sources: list[tuple[str, str]]) -> list[tuple[str, str]]:
    unique: dict[str, str] = {}
    for page, anchor in sources:
        unique.setdefault(page, anchor)
    return list(unique.items())


def state_file_engine(path: str | os.PathLike[str]) -> Engine:
    """The engine of a CLI state file, its tables created when new."""
    from outreach.db import Base, make_engine

    engine = make_engine(f"sqlite:///{Path(path).resolve()}")
    event.listen(engine, "connect", _no_sync)
    Base.metadata.create_all(engine, tables=TABLES)
    return engine


def _no_sync(dbapi_connection: Any, _record: Any) -> None:
    # a killed process keeps what it wrote (the OS has it); only a power cut may lose the last writes
    dbapi_connection.execute("PRAGMA synchronous=OFF")


@contextmanager
def temporary_state() -> Iterator[Path]:
    """A state file for a crawl that need not survive (the CLI without --state), removed at the end."""
    with tempfile.TemporaryDirectory(prefix="outreach-crawl-") as folder:
        yield Path(folder) / "state.db"


class StoredFrontier(Frontier[tuple[int, bool]]):
    """The walker's frontier over a CrawlStore: visits take claimed URLs; finds and outcomes are written in batches.

    Items are (row id, is_page). `add_link` and `done` buffer; a writer task writes the buffer in a thread
    as soon as the previous write is over (group commit: a killed crawl loses only the visits of the write
    in progress), and `refill` (when the URLs in hand run low) writes and claims more in one transaction.
    """

    def __init__(self, store: CrawlStore, *, batch: int = 256) -> None:
        super().__init__()
        self.store = store
        self.batch = batch
        # alone, this process is woken by its own writes; with other shards it looks again now and then
        self.poll_seconds = POLL_SECONDS if store.shards > 1 or store.holder is not None else None
        self._ready: deque[tuple[str, tuple[int, bool]]] = deque()
        self._links: list[tuple[str, str, str]] = []
        self._outcomes: list[tuple[int, Outcome, bool]] = []
        self._lock = asyncio.Lock()
        self._refill_task: asyncio.Task[bool] | None = None
        self._writer: asyncio.Task[None] | None = None
        #: the last claim took fewer URLs than it asked for: nothing to claim ahead until the next write
        self._drained = False

    def add_link(self, url: str, page: str, anchor: str) -> None:
        self._links.append((url, page, anchor))

    def done(self, row_id: int, outcome: Outcome, crawled: bool) -> None:
        """A visit is over: its outcome (and the links it added) are written with the next write."""
        self._outcomes.append((row_id, outcome, crawled))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_all())

    async def _write_all(self) -> None:
        while self._outcomes or self._links:
            await asyncio.sleep(GATHER_SECONDS)  # a few more visits end meanwhile: one transaction for all
            await self._sync(claim=max(0, self.batch - len(self._ready)))  # and the URLs they queued, at once

    @property
    def buffered(self) -> int:
        return len(self._links) + len(self._outcomes)

    def pop(self) -> tuple[str, tuple[int, bool]]:
        item = self._ready.popleft()
        # claim ahead while the queue has more than the last claim took; a drained queue is claimed by the writes
        if (len(self._ready) < self.batch // 2 and not self._drained
                and (self._refill_task is None or self._refill_task.done())):
            self._refill_task = asyncio.get_running_loop().create_task(self.refill())
        return item

    def clear(self) -> None:
        self._ready.clear()

    def __len__(self) -> int:
        return len(self._ready)

    async def flush(self) -> None:
        await self._sync(claim=0)

    async def close(self) -> None:
        """Write what is left and wait for the background writes (the walk is over)."""
        await self.flush()
        tasks = [t for t in (self._writer, self._refill_task) if t is not None]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def refill(self) -> bool:
        if self._lock.locked():  # a write is under way: it wakes the walk when it is over
            async with self._lock:
                return bool(self._ready)
        return await self._sync(claim=self.batch)

    async def finished(self) -> bool:
        await self.flush()
        return not self._ready and await self._call(self.store.unfinished) == 0

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a store call: on the event loop for a SQLite store, in a thread for PostgreSQL.

        SQLite answers in microseconds but gives up the GIL at each row; from a thread it would wait for the
        loop's switch interval to get it back at every row (tens of milliseconds a batch). PostgreSQL waits
        on the network, which a thread overlaps with the crawl."""
        if self.store.is_local:
            return fn(*args)
        return await asyncio.to_thread(fn, *args)

    async def _sync(self, claim: int) -> bool:
        async with self._lock:
            if claim and len(self._ready) >= self.batch // 2:
                return True  # another worker refilled meanwhile
            links, outcomes = self._links, self._outcomes
            if not (links or outcomes or claim):
                return False
            self._links, self._outcomes = [], []
            claimed = await self._call(self.store.write, links, outcomes, claim)
            self._ready.extend((c.url, (c.id, c.is_page)) for c in claimed)
            if claim:
                self._drained = len(claimed) < claim
        if claimed or links:
            self.wake()  # URLs were claimed, or written where a refill can claim them
        return bool(claimed)
