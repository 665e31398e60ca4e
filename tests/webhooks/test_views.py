"""The admin's Webhooks page: register a URL (its secret shown once), read the delivery log, rotate, delete."""
from __future__ import annotations

import re
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.models.webhooks import Webhook, WebhookAttempt, WebhookDelivery

URL = "https://hooks.partner.test/outreach"


def fresh(db: Session) -> None:
    """Forget what the test's session loaded and end its snapshot: read what the requests committed."""
    db.commit()
    db.expire_all()


def secret_on(page: str) -> str | None:
    found = re.search(r'data-testid="webhook-secret">([^<]+)<', page)
    return found.group(1) if found else None


def test_an_admin_adds_a_webhook_and_sees_its_secret_once(app: Flask, db: Session, login: Any,
                                                          team: dict[str, Any]) -> None:
    browser = login(team["admin"])
    assert 'href="/settings/webhooks"' in browser.get("/users").get_data(as_text=True)  # a tab of the admin's pages
    page = browser.post("/settings/webhooks", data={"url": URL, "events": ["bounce", "link_lost"],
                                                    "description": "CRM"}).get_data(as_text=True)
    secret = secret_on(page)
    assert secret is not None and secret.startswith("whsec_")
    webhook = db.scalar(select(Webhook))
    assert webhook is not None and webhook.events == ["bounce", "link_lost"] and secret not in webhook.secret
    assert app.extensions["outreach"].secret_box.decrypt(webhook.secret) == secret
    listing = browser.get("/settings/webhooks").get_data(as_text=True)
    assert URL in listing and "Bounce" in listing and secret_on(listing) is None and secret not in listing
    detail = browser.get(f"/settings/webhooks/{webhook.id}").get_data(as_text=True)
    assert secret not in detail and "Nothing delivered yet" in detail


def test_a_bad_url_gets_its_error_next_to_the_field_and_saves_nothing(db: Session, login: Any,
                                                                      team: dict[str, Any]) -> None:
    browser = login(team["admin"])
    page = browser.post("/settings/webhooks", data={"url": "ftp://hooks.partner.test/", "events": ["bounce"]})
    assert "is not an http(s) URL" in page.get_data(as_text=True)
    page = browser.post("/settings/webhooks", data={"url": URL})
    assert "choose at least one event" in page.get_data(as_text=True)
    assert db.scalar(select(Webhook)) is None


def test_the_detail_page_shows_each_attempts_answer_and_edits_rotates_and_deletes(
        app: Flask, db: Session, login: Any, team: dict[str, Any]) -> None:
    browser = login(team["admin"])
    browser.post("/settings/webhooks", data={"url": URL, "events": ["bounce"]})
    webhook = db.scalar(select(Webhook))
    assert webhook is not None
    delivery = WebhookDelivery(webhook_id=webhook.id, event="bounce", body="{}", status="failed", attempts=7)
    db.add(delivery)
    db.flush()
    db.add(WebhookAttempt(delivery_id=delivery.id, status_code=502, response_excerpt="Bad gateway from the proxy",
                          error="HTTP 502", duration_ms=31))
    db.commit()
    path = f"/settings/webhooks/{webhook.id}"
    page = browser.get(path).get_data(as_text=True)
    assert "HTTP 502" in page and "Bad gateway from the proxy" in page and "31 ms" in page and "failed" in page
    assert browser.post(f"{path}/deliveries/{delivery.id}/redeliver").status_code == 302
    fresh(db)
    assert db.get(WebhookDelivery, delivery.id).status == "pending"

    response = browser.post(path, data={"url": URL + "/v2", "events": ["bounce", "unsubscribe"]})
    assert response.status_code == 302
    fresh(db)
    assert (db.get(Webhook, webhook.id).url, db.get(Webhook, webhook.id).is_active) == (URL + "/v2", False)
    rotated = secret_on(browser.post(f"{path}/rotate").get_data(as_text=True))
    assert rotated is not None
    fresh(db)
    assert app.extensions["outreach"].secret_box.decrypt(db.get(Webhook, webhook.id).secret) == rotated
    assert browser.post(f"{path}/delete").status_code == 302
    fresh(db)
    assert db.scalar(select(Webhook)) is None and db.scalar(select(WebhookDelivery)) is None


def test_members_and_client_viewers_cannot_open_the_page(login: Any, client: Any, team: dict[str, Any]) -> None:
    for who in ("owner", "viewer"):
        browser = login(team[who])
        assert browser.get("/settings/webhooks").status_code == 403
        assert browser.post("/settings/webhooks", data={"url": URL, "events": ["bounce"]}).status_code == 403
        assert "/settings/webhooks" not in browser.get("/").get_data(as_text=True)
        browser.post("/logout")
