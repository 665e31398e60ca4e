"""What the app holds for its lifetime, and the database session of the current request."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, has_request_context, request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from outreach.config import Settings
from outreach.lib.secrets import SecretBox


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessionmaker: sessionmaker[Session]
    #: sessions whose every transaction holds the write lock: for requests that change something
    write_sessionmaker: sessionmaker[Session]
    secret_box: SecretBox
    #: set once the first user exists, to skip the setup check on every request
    has_users: bool = False


def app_state() -> AppState:
    return current_app.extensions["outreach"]


def settings() -> Settings:
    return app_state().settings


#: requests that only read: their session begins deferred transactions (a write in one needs write_transaction)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def db_session() -> Session:
    """The request's session; views commit it, teardown rolls back whatever was not.

    A request that may change something (POST, PUT, PATCH, DELETE) gets a session whose transactions take
    the write lock from their first statement (see outreach.db); its view must do no network I/O while it
    holds one (end the transaction first, as contacts.service.find_and_save does).
    """
    if "db_session" not in g:
        state = app_state()
        writes = has_request_context() and request.method not in SAFE_METHODS
        g.db_session = (state.write_sessionmaker if writes else state.sessionmaker)()
    return g.db_session
