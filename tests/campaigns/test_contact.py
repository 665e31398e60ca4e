"""Choosing a prospect's contact on its page: a found address, a typed one, and the rules that guard them."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.campaigns import service
from outreach.models import Activity, Contact, Prospect, Suppression


def fresh(db: Session) -> None:
    db.rollback()
    db.expire_all()


def found(db: Session, prospect: Prospect, email: str, status: str = "valid", reason: str = "") -> Contact:
    contact = service.contact_for(db, email, site=prospect.site)
    contact.status, contact.status_reason = status, reason
    db.commit()
    return contact


def timeline(db: Session, prospect: Prospect, kind: str) -> list[str]:
    return list(db.scalars(select(Activity.text).where(Activity.prospect_id == prospect.id, Activity.kind == kind)
                           .order_by(Activity.id)))


def test_the_page_lists_the_sites_addresses_and_one_becomes_the_contact(
        login: Any, team: dict[str, Any], db: Session, make_prospect: Any) -> None:
    p = make_prospect(team["campaign"], "https://widgets.example/links")
    found(db, p, "editor@widgets.example")
    found(db, p, "info@widgets.example", "invalid", "no MX record and no address")
    client = login(team["owner"])
    html = client.get(f"/prospects/{p.id}").get_data(as_text=True)
    start = html.index('data-testid="site-contacts"')
    table = html[start:html.index("</table>", start)]
    assert "editor@widgets.example" in table and "info@widgets.example" in table
    assert 'title="no MX record and no address">invalid<' in table and table.count(">Use<") == 2
    response = client.post(f"/prospects/{p.id}/contact", data={"email": "editor@widgets.example"})
    assert response.status_code == 302
    fresh(db)
    assert db.get(Prospect, p.id).contact.email == "editor@widgets.example"
    assert timeline(db, p, "contact") == ["Contact set to editor@widgets.example"]


def test_an_address_that_failed_its_check_needs_an_override_reason(
        login: Any, team: dict[str, Any], db: Session, make_prospect: Any) -> None:
    p = make_prospect(team["campaign"], "https://widgets.example/links", email="old@widgets.example")
    found(db, p, "info@widgets.example", "invalid", "no MX record")
    client = login(team["owner"])
    response = client.post(f"/prospects/{p.id}/contact", data={"email": "info@widgets.example"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "info@widgets.example failed its check (no MX record)" in html and 'name="override_reason"' in html
    fresh(db)
    assert db.get(Prospect, p.id).contact.email == "old@widgets.example"
    response = client.post(f"/prospects/{p.id}/contact", data={"email": "info@widgets.example",
                                                               "override_reason": "the editor said it works"})
    assert response.status_code == 302
    fresh(db)
    assert db.get(Prospect, p.id).contact.email == "info@widgets.example"
    assert timeline(db, p, "contact") == ["Contact set to info@widgets.example (was old@widgets.example)"]
    (override,) = [t for t in timeline(db, p, "override") if "info@" in t]
    assert override.endswith("Reason: the editor said it works")


def test_an_address_contacted_elsewhere_or_on_the_do_not_contact_list_is_refused(
        login: Any, team: dict[str, Any], db: Session, make_prospect: Any) -> None:
    make_prospect(team["other_campaign"], "https://elsewhere.example/", email="busy@widgets.example")
    p = make_prospect(team["campaign"], "https://widgets.example/links")
    db.add(Suppression(kind="email", value="gone@widgets.example", reason="unsubscribed"))
    db.commit()
    client = login(team["owner"])
    busy = client.post(f"/prospects/{p.id}/contact", data={"email": "busy@widgets.example"}).get_data(as_text=True)
    assert "busy@widgets.example is already contacted in “Other campaign”" in busy
    gone = client.post(f"/prospects/{p.id}/contact", data={"email": "gone@widgets.example"}).get_data(as_text=True)
    assert "gone@widgets.example unsubscribed" in gone
    fresh(db)
    assert db.get(Prospect, p.id).contact_id is None
    assert timeline(db, p, "contact") == []


def test_a_malformed_address_is_refused_next_to_the_field(login: Any, team: dict[str, Any], db: Session,
                                                         make_prospect: Any) -> None:
    p = make_prospect(team["campaign"])
    response = login(team["owner"]).post(f"/prospects/{p.id}/contact", data={"email": "not an address"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    field = html[html.index('name="email"'):]
    assert 'role="alert">' in field[:field.index("</div>") + 200]
    fresh(db)
    assert db.scalar(select(Contact).where(Contact.email.like("%not an address%"))) is None


def test_a_site_without_known_addresses_says_how_to_find_them(login: Any, team: dict[str, Any],
                                                              make_prospect: Any) -> None:
    p = make_prospect(team["campaign"], "https://quiet.example/")
    html = login(team["owner"]).get(f"/prospects/{p.id}").get_data(as_text=True)
    assert "No addresses are known for quiet.example yet" in html


def test_viewers_cannot_change_the_contact(login: Any, team: dict[str, Any], db: Session, make_prospect: Any) -> None:
    p = make_prospect(team["campaign"])
    client = login(team["viewer"])
    assert 'id="contact"' not in client.get(f"/prospects/{p.id}").get_data(as_text=True)
    assert client.post(f"/prospects/{p.id}/contact", data={"email": "a@b.example"}).status_code == 403


def test_the_form_names_the_current_contact_and_the_name_goes_on_the_timeline(
        login: Any, team: dict[str, Any], db: Session, make_prospect: Any) -> None:
    p = make_prospect(team["campaign"], "https://widgets.example/links")
    client = login(team["owner"])
    client.post(f"/prospects/{p.id}/contact", data={"email": "jane@widgets.example", "name": "Jane"})
    response = client.post(f"/prospects/{p.id}/contact", data={"email": "jane@widgets.example", "name": "Jane Doe"})
    assert response.status_code == 302
    refused = client.post(f"/prospects/{p.id}/contact", data={"email": "jane@widgets.example",
                                                               "name": "jane@widgets.example"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    field = html[html.index('name="name"'):]
    assert "a name cannot hold an address" in field[:field.index("</div>") + 200]
    fresh(db)
    assert db.get(Prospect, p.id).contact.name == "Jane Doe"
    assert timeline(db, p, "contact") == ["Contact set to Jane <jane@widgets.example>",
                                          "Contact jane@widgets.example named Jane Doe (was Jane)"]
