"""What the app holds for its lifetime, and the database session of the current request."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from outreach.config import Settings
from outreach.lib.secrets import SecretBox


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessionmaker: sessionmaker[Session]
    secret_box: SecretBox
    #: set once the first user exists, to skip the setup check on every request
    has_users: bool = False


def app_state() -> AppState:
    return current_app.extensions["outreach"]


def settings() -> Settings:
    return app_state().settings


def db_session() -> Session:
    """The request's session; views commit it, teardown rolls back whatever was not."""
    if "db_session" not in g:
        g.db_session = app_state().sessionmaker()
    return g.db_session
