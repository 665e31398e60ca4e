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
        context = MigrationContext.configure(conn, opts={"compare_type": True})
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
        # a child row: on SQLite a batch migration re-creates its parent table, which must not cascade to it
        conn.execute(text("INSERT INTO activities (prospect_id, kind, text, details, created_at) "
                          "VALUES (1, 'note', 'first call', '{}', '2026-01-01 00:00:00+00')"))
    engine.dispose()
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT stage FROM prospects ORDER BY id")).scalars().all() == ["contacted", "new"]
        assert conn.execute(text("SELECT name FROM clients")).scalar_one() == "Acme"
        assert conn.execute(text("SELECT text FROM activities")).scalar_one() == "first call"
        # an override from before overrides named their conflicts still covers them
        overridden = dict(conn.execute(text("SELECT id, overridden FROM prospects ORDER BY id")).all())
        assert [json.loads(v) if isinstance(v, str) else v for v in overridden.values()] == [[], ["*"]]
    engine.dispose()


def test_the_mail12_migration_keeps_sequences_mailboxes_and_replies(empty_database_url: str) -> None:
    from alembic import command

    from outreach.migrate import alembic_config

    upgrade(empty_database_url, "0014")
    engine = make_engine(empty_database_url)
    at = "'2026-01-01 00:00:00+00'"
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO mail_mailboxes (name, from_name, from_email, smtp_host, smtp_port, smtp_security, "
            "smtp_username, smtp_password, imap_host, imap_port, imap_security, imap_username, imap_password, "
            "imap_sent_folder, daily_cap, min_spacing_seconds, jitter_seconds, window_days, window_start_hour, "
            "window_end_hour, timezone, is_active, imap_uidvalidity, imap_last_uid, last_poll_error, created_at) "
            "VALUES ('Box', 'Sam', 'sam@agency.test', 'smtp.test', 587, 'starttls', '', '', 'imap.test', 993, 'ssl', "
            f"'', '', 'Sent', 50, 120, 60, '1,2,3,4,5', 9, 17, 'UTC', true, 7, 3, '', {at})"))
        conn.execute(text("INSERT INTO mail_templates (name, subject, body_text, body_html, created_at, updated_at) "
                          f"VALUES ('T', 'Hello', 'Hi', '', {at}, {at})"))
        conn.execute(text(f"INSERT INTO mail_sequences (name, created_at) VALUES ('S', {at})"))
        conn.execute(text("INSERT INTO mail_sequence_steps (sequence_id, position, delay_days, template_id) "
                          "VALUES (1, 1, 0, 1), (1, 2, 4, 1)"))
        conn.execute(text(
            "INSERT INTO mail_inbound (mailbox_id, uidvalidity, uid, message_id, from_email, subject, kind, snippet, "
            f"details, received_at) VALUES (1, 7, 3, 'r@site.test', 'ann@site.test', 'Re: Hello', 'reply', "
            f"'Sounds good', '{{}}', {at})"))
    engine.dispose()
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        steps = conn.execute(text("SELECT position, delay_amount, delay_unit, business_days_only "
                                  "FROM mail_sequence_steps ORDER BY position")).all()
        assert [tuple(s) for s in steps] == [(1, 0, "days", True), (2, 4, "days", True)]  # business days, as before
        box = conn.execute(text("SELECT sent_copy, server_files_sent, poll_failures, imap_last_uid "
                                "FROM mail_mailboxes")).one()
        assert tuple(box) == ("auto", None, 0, 3)
        reply = conn.execute(text("SELECT body_text, asks_removal, read_at IS NOT NULL, kind FROM mail_inbound")).one()
        assert tuple(reply) == ("Sounds good", False, True, "reply")  # replies from before the inbox count as read
    with engine.begin() as conn:
        conn.execute(text("UPDATE mail_sequence_steps SET delay_amount = 30, delay_unit = 'hours' WHERE position = 2"))
        conn.execute(text("UPDATE mail_inbound SET kind = 'unsubscribe'"))
    engine.dispose()
    command.downgrade(alembic_config(empty_database_url), "0014")
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT delay_days FROM mail_sequence_steps WHERE position = 2")).scalar_one() == 2
        assert conn.execute(text("SELECT kind FROM mail_inbound")).scalar_one() == "reply"
    engine.dispose()
