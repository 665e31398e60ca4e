"""Migrations: one head, the models match, and upgrading a populated database keeps its rows."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from outreach.db import make_engine
from outreach.migrate import heads, revisions, upgrade
from outreach.models import Base
from outreach.models.url_search import include_name


def test_there_is_a_single_head() -> None:
    assert len(heads()) == 1


@pytest.fixture
def empty_database_url(database_url: str) -> str:
    """A database with nothing in it, of the same backend as database_url."""
    if database_url.startswith("sqlite"):
        path = Path(database_url.replace("sqlite:///", "") + ".migrations.db")
        path.unlink(missing_ok=True)  # each test starts from nothing, whatever the one before left
        return f"sqlite:///{path}"
    admin = create_engine(database_url.rsplit("/", 1)[0] + "/test", isolation_level="AUTOCOMMIT")
    name = database_url.rsplit("/", 1)[1] + "_mig"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return database_url.rsplit("/", 1)[0] + "/" + name


def test_migrations_match_the_models(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_upgrading_a_populated_database_keeps_its_rows(empty_database_url: str) -> None:
    first = revisions()[0]
    upgrade(empty_database_url, first)
    engine = make_engine(empty_database_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO clients (name, website, report_emails, notes, created_at) "
                          "VALUES ('Acme', '', '', '', '2026-01-01 00:00:00+00')"))
        conn.execute(text("INSERT INTO sites (domain, created_at) VALUES ('site.example', '2026-01-01 00:00:00+00')"))
        conn.execute(text("INSERT INTO campaigns (client_id, name, kind, status, target_urls, keywords, created_at) "
                          "VALUES (1, 'C', 'custom', 'active', '', '', '2026-01-01 00:00:00+00')"))
        conn.execute(text("INSERT INTO prospects (campaign_id, site_id, page_url, stage, position, override_reason, "
                          "created_at, updated_at, stage_changed_at) VALUES (1, 1, 'https://site.example/', "
                          "'contacted', 1, '', '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00', "
                          "'2026-01-01 00:00:00+00')"))
        conn.execute(text("INSERT INTO sites (domain, created_at) VALUES ('busy.example', '2026-01-01 00:00:00+00')"))
        conn.execute(text("INSERT INTO prospects (campaign_id, site_id, page_url, stage, position, override_reason, "
                          "created_at, updated_at, stage_changed_at) VALUES (1, 2, 'https://busy.example/', "
                          "'new', 2, 'client approved', '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00', "
                          "'2026-01-01 00:00:00+00')"))
    engine.dispose()
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT stage FROM prospects ORDER BY id")).scalars().all() == ["contacted", "new"]
        assert conn.execute(text("SELECT name FROM clients")).scalar_one() == "Acme"
        # an override from before overrides named their conflicts still covers them
        overridden = dict(conn.execute(text("SELECT id, overridden FROM prospects ORDER BY id")).all())
        assert [json.loads(v) if isinstance(v, str) else v for v in overridden.values()] == [[], ["*"]]
        # the dashboard's counts start from the prospects already there
        assert conn.execute(text("SELECT campaign_id, stage, prospects FROM campaign_stage_counts "
                                 "ORDER BY stage")).all() == [(1, "contacted", 1), (1, "new", 1)]
    engine.dispose()


def test_an_upgrade_puts_back_the_page_url_search_a_table_rebuild_dropped(empty_database_url: str) -> None:
    """A batch migration on SQLite rebuilds `prospects` and drops its triggers: the next upgrade restores
    them and reads the index anew, so rows written meanwhile are found."""
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO clients (name, website, report_emails, notes, created_at) "
                          "VALUES ('Acme', '', '', '', '2026-01-01 00:00:00+00')"))
        conn.execute(text("INSERT INTO sites (domain, created_at) VALUES ('site.example', '2026-01-01 00:00:00+00')"))
        conn.execute(text("INSERT INTO campaigns (client_id, name, kind, status, target_urls, keywords, created_at) "
                          "VALUES (1, 'C', 'custom', 'active', '', '', '2026-01-01 00:00:00+00')"))
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER prospect_url_search_ai"))
        else:
            conn.execute(text("DROP INDEX ix_prospects_page_url_trgm"))
        conn.execute(text("INSERT INTO prospects (campaign_id, site_id, page_url, stage, position, override_reason, "
                          "overridden, created_at, updated_at, stage_changed_at) VALUES (1, 1, "
                          "'https://site.example/links', 'new', 1, '', '[]', '2026-01-01 00:00:00+00', "
                          "'2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00')"))
    engine.dispose()
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            assert conn.scalar(text("SELECT rowid FROM prospect_url_search WHERE page_url LIKE '%/links%'")) == 1
            assert conn.scalar(text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                                    "AND name LIKE 'prospect_url_search%'")) == 3
        else:
            assert conn.scalar(text("SELECT count(*) FROM pg_indexes "
                                    "WHERE indexname = 'ix_prospects_page_url_trgm'")) == 1
    engine.dispose()
