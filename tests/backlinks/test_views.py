"""The ledger pages: who sees what, adding by hand, CSV import, check now, the campaign's Links tab."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.backlinks import service
from outreach.models import Backlink, BacklinkCheck, User
from tests.backlinks.conftest import TARGET
from tests.lib.testweb import TestWeb


def fresh(db: Session) -> None:
    """End the session's transaction (a SQLite reader keeps its snapshot) and forget loaded rows."""
    db.rollback()
    db.expire_all()


def add(db: Session, team: dict[str, Any], page: str = "https://blog.example/post", **kwargs: Any) -> Backlink:
    client = kwargs.pop("client", team["client"])
    campaign = kwargs.pop("campaign", team["campaign"] if client is team["client"] else team["other_campaign"])
    backlink = service.create_backlink(db, client_id=client.id, campaign_id=campaign.id, target_url=TARGET,
                                       page_url=page, **kwargs)
    db.commit()
    return backlink


def test_the_ledger_shows_an_empty_state_that_says_what_to_do(login: Callable[[User], FlaskClient],
                                                               team: dict[str, Any]) -> None:
    html = login(team["owner"]).get("/backlinks").get_data(as_text=True)
    assert "No links in the ledger yet" in html and "Add a link" in html


def test_a_client_viewer_sees_only_its_client_and_read_only(db: Session, login: Callable[[User], FlaskClient],
                                                             team: dict[str, Any]) -> None:
    ours = add(db, team, "https://ours.example/post")
    theirs = add(db, team, "https://theirs.example/post", client=team["other_client"])
    client = login(team["viewer"])
    html = client.get("/backlinks").get_data(as_text=True)
    assert "ours.example" in html and "theirs.example" not in html
    assert "Check now" not in html and "Add a link" not in html
    assert client.get(f"/backlinks/{ours.id}").status_code == 200
    assert client.get(f"/backlinks/{theirs.id}").status_code == 404
    assert client.get(f"/campaigns/{team['other_campaign'].id}/links").status_code == 404
    for url in (f"/backlinks/{ours.id}/check", f"/backlinks/{ours.id}/pause", f"/backlinks/{ours.id}/edit"):
        assert client.post(url).status_code == 403
    assert client.get("/backlinks/new").status_code == 403
    assert client.get("/backlinks/import").status_code == 403


def test_pages_need_a_login(client: FlaskClient, team: dict[str, Any]) -> None:
    for url in ("/backlinks", "/backlinks/new", f"/campaigns/{team['campaign'].id}/links"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_member_adds_a_link_by_hand(db: Session, login: Callable[[User], FlaskClient],
                                      team: dict[str, Any]) -> None:
    client = login(team["owner"])
    form = client.get(f"/backlinks/new?campaign_id={team['campaign'].id}").get_data(as_text=True)
    assert "Acme resource pages" in form
    response = client.post("/backlinks/new", data={
        "client_id": team["client"].id, "campaign_id": team["campaign"].id, "page_url": "blog.example/post",
        "site_url": "", "target_url": TARGET, "match_mode": "exact", "agreed_anchor": "Acme widgets",
        "agreed_rel": "follow", "price": "150", "deadline": "2026-12-31", "notes": "paid", "render_js": "y"})
    assert response.status_code == 302
    backlink = db.scalar(select(Backlink))
    assert backlink.page_url == "https://blog.example/post" and backlink.price == 150.0 and backlink.render_js
    assert backlink.deadline_at.date().isoformat() == "2026-12-31" and backlink.created_by_id == team["owner"].id
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Not checked yet" in page and "Acme widgets" in page


def test_a_bad_url_is_refused_next_to_its_field_and_changes_nothing(db: Session, login: Callable[[User], FlaskClient],
                                                                    team: dict[str, Any]) -> None:
    response = login(team["owner"]).post("/backlinks/new", data={
        "client_id": team["client"].id, "campaign_id": 0, "page_url": "ftp://blog.example/post",
        "target_url": TARGET, "match_mode": "exact", "agreed_rel": "follow"})
    assert response.status_code == 200
    assert "is not an http(s) URL" in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Backlink)) == 0


def test_a_campaign_of_another_client_is_refused(db: Session, login: Callable[[User], FlaskClient],
                                                 team: dict[str, Any]) -> None:
    response = login(team["owner"]).post("/backlinks/new", data={
        "client_id": team["client"].id, "campaign_id": team["other_campaign"].id, "page_url": "https://b.example/",
        "target_url": TARGET, "match_mode": "exact", "agreed_rel": "follow"})
    assert "the campaign must belong to the client" in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Backlink)) == 0


