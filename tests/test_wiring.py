"""Stage changes reach their subscribers through outreach.wiring, in every process."""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach import wiring
from outreach.campaigns.events import stage_changed
from outreach.campaigns.service import move_prospect
from outreach.mail.sequences import configure_campaign, enroll_prospects, save_sequence, save_template
from outreach.mail.unsubscribe import signing_secret
from outreach.models import Backlink, Campaign, Prospect
from outreach.models.mail import Enrollment, Message

ROOT = Path(__file__).resolve().parents[1]


def _disconnect_all() -> None:
    for receiver in list(stage_changed.receivers.values()):
        stage_changed.disconnect(receiver)


@pytest.fixture
def wired() -> Iterator[None]:
    """Exactly the subscribers outreach.wiring declares (whatever connected them before)."""
    _disconnect_all()
    wiring.connect_subscribers()
    yield
    wiring.connect_subscribers()


def _enrolled(db: Session, app: Flask, campaign: Campaign, prospect: Prospect) -> None:
    first = save_template(db, "First", "Hello {{ contact.first_name }}", "Hi {{ contact.first_name }}.")
    second = save_template(db, "Second", "again", "Following up.")
    configure_campaign(db, campaign, None, save_sequence(db, "Two steps", [(first.id, 0), (second.id, 3)]).id)
    settings = app.extensions["outreach"].settings
    assert enroll_prospects(db, campaign, [prospect.id], settings, signing_secret(settings)).enrolled
    db.commit()


def test_moving_a_card_on_through_the_service_ends_its_sequence(
        wired: None, app: Flask, db: Session, make_campaign: Callable[..., Campaign],
        make_prospect: Callable[..., Prospect]) -> None:
    campaign = make_campaign()
    prospect = make_prospect(campaign, "https://pub.test/links", email="ann@pub.test", contact_name="Ann Lee")
    _enrolled(db, app, campaign, prospect)
    assert move_prospect(db, prospect, "negotiating")
    db.commit()
    enrollment = db.scalar(select(Enrollment).where(Enrollment.prospect_id == prospect.id))
    assert enrollment is not None and (enrollment.status, enrollment.stop_reason) == ("stopped", "stage")
    assert {m.status for m in db.scalars(select(Message).where(Message.prospect_id == prospect.id))} == {"cancelled"}


def test_a_card_moved_to_promised_through_the_service_gets_its_backlink(
        wired: None, db: Session, make_campaign: Callable[..., Campaign],
        make_prospect: Callable[..., Prospect]) -> None:
    campaign = make_campaign(target_urls="https://acme.test/widgets")
    prospect = make_prospect(campaign, "https://pub.test/resources")
    assert move_prospect(db, prospect, "promised")
    db.commit()
    backlink = db.scalar(select(Backlink).where(Backlink.prospect_id == prospect.id))
    assert backlink is not None
    assert (backlink.target_url, backlink.page_url, backlink.status) == (
        "https://acme.test/widgets", "https://pub.test/resources", "pending")


def test_a_process_that_skipped_its_wiring_cannot_change_a_stage(
        wired: None, db: Session, make_prospect: Callable[..., Prospect]) -> None:
    prospect = make_prospect()
    _disconnect_all()
    with pytest.raises(RuntimeError, match="connect_subscribers"):
        move_prospect(db, prospect, "promised")
    assert prospect.stage == "new"


_PROBE = """
import json, sys, threading
from sqlalchemy import func, select
from outreach.campaigns import service
from outreach.campaigns.events import stage_changed
from outreach.db import make_engine, make_sessionmaker
from outreach.notifications.events import alert_raised
from outreach.models import Backlink, Base
entry, url, instance = sys.argv[1:]
settings_overrides = {"app": {"secret_key": "k", "instance_path": instance}, "database": {"url": url}}
engine = make_engine(url)
Base.metadata.create_all(engine)
if entry == "web":
    from outreach import create_app
    create_app(settings_overrides)
elif entry == "jobs":  # `outreach run`, `outreach scheduler` and `outreach worker` build this context
    from outreach.config import load_settings
    from outreach.runtime.cli import _job_context
    _job_context(load_settings(None, settings_overrides), threading.Event())
elif entry == "cli":  # a command that opens the database
    import os
    from outreach.cli import main
    os.environ.update(OUTREACH_DATABASE_URL=url, OUTREACH_APP_INSTANCE_PATH=instance)
    main(["user", "create", "--email", "probe@agency.test", "--password", "a long enough password"],
         standalone_mode=False)
elif entry == "crashable":
    from outreach.config import as_dict, load_settings
    from outreach.mail import crashable
    settings = load_settings(None, settings_overrides)
    crashable.main(["crashable", json.dumps(as_dict(settings))])
print(json.dumps(sorted(f"{r.__module__}.{r.__name__}" for signal in (stage_changed, alert_raised)
                        for r in signal.receivers.values())))
with make_sessionmaker(engine)() as session:  # the service alone, no request: the hand-off still happens
    client = service.create_client(session, "Acme")
    campaign = service.create_campaign(session, client.id, "Links", target_urls="https://acme.test/")
    service.move_prospect(session, service.add_prospect(session, campaign, "https://pub.test/r"), "promised")
    print(session.scalar(select(func.count(Backlink.id))))
"""


@pytest.mark.parametrize("entry", ["web", "jobs", "cli", "crashable"])
def test_every_process_connects_the_declared_subscribers(entry: str, tmp_path: Path) -> None:
    """A fresh process started each way hands stage changes and alerts to exactly the declared subscribers."""
    url = f"sqlite:///{tmp_path / 'probe.db'}"
    run = subprocess.run([sys.executable, "-c", _PROBE, entry, url, str(tmp_path)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    declared = sorted(f"{r.__module__}.{r.__name__}" for _signal, r in wiring.SUBSCRIBERS)
    assert declared == ["outreach.backlinks.service.on_stage_changed", "outreach.mail.stops.on_stage_changed",
                        "outreach.webhooks.service.on_alert"]
    receivers, backlinks = run.stdout.splitlines()[-2:]
    assert json.loads(receivers) == declared
    assert backlinks == "1"

