"""The board, the prospect page, the lists, bulk actions and export, through the web."""
from __future__ import annotations

import csv
import io
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.campaigns import service
from outreach.models import Activity, AuditLog, Prospect, Suppression, Tag


def fresh(db: Session) -> None:
    """End the test session's read transaction and forget loaded rows, to see what the app committed."""
    db.rollback()
    db.expire_all()


def page_text(response: Any) -> str:
    return response.get_data(as_text=True)


def test_the_board_shows_cards_in_their_columns_with_filters(login: Any, team: dict[str, Any], db: Session,
                                                             make_prospect: Any) -> None:
    campaign = team["campaign"]
    a = make_prospect(campaign, "https://alpha.test/", email="ann@alpha.test", contact_name="Ann")
    b = make_prospect(campaign, "https://beta.test/")
    service.move_prospect(db, b, "contacted")
    service.set_tags(db, a, ["vip"], None)
    service.assign_owner(db, b, team["owner"].id, None)
    db.commit()
    client = login(team["owner"])
    html = page_text(client.get(f"/campaigns/{campaign.id}"))
    assert 'data-testid="count-new">1<' in html and 'data-testid="count-contacted">1<' in html
    assert "alpha.test" in html and "beta.test" in html and "Move alpha.test to" in html
    html = page_text(client.get(f"/campaigns/{campaign.id}?tag=vip"))
    assert "alpha.test" in html and "beta.test" not in html
    html = page_text(client.get(f"/campaigns/{campaign.id}?owner={team['owner'].id}"))
    assert "beta.test" in html and "alpha.test" not in html
    html = page_text(client.get(f"/campaigns/{campaign.id}?q=ANN"))
    assert "alpha.test" in html and "beta.test" not in html


def test_an_empty_board_says_how_to_fill_it(login: Any, team: dict[str, Any]) -> None:
    html = page_text(login(team["owner"]).get(f"/campaigns/{team['campaign'].id}"))
    assert "This board is empty." in html and "Import CSV" in html


