"""/api/v1 backlinks: price currency and payment status (the team's only), plain reasons and value signals."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.models import Backlink
from tests.api.conftest import error_of

LINK = {"target_url": "https://acme.example/", "page_url": "https://blog.example/post"}


def test_the_team_records_price_currency_and_payment_and_a_viewer_sees_none_of_it(
        db: Session, api_as: Any, team: dict[str, Any]) -> None:
    staff = api_as(team["owner"])
    created = staff.post("/backlinks", {**LINK, "client_id": team["client"].id, "price": 150, "currency": "eur",
                                        "payment_status": "invoiced"})
    assert created.status_code == 201
    body = created.get_json()
    assert (body["price"], body["currency"], body["payment_status"]) == (150.0, "EUR", "invoiced")
    assert body["lost_reason"] is None and body["reasons"] == [] and body["referral_months"] == []
    assert body["value"] == {"follow": None, "indexable": None, "relevance": None, "authority": {},
                             "referral_sessions": None}
    link_id = body["id"]
    patched = staff.patch(f"/backlinks/{link_id}", {"payment_status": "paid"}).get_json()
    assert (patched["currency"], patched["payment_status"]) == ("EUR", "paid")  # a PATCH keeps what it omits
    cleared = staff.patch(f"/backlinks/{link_id}", {"payment_status": None, "currency": ""}).get_json()
    assert (cleared["currency"], cleared["payment_status"]) == ("", None)
    staff.patch(f"/backlinks/{link_id}", {"currency": "USD"})
    seen = api_as(team["viewer"]).get(f"/backlinks/{link_id}").get_json()
    assert (seen["price"], seen["currency"], seen["payment_status"]) == (None, "", None)


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"currency": "EURO"}, "currency", "currency is longer than 3 characters"),
    ({"currency": "E1"}, "currency", "currency 'E1' is not a three-letter code like USD or EUR"),
    ({"currency": "€$"}, "currency", "three-letter code"),
    ({"payment_status": "sent"}, "payment_status", "payment status must be one of unpaid, invoiced, paid, refunded")])
def test_a_bad_currency_or_payment_status_is_refused_and_changes_nothing(
        db: Session, api_as: Any, team: dict[str, Any], change: dict[str, str], field: str, message: str) -> None:
    response = api_as(team["owner"]).post("/backlinks", {**LINK, "client_id": team["client"].id, **change})
    assert response.status_code == 422
    assert error_of(response)["field"] == field and message in error_of(response)["message"]
    assert db.scalar(select(Backlink.id)) is None


def test_the_import_reads_currency_and_payment_status(db: Session, api_as: Any, team: dict[str, Any]) -> None:
    text = ("page_url,target_url,price,currency,payment_status\n"
            "https://a.example/x,https://acme.example/,\"1,200\",gbp,paid\n"
            "https://b.example/y,https://acme.example/,€80,,\n")
    response = api_as(team["owner"]).post("/backlinks/import", {"client_id": team["client"].id, "csv": text})
    assert response.status_code == 201
    db.rollback()
    found = db.execute(select(Backlink.price, Backlink.currency, Backlink.payment_status).order_by(Backlink.id)).all()
    assert [tuple(r) for r in found] == [(1200.0, "GBP", "paid"), (80.0, "EUR", None)]  # "€80" says the currency
    bad = api_as(team["owner"]).post("/backlinks/import", {"client_id": team["client"].id, "csv": text.replace(
        "gbp,paid", "gbp,owed")})
    assert bad.status_code == 422 and "line 2: payment status must be one of" in error_of(bad)["message"]
