"""/api/v1/webhooks: admins register URLs, the secret is answered once and stored encrypted, the guard refuses
private addresses, and each delivery's attempts are readable."""
from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.models.webhooks import Webhook, WebhookAttempt, WebhookDelivery
from tests.api.conftest import error_of
from tests.conftest import change_settings

URL = "https://hooks.partner.test/outreach"


@pytest.fixture
def admin(api_as: Any, team: dict[str, Any]) -> Any:
    return api_as(team["admin"])


def webhooks(db: Session) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(Webhook)) or 0


def test_an_admin_registers_a_webhook_and_sees_its_secret_only_once(app: Flask, db: Session, admin: Any) -> None:
    created = admin.post("/webhooks", {"target_url": URL, "events": ["bounce", "reply_received", "bounce"],
                                       "description": "CRM sync"})
    assert created.status_code == 201
    body = created.get_json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert body["events"] == ["reply_received", "bounce"] and body["target_url"] == URL
    stored = db.get(Webhook, body["id"])
    assert stored is not None and body["secret"] not in stored.secret
    assert app.extensions["outreach"].secret_box.decrypt(stored.secret) == body["secret"]
    for answer in (admin.get("/webhooks"), admin.get(f"/webhooks/{body['id']}")):
        assert body["secret"] not in answer.get_data(as_text=True) and "secret" not in answer.get_json()

    changed = admin.patch(f"/webhooks/{body['id']}", {"events": ["link_lost"], "is_active": False})
    assert (changed.get_json()["events"], changed.get_json()["is_active"]) == (["link_lost"], False)
    rotated = admin.post(f"/webhooks/{body['id']}/rotate-secret").get_json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != body["secret"]
    db.commit()  # end the session's snapshot and forget what it loaded: read what the request committed
    db.expire_all()
    assert app.extensions["outreach"].secret_box.decrypt(db.get(Webhook, body["id"]).secret) == rotated["secret"]
    assert admin.delete(f"/webhooks/{body['id']}").status_code == 204
    assert admin.get(f"/webhooks/{body['id']}").status_code == 404


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"target_url": "ftp://hooks.partner.test/", "events": ["bounce"]}, "target_url", "is not an http(s) URL"),
    ({"target_url": "hooks.partner.test/x", "events": ["bounce"]}, "target_url", "write the scheme"),
    ({"target_url": "https://user:pw@hooks.partner.test/", "events": ["bounce"]}, "target_url", "user name"),
    ({"target_url": URL, "events": ["opened"]}, "events", "unknown event 'opened'"),
    ({"target_url": URL, "events": []}, "events", "choose at least one event"),
    ({"target_url": URL}, "events", "events is required"),
    ({"target_url": URL, "events": "bounce"}, "events", "events must be a list of strings"),
])
def test_a_bad_webhook_is_refused_in_one_line(db: Session, admin: Any, body: dict[str, Any], field: str,
                                              message: str) -> None:
    response = admin.post("/webhooks", body)
    assert response.status_code == 422
    error = error_of(response)
    assert message in error["message"] and "\n" not in error["message"] and error["field"] in (field, "url")
    assert webhooks(db) == 0


def test_a_private_address_is_refused_unless_the_crawler_may_reach_it(app: Flask, db: Session, admin: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    change_settings(app, monkeypatch, crawl={"allow_private_addresses": False})
    for url in ("http://127.0.0.1:8080/hook", "http://[::1]/hook", "http://169.254.169.254/latest",
                "http://10.0.0.7/hook"):
        response = admin.post("/webhooks", {"target_url": url, "events": ["bounce"]})
        assert response.status_code == 422 and "private, loopback or link-local" in error_of(response)["message"]
    assert webhooks(db) == 0


def test_only_admins_manage_webhooks(db: Session, api_as: Any, team: dict[str, Any]) -> None:
    for who in ("owner", "teammate", "viewer", "outsider"):
        api = api_as(team[who])
        for method, path, body in [("GET", "/webhooks", None),
                                   ("POST", "/webhooks", {"target_url": URL, "events": ["bounce"]})]:
            response = api.call(method, path, body)
            assert response.status_code == 403 and "managed by admins" in error_of(response)["message"], who
    assert webhooks(db) == 0


def test_it_lists_deliveries_with_each_attempts_answer_and_sends_a_failed_one_again(db: Session,
                                                                                    admin: Any) -> None:
    webhook_id = admin.post("/webhooks", {"target_url": URL, "events": ["bounce"]}).get_json()["id"]
    failed = WebhookDelivery(webhook_id=webhook_id, event="bounce", body='{"event":"bounce","data":{}}',
                             status="failed", attempts=7, last_status_code=503, last_error="HTTP 503")
    delivered = WebhookDelivery(webhook_id=webhook_id, event="bounce", body='{"event":"bounce","data":{}}',
                                status="delivered", attempts=1, last_status_code=200)
    db.add_all([failed, delivered])
    db.flush()
    db.add_all([WebhookAttempt(delivery_id=failed.id, status_code=503, response_excerpt="busy", error="HTTP 503",
                               duration_ms=12),
                WebhookAttempt(delivery_id=delivered.id, status_code=200, response_excerpt="ok", duration_ms=8)])
    db.commit()
    listed = admin.get(f"/webhooks/{webhook_id}/deliveries").get_json()
    assert [d["id"] for d in listed["data"]] == [delivered.id, failed.id]
    assert listed["data"][1]["log"] == [{"attempted_at": listed["data"][1]["log"][0]["attempted_at"],
                                         "status_code": 503, "response_excerpt": "busy", "error": "HTTP 503",
                                         "duration_ms": 12}]
    assert listed["data"][0]["payload"] == {"event": "bounce", "data": {}}
    only_failed = admin.get(f"/webhooks/{webhook_id}/deliveries", status="failed").get_json()["data"]
    assert [d["id"] for d in only_failed] == [failed.id]
    again = admin.post(f"/webhooks/{webhook_id}/deliveries/{failed.id}/redeliver")
    assert again.status_code == 200 and (again.get_json()["status"], again.get_json()["attempts"]) == ("pending", 0)
    assert admin.post(f"/webhooks/{webhook_id}/deliveries/{delivered.id}/redeliver").status_code == 409
    assert admin.post(f"/webhooks/{webhook_id}/deliveries/999999/redeliver").status_code == 404
