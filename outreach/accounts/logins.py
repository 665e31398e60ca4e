"""Login sessions: one row per browser that logged in, so logging out ends the session on the server.

The browser's signed cookies carry the token; the database keeps only its hash. A session unused for
IDLE_DAYS ends by itself ("keep me logged in" lasts that long without a visit).
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from outreach.accounts.service import AccountError, audit
from outreach.lib.clock import utcnow
from outreach.models import LoginSession, User

IDLE_DAYS = 30
#: last_seen_at is written at most this often per session (not on every request)
TOUCH_SECONDS = 300


def open_login(session: Session, user: User, *, user_agent: str = "", ip: str = "",
               remembered: bool = False) -> str:
    """A new login session for user; returns its token (the browser's cookies are the only copy)."""
    now = utcnow()
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id,
                                               LoginSession.last_seen_at < now - timedelta(days=IDLE_DAYS)))
    token = secrets.token_urlsafe(32)
    session.add(LoginSession(user_id=user.id, token_hash=_hash(token), user_agent=user_agent[:200], ip=ip[:45],
                             is_remembered=remembered, created_at=now, last_seen_at=now))
    session.flush()
    return token


def find_login(session: Session, user_id: int, token: str) -> tuple[User, LoginSession] | None:
    """The user and the live login session this token names for them, in one query; None when the
    session was logged out, ended or idle too long."""
    if not token:
        return None
    row = session.execute(select(User, LoginSession).join(LoginSession, LoginSession.user_id == User.id)
                          .where(User.id == user_id, LoginSession.token_hash == _hash(token),
                                 LoginSession.last_seen_at >= utcnow() - timedelta(days=IDLE_DAYS))).first()
    return (row[0], row[1]) if row is not None else None


def touch(engine: Engine, login: LoginSession, session: Session | None = None) -> None:
    """Record that the session was used now, when it was last recorded more than TOUCH_SECONDS ago.

    In its own short transaction: the request that uses the session may never commit (a GET). A request that
    holds the write lock from its first statement (a POST on SQLite) passes its `session`: the write goes in
    that transaction, as another connection would wait for this one's lock until it timed out.
    """
    now = utcnow()
    if (now - login.last_seen_at).total_seconds() <= TOUCH_SECONDS:
        return
    if session is not None:
        session.execute(update(LoginSession).where(LoginSession.id == login.id).values(last_seen_at=now))
    else:
        with engine.begin() as connection:
            connection.execute(update(LoginSession).where(LoginSession.id == login.id).values(last_seen_at=now))


def close_login(session: Session, user: User, token: str) -> None:
    """Log out the session this token names."""
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id,
                                               LoginSession.token_hash == _hash(token)))


def end_login(session: Session, user: User, login_id: int) -> None:
    """Log out one of the user's sessions (another browser) from the account page."""
    login = session.get(LoginSession, login_id)
    if login is None or login.user_id != user.id:
        raise AccountError("no such session: it may have ended already")
    session.delete(login)
    session.flush()
    audit(session, user, "session.end", "user", user.id, {"user_agent": login.user_agent, "ip": login.ip})


def end_other_logins(session: Session, user: User, keep_token: str) -> int:
    """Log out every session of the user but the one this token names; how many ended."""
    ended = session.execute(delete(LoginSession).where(LoginSession.user_id == user.id,
                                                       LoginSession.token_hash != _hash(keep_token))).rowcount
    if ended:
        audit(session, user, "session.end_others", "user", user.id, {"ended": ended})
    return ended


def logins_of(session: Session, user: User) -> list[LoginSession]:
    """The user's live sessions, the most recently used first."""
    since = utcnow() - timedelta(days=IDLE_DAYS)
    return list(session.scalars(select(LoginSession).where(LoginSession.user_id == user.id,
                                                           LoginSession.last_seen_at >= since)
                                .order_by(LoginSession.last_seen_at.desc(), LoginSession.id.desc())))


def is_current(login: LoginSession, token: str) -> bool:
    return bool(token) and secrets.compare_digest(login.token_hash, _hash(token))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