CSV_OK = f"""page_url,target_url,agreed_anchor,agreed_rel,price,deadline
https://one.example/post,{TARGET},Acme,follow,100,2026-12-31
,{TARGET},Acme,sponsored,,
"""


def test_csv_import_reports_every_bad_row_and_imports_nothing(db: Session, login: Callable[[User], FlaskClient],
                                                              team: dict[str, Any]) -> None:
    bad = CSV_OK + f"https://two.example/post,not a url,,,,\nhttps://three.example/,{TARGET},,paid,,\n"
    response = login(team["owner"]).post("/backlinks/import", data={
        "client_id": team["client"].id, "campaign_id": team["campaign"].id, "text": bad})
    html = response.get_data(as_text=True)
    assert "Nothing was imported" in html
    assert "give the page URL, or the site URL" in html  # line 3
    assert "target url" in html and "agreed rel must be one of" in html
    assert db.scalar(select(func.count()).select_from(Backlink)) == 0


def test_csv_import_creates_the_links(db: Session, login: Callable[[User], FlaskClient], team: dict[str, Any]) -> None:
    text = CSV_OK.replace(f",{TARGET},Acme,sponsored", f",{TARGET},Acme,sponsored").splitlines()
    text[2] = f"https://two.example/post,{TARGET},Acme,sponsored,,"
    response = login(team["owner"]).post("/backlinks/import", data={
        "client_id": team["client"].id, "campaign_id": team["campaign"].id, "text": "\n".join(text)})
    assert response.status_code == 302
    links = db.scalars(select(Backlink).order_by(Backlink.id)).all()
    assert [(b.page_url, b.agreed_rel, b.price) for b in links] == [
        ("https://one.example/post", "follow", 100.0), ("https://two.example/post", "sponsored", None)]
    assert all(b.campaign_id == team["campaign"].id and b.status == "pending" for b in links)


def test_check_now_records_the_evidence_and_shows_it(db: Session, web: TestWeb, login: Callable[[User], FlaskClient],
                                                     team: dict[str, Any]) -> None:
    web.page("/post", f'<html><body><a href="{TARGET}" rel="ugc">Acme</a></body></html>')
    backlink = add(db, team, web.url("/post"), agreed_rel="ugc")  # agreed so: live, with its weakness shown
    client = login(team["owner"])
    response = client.post(f"/backlinks/{backlink.id}/check")
    assert response.status_code == 302
    fresh(db)
    check = db.scalar(select(BacklinkCheck))
    assert check.status == "live" and check.problems == ["ugc"]
    assert db.get(Backlink, backlink.id).status == "live"
    html = client.get(f"/backlinks/{backlink.id}").get_data(as_text=True)
    assert "Live: HTTP 200. Problems: ugc." in html
    assert "Link is live on" in html and "ugc" in html
    tab = client.get(f"/campaigns/{team['campaign'].id}/links").get_data(as_text=True)
    assert web.url("/post") in tab and "1 live" in tab


def test_pause_and_resume(db: Session, login: Callable[[User], FlaskClient], team: dict[str, Any]) -> None:
    backlink = add(db, team)
    client = login(team["owner"])
    client.post(f"/backlinks/{backlink.id}/pause", data={"paused": "1"})
    fresh(db)
    assert db.get(Backlink, backlink.id).status == "paused" and db.get(Backlink, backlink.id).next_check_at is None
    client.post(f"/backlinks/{backlink.id}/pause", data={"paused": "0"})
    fresh(db)
    assert db.get(Backlink, backlink.id).status == "pending"


def test_edit_changes_the_agreement(db: Session, login: Callable[[User], FlaskClient], team: dict[str, Any]) -> None:
    backlink = add(db, team)
    client = login(team["teammate"])
    response = client.post(f"/backlinks/{backlink.id}/edit", data={
        "page_url": "https://blog.example/renamed", "site_url": "", "target_url": TARGET, "match_mode": "site",
        "agreed_anchor": "New", "agreed_rel": "any", "price": "", "notes": ""})
    assert response.status_code == 302
    fresh(db)
    backlink = db.get(Backlink, backlink.id)
    assert backlink.page_url == "https://blog.example/renamed" and backlink.match_mode == "site"
    bad = client.post(f"/backlinks/{backlink.id}/edit", data={
        "page_url": "https://blog.example/renamed", "target_url": "", "match_mode": "site", "agreed_rel": "any"})
    assert bad.status_code == 400 and "target url is required" in bad.get_data(as_text=True)
