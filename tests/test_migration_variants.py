"""Migration 0026 (template tests) on a database holding a running sequence: nothing is lost, nothing is tested."""
from __future__ import annotations

from alembic import command
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from outreach.db import make_engine
from outreach.mail.variants import template_for, variant_stats
from outreach.migrate import alembic_config, upgrade
from outreach.models.mail import Enrollment, Message
from tests.test_migrations import empty_database_url  # noqa: F401 (a fixture)

AT = "'2026-01-01 00:00:00+00'"


def test_a_running_sequence_keeps_its_rows_and_renders_as_before(empty_database_url: str) -> None:  # noqa: F811
    upgrade(empty_database_url, "0022")
    engine = make_engine(empty_database_url)
    with engine.begin() as conn:
        for sql in (
            f"INSERT INTO clients (name, website, report_emails, notes, created_at) VALUES ('Acme', '', '', '', {AT})",
            f"INSERT INTO sites (domain, created_at) VALUES ('site.example', {AT})",
            "INSERT INTO campaigns (client_id, name, kind, status, target_urls, keywords, created_at) "
            f"VALUES (1, 'C', 'custom', 'active', '', '', {AT})",
            "INSERT INTO contacts (site_id, email, name, status, status_reason, is_role, is_guessed, found_on, "
            f"created_at) VALUES (1, 'ann@site.example', 'Ann', 'valid', '', false, false, '', {AT})",
            "INSERT INTO prospects (campaign_id, site_id, contact_id, page_url, stage, position, override_reason, "
            f"overridden, created_at, updated_at, stage_changed_at) VALUES (1, 1, 1, 'https://site.example/', "
            f"'contacted', 1, '', '[]', {AT}, {AT}, {AT})",
            "INSERT INTO mail_templates (name, subject, body_text, body_html, created_at, updated_at) "
            f"VALUES ('First', 'Hello', 'Hi', '', {AT}, {AT}), ('Second', 'Again', 'Hi again', '', {AT}, {AT})",
            f"INSERT INTO mail_sequences (name, created_at) VALUES ('S', {AT})",
            "INSERT INTO mail_sequence_steps (sequence_id, position, delay_amount, template_id, delay_unit, "
            "business_days_only) VALUES (1, 1, 0, 1, 'days', true), (1, 2, 3, 2, 'days', true)",
            "INSERT INTO mail_campaign_settings (campaign_id, sequence_id, is_paused) VALUES (1, 1, false)",
            "INSERT INTO mail_enrollments (campaign_id, prospect_id, contact_id, sequence_id, status, stop_reason, "
            f"stop_detail, created_at) VALUES (1, 1, 1, 1, 'active', '', '', {AT})",
            "INSERT INTO mail_messages (enrollment_id, campaign_id, prospect_id, contact_id, step, message_id, "
            "in_reply_to, \"references\", from_email, from_name, to_email, to_name, subject, body_text, body_html, "
            "status, send_at, sent_at, attempts, soft_bounces, last_error, status_reason, transport, created_at, "
            "sent_copy) VALUES (1, 1, 1, 1, 1, 'm1@outreach.local', '', '', 'outbox@outreach.local', '', "
            f"'ann@site.example', 'Ann', 'Hello', 'Hi', '', 'sent', {AT}, {AT}, 1, 0, '', '', 'local', {AT}, '')",
        ):
            conn.execute(text(sql))
    engine.dispose()
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with Session(engine) as session:
        enrollment = session.scalars(select(Enrollment)).one()
        assert (enrollment.variant, enrollment.status) == ("", "active")
        # the mail_enrollments rebuild kept its child rows
        assert session.scalars(select(Message.subject)).all() == ["Hello"]
        # the next step renders from the step's own template, as before; nothing is reported as a test
        assert [template_for(step, enrollment.variant).name for step in enrollment.sequence.steps] == ["First",
                                                                                                       "Second"]
        assert all(step.variants == [] for step in enrollment.sequence.steps)
        assert variant_stats(session, 1) is None
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO mail_step_variants (step_id, letter, template_id) VALUES (1, 'B', 2)"))
        conn.execute(text("UPDATE mail_enrollments SET variant = 'B'"))
    engine.dispose()
    command.downgrade(alembic_config(empty_database_url), "0022")
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM mail_enrollments")).scalar_one() == "active"
        assert conn.execute(text("SELECT count(*) FROM mail_messages")).scalar_one() == 1
    engine.dispose()