def test_moving_a_card_answers_json_for_the_board_script(login: Any, team: dict[str, Any], db: Session,
                                                         make_prospect: Any) -> None:
    p = make_prospect(team["campaign"])
    client = login(team["owner"])
    response = client.post(f"/prospects/{p.id}/stage", data={"stage": "qualified", "position": "2.5"},
                           headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.get_json() == {"id": p.id, "stage": "qualified", "position": 2.5, "changed": True,
                                   "label": "Qualified"}
    fresh(db)
    assert db.get(Prospect, p.id).stage == "qualified"
    activity = db.scalar(select(Activity).where(Activity.kind == "stage"))
    assert activity is not None and activity.user_id == team["owner"].id
    response = client.post(f"/prospects/{p.id}/stage", data={"stage": "flying"},
                           headers={"Accept": "application/json"})
    assert response.status_code == 400 and response.get_json() == {"error": "unknown stage 'flying'"}


def test_the_move_to_form_returns_to_the_board_and_never_off_site(login: Any, team: dict[str, Any],
                                                                  make_prospect: Any) -> None:
    p = make_prospect(team["campaign"])
    client = login(team["owner"])
    response = client.post(f"/prospects/{p.id}/stage", data={"stage": "lost", "next": "/campaigns/1?tag=x"})
    assert response.headers["Location"] == "/campaigns/1?tag=x"
    response = client.post(f"/prospects/{p.id}/stage", data={"stage": "new", "next": "//evil.example/"})
    assert response.headers["Location"] == f"/prospects/{p.id}"


def test_the_timeline_says_who_did_what_and_when(login: Any, team: dict[str, Any], make_prospect: Any) -> None:
    p = make_prospect(team["campaign"])
    client = login(team["owner"])
    client.post(f"/prospects/{p.id}/stage", data={"stage": "contacted"})
    client.post(f"/prospects/{p.id}/notes", data={"text": "Emailed the editor"})
    client.post(f"/prospects/{p.id}/details", data={"tags": "vip, resource", "owner_id": team["teammate"].id})
    html = page_text(client.get(f"/prospects/{p.id}"))
    assert "Emailed the editor" in html and "Tags: resource, vip" in html
    assert "Owner: mate@agency.test" in html
    assert 'Moved from <span class="badge stage-new">New</span>' in html
    assert html.count('<span class="who">owner@agency.test</span>') == 4
    assert " UTC" in html


def make_many(db: Session, campaign: Any, n: int, prefix: str = "site") -> list[Prospect]:
    out = []
    for i in range(n):
        out.append(service.add_prospect(db, campaign, f"https://{prefix}{i:03d}.test/",
                                        email=f"ed{i}@{prefix}{i:03d}.test", metrics={"domain_rating": i % 100}))
    db.commit()
    return out


def test_the_prospect_list_filters_sorts_and_paginates(login: Any, team: dict[str, Any], db: Session) -> None:
    campaign = team["campaign"]
    make_many(db, campaign, 60)
    client = login(team["owner"])
    html = page_text(client.get(f"/campaigns/{campaign.id}/prospects?sort=dr&dir=desc&per_page=25"))
    assert "1–25 of 60" in html and "Page 1 of 3" in html
    assert html.index("site059.test") < html.index("site058.test")
    html = page_text(client.get(f"/campaigns/{campaign.id}/prospects?sort=dr&dir=desc&per_page=25&page=3"))
    assert "51–60 of 60" in html and "site000.test" in html and "site059.test" not in html
    html = page_text(client.get(f"/campaigns/{campaign.id}/prospects?dr_min=10&dr_max=12"))
    assert "1–3 of 3" in html and "site011.test" in html and "site013.test" not in html
    html = page_text(client.get(f"/campaigns/{campaign.id}/prospects?q=ed5%40"))
    assert "1–1 of 1" in html and "site005.test" in html


def test_a_bad_filter_is_explained_next_to_it_and_ignored(login: Any, team: dict[str, Any], db: Session) -> None:
    make_many(db, team["campaign"], 2)
    html = page_text(login(team["owner"]).get("/prospects?dr_min=lots&stage=flying"))
    assert "&#39;lots&#39; is not a number" in html and "unknown stage &#39;flying&#39;" in html
    assert "1–2 of 2" in html


def test_the_list_runs_the_same_number_of_queries_for_10_or_100_rows(
        login: Any, team: dict[str, Any], db: Session, count_queries: Any) -> None:
    client = login(team["owner"])
    prospects = make_many(db, team["campaign"], 10)
    for p in prospects:
        service.set_tags(db, p, ["a", "b"], None)
        service.assign_owner(db, p, team["owner"].id, None)
    db.commit()
    with count_queries() as few:
        assert client.get("/prospects?per_page=100").status_code == 200
    more = make_many(db, team["other_campaign"], 90, prefix="more")
    for p in more:
        service.set_tags(db, p, ["c"], None)
    db.commit()
    with count_queries() as many:
        html = page_text(client.get("/prospects?per_page=100"))
    assert "1–100 of 100" in html
    assert many.count == few.count


def test_empty_lists_say_what_to_do_next(login: Any, team: dict[str, Any]) -> None:
    client = login(team["owner"])
    assert "No prospects yet." in page_text(client.get(f"/campaigns/{team['campaign'].id}/prospects"))
    assert "No sites yet." in page_text(client.get("/sites"))
    assert "No contacts yet." in page_text(client.get("/contacts"))
    assert "No prospects match these filters." in page_text(client.get("/prospects?q=zzz"))


def test_bulk_actions_change_stage_tag_and_owner_on_the_timeline(login: Any, team: dict[str, Any],
                                                                 db: Session) -> None:
    prospects = make_many(db, team["campaign"], 3)
    ids = [str(p.id) for p in prospects[:2]]
    client = login(team["owner"])
    response = client.post("/prospects/bulk", data={"ids": ids, "action": "stage", "stage": "qualified",
                                                    "next": "/prospects?stage=new"})
    assert response.headers["Location"] == "/prospects?stage=new"
    client.post("/prospects/bulk", data={"ids": ids, "action": "tag", "tag": "Round-1"})
    client.post("/prospects/bulk", data={"ids": ids, "action": "owner", "owner_id": str(team["teammate"].id)})
    fresh(db)
    stages = dict(db.execute(select(Prospect.id, Prospect.stage)).all())
    assert [stages[p.id] for p in prospects] == ["qualified", "qualified", "new"]
    assert {t.name for t in db.get(Prospect, prospects[0].id).tags} == {"round-1"}
    assert db.get(Prospect, prospects[1].id).owner_id == team["teammate"].id
    assert db.get(Prospect, prospects[2].id).owner_id is None
    assert db.scalar(select(func.count()).select_from(Activity).where(Activity.kind == "stage")) == 2
    response = client.post("/prospects/bulk", data={"ids": ids, "action": "stage", "stage": ""},
                           follow_redirects=True)
    assert "choose a stage to move the selected prospects to" in page_text(response)


def test_bulk_delete_asks_for_confirmation_first(login: Any, team: dict[str, Any], db: Session) -> None:
    prospects = make_many(db, team["campaign"], 2)
    client = login(team["owner"])
    response = client.post("/prospects/bulk", data={"ids": [str(prospects[0].id)], "action": "delete"})
    assert "Delete 1 prospect?" in page_text(response)
    assert db.scalar(select(func.count()).select_from(Prospect)) == 2
    response = client.post("/prospects/bulk", data={"ids": [str(prospects[0].id)], "action": "delete",
                                                    "confirmed": "yes"}, follow_redirects=True)
    assert "1 of 1 selected prospect deleted." in page_text(response)
    fresh(db)
    assert db.scalar(select(func.count()).select_from(Prospect)) == 1
    assert db.scalar(select(AuditLog.action).where(AuditLog.action == "prospect.delete")) == "prospect.delete"


def test_the_export_streams_the_filtered_list_as_csv(login: Any, team: dict[str, Any], db: Session) -> None:
    prospects = make_many(db, team["campaign"], 5)
    service.set_tags(db, prospects[1], ["vip", "=cmd"], None)
    db.commit()
    client = login(team["owner"])
    response = client.get(f"/campaigns/{team['campaign'].id}/prospects/export.csv?dr_min=1&sort=dr")
    assert response.mimetype == "text/csv" and response.is_streamed
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    response.close()
    assert rows[0][:5] == ["campaign", "client", "domain", "page_url", "stage"]
    assert [r[2] for r in rows[1:]] == ["site001.test", "site002.test", "site003.test", "site004.test"]
    assert rows[1][1] == "Acme Widgets" and rows[1][5] == "ed1@site001.test"
    assert rows[1][8] == "'=cmd, vip"  # a spreadsheet would run a cell starting with '='
    assert rows[1][9] == "1"


def read_csv(client: FlaskClient, url: str) -> list[str]:
    response = client.get(url)
    try:
        return response.get_data(as_text=True).splitlines()
    finally:
        response.close()


def test_sites_and_contacts_lists_and_exports(login: Any, team: dict[str, Any], db: Session) -> None:
    make_many(db, team["campaign"], 3)
    client = login(team["owner"])
    html = page_text(client.get("/sites?sort=dr&dir=desc"))
    assert html.index("site002.test") < html.index("site001.test")
    html = page_text(client.get("/contacts?q=ed1"))
    assert "ed1@site001.test" in html and "ed2@" not in html
    lines = read_csv(client, "/sites/export.csv")
    assert lines[0].lstrip("\ufeff").startswith("domain,domain_rating") and len(lines) == 4
    lines = read_csv(client, "/contacts/export.csv?q=ed2")
    assert len(lines) == 2 and lines[1].startswith("ed2@site002.test")


def test_the_do_not_contact_list_adds_notes_and_removes(login: Any, team: dict[str, Any], db: Session) -> None:
    client = login(team["owner"])
    response = client.post("/do-not-contact", data={"value": "https://www.Spam.test/page", "note": "angry"})
    assert response.status_code == 302
    entry = db.scalar(select(Suppression))
    assert entry is not None and (entry.kind, entry.value, entry.note) == ("domain", "spam.test", "angry")
    html = page_text(client.post("/do-not-contact", data={"value": "spam.test"}))
    assert "spam.test is already on the do-not-contact list (manual)" in html
    html = page_text(client.post("/do-not-contact", data={"value": "not an address@"}))
    assert 'class="error"' in html and db.scalar(select(func.count()).select_from(Suppression)) == 1
    client.post("/do-not-contact", data={"value": "Jo@Mail.test"})
    html = page_text(client.get("/do-not-contact?kind=email"))
    assert "jo@mail.test" in html and "spam.test" not in html
    client.post(f"/do-not-contact/{entry.id}/note", data={"note": "phoned"})
    fresh(db)
    assert db.get(Suppression, entry.id).note == "phoned"
    client.post(f"/do-not-contact/{entry.id}/remove")
    fresh(db)
    assert db.scalars(select(Suppression.value)).all() == ["jo@mail.test"]


def test_adding_a_suppressed_site_needs_an_override_recorded_on_the_timeline(
        login: Any, team: dict[str, Any], db: Session) -> None:
    client = login(team["owner"])
    client.post("/do-not-contact", data={"value": "blocked.test", "note": "legal"})
    url = f"/campaigns/{team['campaign'].id}/prospects/new"
    html = page_text(client.post(url, data={"url": "https://blocked.test/x"}))
    assert "blocked.test is on the do-not-contact list (legal)" in html
    assert db.scalar(select(func.count()).select_from(Prospect)) == 0
    client.post(url, data={"url": "https://blocked.test/x", "override_reason": "they asked us back"})
    fresh(db)
    prospect = db.scalar(select(Prospect))
    assert prospect is not None
    html = page_text(client.get(f"/prospects/{prospect.id}"))
    assert "Reason: they asked us back" in html and "kind-override" in html


def test_tags_list_on_the_board_only_holds_this_campaigns_tags(login: Any, team: dict[str, Any],
                                                               db: Session, make_prospect: Any) -> None:
    mine = make_prospect(team["campaign"])
    theirs = make_prospect(team["other_campaign"])
    service.set_tags(db, mine, ["ours"], None)
    service.set_tags(db, theirs, ["secret-tag"], None)
    db.commit()
    staff = login(team["owner"])
    html = page_text(staff.get(f"/campaigns/{team['campaign'].id}"))
    assert "ours" in html and "secret-tag" not in html
    staff.post("/logout")
    html = page_text(login(team["viewer"]).get(f"/campaigns/{team['campaign'].id}"))
    assert ">ours<" not in html and '"ours"' not in html  # tags are the team's labels
    assert db.scalar(select(func.count()).select_from(Tag)) == 2


def test_a_campaign_is_created_from_the_form_and_starts_active(login: Any, team: dict[str, Any],
                                                               db: Session) -> None:
    from outreach.models import Campaign

    client = login(team["owner"])
    response = client.post("/campaigns/new", data={
        "client_id": team["client"].id, "name": "Guest posts", "kind": "guest_posts",
        "target_urls": "https://acme.test/blog/", "keywords": "widgets", "owner_id": team["owner"].id})
    assert response.status_code == 302
    fresh(db)
    campaign = db.scalar(select(Campaign).where(Campaign.name == "Guest posts"))
    assert campaign is not None and campaign.status == "active" and campaign.kind == "guest_posts"


def test_a_long_column_shows_its_first_cards_and_links_to_the_rest(login: Any, team: dict[str, Any], db: Session,
                                                                  monkeypatch: Any) -> None:
    from outreach.campaigns import views

    monkeypatch.setattr(views, "BOARD_COLUMN_LIMIT", 2)
    make_many(db, team["campaign"], 3)
    html = page_text(login(team["owner"]).get(f"/campaigns/{team['campaign'].id}"))
    assert 'data-testid="count-new">3<' in html and html.count('class="pcard"') == 2
    assert "+ 1 more in the list" in html and "site002.test" not in html


def test_an_empty_note_is_refused_next_to_the_field(login: Any, team: dict[str, Any], db: Session,
                                                    make_prospect: Any) -> None:
    p = make_prospect(team["campaign"])
    response = login(team["owner"]).post(f"/prospects/{p.id}/notes", data={"text": "   "})
    html = page_text(response)
    assert response.status_code == 200 and 'role="alert">write something first: the note is empty<' in html
    fresh(db)
    assert db.scalar(select(func.count()).select_from(Activity).where(Activity.kind == "note")) == 0
