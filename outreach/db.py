"""Engine, sessions and SQLite pragmas.

On SQLite a transaction that reads and then writes is refused at once ("database is locked", whatever the
busy timeout) when another connection committed a write since its first read: it cannot upgrade its stale
snapshot. So every write transaction takes the write lock first (BEGIN IMMEDIATE), waits its turn behind
the busy timeout, and stays short; reads begin deferred and never wait. Sessions made with `write=True`
(job contexts, web requests that change something) begin every transaction that way; any other session
calls `write_transaction` before it writes. No network I/O may happen inside a write transaction.
PostgreSQL locks rows instead and needs none of this.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from outreach.config import DatabaseSettings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always gives back timezone-aware UTC datetimes, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use outreach.lib.clock.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


def normalise_url(url: str) -> str:
    """Accept postgres:// and postgresql:// and use the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def engine_from(settings: DatabaseSettings) -> Engine:
    """The engine of the [database] settings: every process opens its database this way."""
    return make_engine(settings.url, echo=settings.echo, pool_size=settings.pool_size,
                       max_overflow=settings.max_overflow)


def make_engine(url: str, echo: bool = False, *, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    """An engine for the URL; SQLite gets WAL, foreign keys and a busy timeout, PostgreSQL a pool of
    pool_size connections (and max_overflow more in a burst)."""
    url = normalise_url(url)
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database in (None, "", ":memory:"):
            kwargs["poolclass"] = StaticPool
            kwargs["connect_args"] = {"check_same_thread": False}
        else:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.update(pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (pysqlite's own transaction handling is unreliable).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


#: the execution option that makes a SQLite transaction begin with the write lock
WRITE_LOCK = "outreach_write_lock"


def _sqlite_begin(conn: Any) -> None:
    # the SQLAlchemy recipe for pysqlite ("Serializable isolation / Savepoints / Transactional DDL"), with
    # IMMEDIATE for write transactions; deferred otherwise, so that readers never wait for anyone
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_LOCK) else "BEGIN")


def make_sessionmaker(engine: Engine, *, write: bool = False) -> sessionmaker[Session]:
    """Sessions on the engine; with `write`, every transaction they begin holds the write lock (see above)."""
    bind = engine.execution_options(**{WRITE_LOCK: True}) if write else engine
    return sessionmaker(bind=bind, expire_on_commit=False, future=True)


def write_transaction(session: Session) -> None:
    """Commit what the session has open, then begin a transaction that holds the write lock.

    Call it before the writes of a session that may have read first (on SQLite a read transaction that
    writes after another writer committed fails at once). Keep what follows short and free of network I/O.
    """
    if session.in_transaction():
        session.commit()
    session.connection(execution_options={WRITE_LOCK: True})


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on error (CLI and jobs)."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
