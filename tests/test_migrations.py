"""Migrations: one head, the models match, and upgrading a populated database keeps its rows."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

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


def test_backlink_checks_take_the_unknown_status_and_keep_their_rows(empty_database_url: str) -> None:
    upgrade(empty_database_url, "0020")
    engine = make_engine(empty_database_url)
    check = ("INSERT INTO backlink_checks (backlink_id, checked_at, page_url, final_url, http_status, error, status, "
             "follow, indexable, found_in, problems, evidence) VALUES (1, '2026-01-01 00:00:00+00', "
             "'https://site.example/a', '', 200, '', '{}', false, false, '', '[]', '{{}}')")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO clients (name, website, report_emails, notes, created_at) "
                          "VALUES ('Acme', '', '', '', '2026-01-01 00:00:00+00')"))
        conn.execute(text(
            "INSERT INTO backlinks (client_id, page_url, site_url, target_url, match_mode, agreed_anchor, agreed_rel, "
            "notes, render_js, status, consecutive_failures, seen_rel, seen_anchor, created_at) "
            "VALUES (1, 'https://site.example/a', '', 'https://client.example/', 'exact', '', 'follow', '', false, "
            "'live', 0, '', '', '2026-01-01 00:00:00+00')"))
        conn.execute(text(check.format("error")))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(check.format("unknown")))
    engine.dispose()
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.begin() as conn:
        conn.execute(text(check.format("unknown")))
        assert conn.execute(text("SELECT status FROM backlink_checks ORDER BY id")).scalars().all() == [
            "error", "unknown"]
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


def test_a_table_rebuilt_by_a_migration_keeps_its_child_rows(empty_database_url: str) -> None:
    """0008 rebuilds `backlinks` on SQLite (copy, drop, rename): its checks and events must survive."""
    upgrade(empty_database_url, "0007")
    engine = make_engine(empty_database_url)
    stamp = "'2026-01-01 00:00:00+00'"
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO clients (name, website, report_emails, notes, created_at) "
                          f"VALUES ('Acme', '', '', '', {stamp})"))
        conn.execute(text(
            "INSERT INTO backlinks (client_id, page_url, site_url, target_url, match_mode, agreed_anchor, agreed_rel, "
            "notes, render_js, status, consecutive_failures, seen_rel, seen_anchor, created_at) VALUES "
            f"(1, 'https://a.example/p', 'https://a.example/', 'https://acme.example/', 'exact', '', 'any', '', "
            f"false, 'live', 0, '', '', {stamp})"))
        conn.execute(text(
            "INSERT INTO backlink_checks (backlink_id, checked_at, page_url, final_url, error, status, follow, "
            f"indexable, found_in, problems, evidence) VALUES (1, {stamp}, 'https://a.example/p', "
            "'https://a.example/p', '', 'live', true, true, 'html', '[]', '{}')"))
        conn.execute(text("INSERT INTO backlink_events (backlink_id, kind, text, created_at, notify_attempts, "
                          f"notify_error) VALUES (1, 'went_live', 'Link is live', {stamp}, 0, '')"))
    engine.dispose()
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM backlink_checks")) == 1
        assert conn.scalar(text("SELECT count(*) FROM backlink_events")) == 1
        if engine.dialect.name == "sqlite":  # and the app's connections get their foreign keys back
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_links_from_before_their_value_was_kept_get_empty_prices_and_reasons(empty_database_url: str) -> None:
    """0018 adds currency, payment status and the loss reason to links that already exist."""
    upgrade(empty_database_url, "0017")
    engine = make_engine(empty_database_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO clients (name, website, report_emails, notes, created_at) "
                          "VALUES ('Acme', '', '', '', '2026-01-01 00:00:00+00')"))
        conn.execute(text("INSERT INTO backlinks (client_id, page_url, site_url, target_url, match_mode, "
                          "agreed_anchor, agreed_rel, price, notes, render_js, status, consecutive_failures, "
                          "seen_rel, seen_anchor, unmet_terms, created_at) "
                          "VALUES (1, 'https://blog.example/a', 'https://blog.example/', "
                          "'https://acme.example/', 'exact', '', 'follow', 150, '', false, 'lost', 3, '', '', '[]', "
                          "'2026-01-01 00:00:00+00')"))
        conn.execute(text("INSERT INTO backlink_events (backlink_id, kind, text, created_at, notify_attempts, "
                          "notify_error) VALUES (1, 'lost', 'Link lost', '2026-01-02 00:00:00+00', 0, '')"))
        conn.execute(text("INSERT INTO client_link_settings (client_id, is_monthly_report) VALUES (1, true)"))
    engine.dispose()
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT price, currency, payment_status, lost_reason FROM backlinks")).one()
        assert tuple(row) == (150.0, "", None, "")
        assert conn.execute(text("SELECT reason FROM backlink_events")).scalar_one() == ""
        assert conn.execute(text("SELECT is_costs_in_report FROM client_link_settings")).scalar_one() in (False, 0)
    engine.dispose()


def test_the_mail12_migration_keeps_sequences_mailboxes_and_replies(empty_database_url: str) -> None:
    from alembic import command

    from outreach.migrate import alembic_config

    upgrade(empty_database_url, "0018")
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
    command.downgrade(alembic_config(empty_database_url), "0018")
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT delay_days FROM mail_sequence_steps WHERE position = 2")).scalar_one() == 2
        assert conn.execute(text("SELECT kind FROM mail_inbound")).scalar_one() == "reply"
    engine.dispose()


def test_the_protect16_migration_keeps_mailboxes_unpaused_without_a_warm_up(empty_database_url: str) -> None:
    from alembic import command

    from outreach.migrate import alembic_config

    upgrade(empty_database_url, "0022")
    engine = make_engine(empty_database_url)
    at = "'2026-01-01 00:00:00+00'"
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO mail_mailboxes (name, from_name, from_email, smtp_host, smtp_port, smtp_security, "
            "smtp_username, smtp_password, imap_host, imap_port, imap_security, imap_username, imap_password, "
            "imap_sent_folder, sent_copy, daily_cap, min_spacing_seconds, jitter_seconds, window_days, "
            "window_start_hour, window_end_hour, timezone, is_active, imap_uidvalidity, imap_last_uid, "
            "last_poll_error, poll_failures, dkim_selector, dkim_private_key, domain_checks_json, created_at) "
            "VALUES ('Box', 'Sam', 'sam@agency.test', 'smtp.test', 587, 'starttls', '', '', '', 993, 'ssl', '', '', "
            f"'Sent', 'auto', 50, 120, 60, '1,2,3,4,5', 9, 17, 'UTC', true, 0, 0, '', 0, '', '', '[]', {at})"))
        conn.execute(text("INSERT INTO users (email, name, password_hash, role, is_active, failed_logins, "
                          f"created_at) VALUES ('a@agency.test', 'A', 'x', 'admin', true, 0, {at})"))
    engine.dispose()
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.begin() as conn:
        box = conn.execute(text("SELECT name, daily_cap, warmup_start, warmup_increment, warmup_started_on, "
                                "bounce_pause_percent, paused_at, pause_reason FROM mail_mailboxes")).one()
        assert tuple(box) == ("Box", 50, 0, 0, None, 5, None, "")
        assert conn.execute(text("SELECT count(*) FROM workspace_settings")).scalar_one() == 0
        conn.execute(text("INSERT INTO notifications (user_id, kind, title, body, link, created_at) "
                          f"VALUES (1, 'mailbox_paused', 'Mailbox Box paused', '', '/mail/mailboxes/1', {at})"))
        conn.execute(text("INSERT INTO workspace_settings (id, catch_all_probe) VALUES (1, true)"))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE mail_mailboxes SET bounce_pause_percent = 101"))
    engine.dispose()
    command.downgrade(alembic_config(empty_database_url), "0022")
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM mail_mailboxes")).scalar_one() == "Box"
        assert conn.execute(text("SELECT count(*) FROM notifications")).scalar_one() == 0
    engine.dispose()


def test_the_review16_migration_holds_nothing_already_queued_and_adds_the_personaliser_role(
        empty_database_url: str) -> None:
    from alembic import command

    from outreach.migrate import alembic_config

    upgrade(empty_database_url, "0022")
    engine = make_engine(empty_database_url)
    at = "'2026-01-01 00:00:00+00'"
    user = ("INSERT INTO users (email, name, password_hash, role, is_active, failed_logins, created_at) "
            f"VALUES ('{{0}}@agency.test', '', 'x', '{{0}}', true, 0, {at})")
    with engine.begin() as conn:
        conn.execute(text(user.format("member")))
        conn.execute(text(f"INSERT INTO clients (name, website, report_emails, notes, created_at) "
                          f"VALUES ('Acme', '', '', '', {at})"))
        conn.execute(text(f"INSERT INTO sites (domain, created_at) VALUES ('site.example', {at})"))
        conn.execute(text("INSERT INTO campaigns (client_id, name, kind, status, target_urls, keywords, created_at) "
                          f"VALUES (1, 'C', 'custom', 'active', '', '', {at})"))
        conn.execute(text("INSERT INTO contacts (site_id, email, name, status, status_reason, is_role, is_guessed, "
                          f"found_on, created_at) VALUES (1, 'ann@site.example', 'Ann', 'valid', '', false, false, "
                          f"'', {at})"))
        conn.execute(text("INSERT INTO prospects (campaign_id, site_id, contact_id, page_url, stage, position, "
                          "override_reason, overridden, created_at, updated_at, stage_changed_at) VALUES (1, 1, 1, "
                          f"'https://site.example/', 'new', 1, '', '[]', {at}, {at}, {at})"))
        conn.execute(text(f"INSERT INTO mail_sequences (name, created_at) VALUES ('S', {at})"))
        conn.execute(text("INSERT INTO mail_campaign_settings (campaign_id, sequence_id, is_paused) "
                          "VALUES (1, 1, false)"))
        conn.execute(text("INSERT INTO mail_enrollments (campaign_id, prospect_id, contact_id, sequence_id, status, "
                          f"stop_reason, stop_detail, created_at, created_by_id) VALUES (1, 1, 1, 1, 'active', '', '', "
                          f"{at}, 1)"))
        conn.execute(text(
            "INSERT INTO mail_messages (enrollment_id, campaign_id, prospect_id, contact_id, step, message_id, "
            'in_reply_to, "references", from_email, from_name, to_email, to_name, subject, body_text, body_html, '
            "status, send_at, attempts, soft_bounces, last_error, status_reason, transport, created_at, sent_copy) "
            "VALUES (1, 1, 1, 1, 1, 'm1@agency.test', '', '', 'me@agency.test', '', 'ann@site.example', 'Ann', "
            f"'Hello', 'Hi Ann', '', 'scheduled', {at}, 0, 0, '', '', 'local', {at}, '')"))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(user.format("personaliser")))
    engine.dispose()
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT is_review_required, is_paused FROM mail_campaign_settings")).one() == (
            False, False)
        assert tuple(conn.execute(text("SELECT subject, status, approved_at, approved_by_id, edited_at "
                                       "FROM mail_messages")).one()) == ("Hello", "scheduled", None, None, None)
        conn.execute(text(user.format("personaliser")))
        conn.execute(text("UPDATE mail_messages SET approved_by_id = (SELECT id FROM users "
                          "WHERE role = 'personaliser')"))
        # the users table is rebuilt on SQLite (its role check changes): what points at a user still does
        assert conn.scalar(text("SELECT created_by_id FROM mail_enrollments")) == 1
        assert conn.execute(text("SELECT role FROM users ORDER BY id")).scalars().all() == ["member", "personaliser"]
        assert conn.scalar(text("SELECT count(*) FROM prospects")) == 1
    engine.dispose()
    command.downgrade(alembic_config(empty_database_url), "0022")
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        # a personaliser cannot stay one: the account is kept, deactivated
        assert conn.execute(text("SELECT role, is_active FROM users ORDER BY id")).all() == [
            ("member", True), ("member", False)]
        assert conn.scalar(text("SELECT subject FROM mail_messages")) == "Hello"
    engine.dispose()


def test_the_crawl15_migration_keeps_crawl_jobs_and_their_findings_and_a_crawl_resumes_on_it(
        empty_database_url: str) -> None:
    from alembic import command

    from outreach.crawler.checker import Outcome
    from outreach.crawler.state import CrawlStore
    from outreach.migrate import alembic_config

    upgrade(empty_database_url, "0022")
    engine = make_engine(empty_database_url)
    at = "'2026-01-01 00:00:00+00'"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO crawl_jobs (kind, seeds, max_pages, pages_crawled, links_checked, broken_found, "
                          "queued_urls, status, is_cancel_requested, worker, error, created_at, started_at, "
                          f"heartbeat_at) VALUES ('broken_links', '[\"http://a.test/\"]', 10, 3, 9, 1, 4, 'running', "
                          f"false, 'old-host:1', '', {at}, {at}, {at})"))
        conn.execute(text("INSERT INTO crawl_findings (crawl_job_id, url, reason, http_status, found_on, page_count) "
                          "VALUES (1, 'http://a.test/gone', 'not_found', 404, '[]', 0)"))
    engine.dispose()
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        assert tuple(conn.execute(text("SELECT status, pages_crawled, worker FROM crawl_jobs")).one()) == (
            "running", 3, "old-host:1")
        assert conn.execute(text("SELECT url FROM crawl_findings")).scalar_one() == "http://a.test/gone"
    # the running job's process is gone: whoever takes it over starts its frontier in the new tables
    store = CrawlStore(engine, 1, keep_findings=True)
    assert store.open(["http://a.test/"], 10) is False
    claimed = store.write([], [], claim=5)
    assert [(c.url, c.is_page) for c in claimed] == [("http://a.test/", True)]
    store.write([("http://a.test/x", "http://a.test/", "X")], [
        (claimed[0].id, Outcome("http://a.test/", True, None, 200, "http://a.test/"), True)], claim=0)
    assert store.counts().pages_crawled == 1 and store.unfinished() == 1
    engine.dispose()
    command.downgrade(alembic_config(empty_database_url), "0022")
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM crawl_jobs")).scalar_one() == 1
    engine.dispose()
