"""Findings of the security review, each pinned by a test that fails without its fix."""
from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
from sqlalchemy import select

from outreach.web.redirects import safe_next

LEAVING = ["//evil.test/", "/\t/evil.test/", "/\n/evil.test/", "/\r\n/evil.test", "/\\evil.test",
           "https://evil.test/", "javascript:alert(1)", "/\x00/evil.test"]


@pytest.mark.parametrize("target", LEAVING)
def test_it_refuses_next_targets_a_browser_would_read_as_another_site(target: str) -> None:
    assert safe_next(target) is None


def test_it_keeps_a_same_site_path_with_its_query() -> None:
    assert safe_next("/campaigns/3?stage=new#board") == "/campaigns/3?stage=new#board"


@pytest.mark.parametrize("target", ["/\t/evil.test/", "/\n/evil.test/"])
def test_it_never_redirects_off_site_after_login(client: Any, team: dict[str, Any], target: str) -> None:

    response = client.post("/login", query_string={"next": target},
                           data={"email": team["owner"].email, "password": _password()})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_it_ignores_an_off_site_next_when_cancelling_a_sequence(login: Any, team: dict[str, Any],
                                                                 make_prospect: Any) -> None:
    prospect = make_prospect(team["campaign"])
    response = login(team["owner"]).post(f"/prospects/{prospect.id}/outreach/cancel",
                                         data={"next": "https://evil.test/"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/campaigns/{team['campaign'].id}/outreach"


def test_it_ignores_an_off_site_next_when_moving_a_prospect(login: Any, team: dict[str, Any],
                                                            make_prospect: Any) -> None:
    prospect = make_prospect(team["campaign"])
    response = login(team["owner"]).post(f"/prospects/{prospect.id}/stage",
                                         data={"stage": "qualified", "next": "/\t/evil.test/"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/prospects/{prospect.id}"


def _password() -> str:
    from tests.conftest import PASSWORD

    return PASSWORD


# --- ids no table can hold: 404 or a one-line error, never a database error (500) ---------------------

HUGE = "99999999999999999999"


def test_it_answers_404_for_an_id_too_big_for_the_database_on_every_page(app: Any, login: Any,
                                                                          team: dict[str, Any]) -> None:
    browser = login(team["admin"])
    checked = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith("/api/") or not rule.arguments:
            continue
        if any(type(rule._converters[name]).__name__ != "IdConverter" for name in rule.arguments):
            continue
        url = rule.rule
        for name in rule.arguments:
            url = url.replace(f"<int:{name}>", HUGE)
        assert browser.get(url).status_code == 404, url
        checked += 1
    assert checked > 20


def test_it_answers_404_for_a_report_of_a_campaign_id_too_big(login: Any, team: dict[str, Any]) -> None:
    browser = login(team["owner"])
    assert browser.get(f"/reports/clients/{team['client'].id}", query_string={"campaign": HUGE}).status_code == 404
    response = browser.post(f"/reports/clients/{team['client'].id}/shares", data={"campaign": HUGE, "days": "30"})
    assert response.status_code == 404


def test_it_answers_404_for_a_backlink_form_opened_from_a_prospect_id_too_big(login: Any,
                                                                               team: dict[str, Any]) -> None:
    response = login(team["owner"]).post("/backlinks/new", data={"client_id": str(team["client"].id),
                                                                 "prospect_id": HUGE})
    assert response.status_code == 404


@pytest.mark.parametrize("value", [HUGE, "abc"])
def test_it_refuses_a_sequence_step_naming_no_template_in_one_line(login: Any, team: dict[str, Any],
                                                                   db: Any, value: str) -> None:
    from sqlalchemy import func, select

    from outreach.mail.sequences import save_template
    from outreach.models import Sequence

    save_template(db, "Pitch", "Hello", "Hi {{ contact.name }}")
    db.commit()
    response = login(team["owner"]).post("/mail/sequences/new", data={"name": "Broken", "template_1": value})
    assert response.status_code == 200
    assert "step 1: choose an existing template" in response.get_data(as_text=True)
    assert db.scalar(select(func.count(Sequence.id))) == 0


# --- NUL characters: PostgreSQL refuses them in text, which made every form and search box a 500 ---------

def test_it_saves_a_form_with_a_nul_character_without_it(login: Any, team: dict[str, Any], db: Any) -> None:
    from sqlalchemy import select

    from outreach.models import Client

    response = login(team["owner"]).post("/clients/new", data={"name": "Nul\x00 Widgets", "notes": "a\x00b",
                                                               "website": "https://nul\x00widgets.example/"})
    assert response.status_code == 302
    client = db.scalar(select(Client).where(Client.name == "Nul Widgets"))
    assert client is not None and client.notes == "ab"


@pytest.mark.parametrize("url", ["/prospects?q=%00", "/contacts?q=a%00b", "/sites?q=%00",
                                 "/campaigns/{campaign}?q=%00", "/campaigns/{campaign}/prospects?q=%00"])
def test_it_answers_a_search_for_a_nul_character(login: Any, team: dict[str, Any], url: str) -> None:
    assert login(team["owner"]).get(url.format(campaign=team["campaign"].id)).status_code == 200


def test_it_refuses_a_template_name_of_only_a_nul_character_in_one_line(login: Any, team: dict[str, Any]) -> None:
    response = login(team["owner"]).post("/mail/templates/new", data={"name": "\x00", "subject": "Hi",
                                                                      "body_text": "Hello"})
    assert response.status_code == 200
    assert "This field is required." in response.get_data(as_text=True)


# --- download names: a response header must be Latin-1 (PEP 3333); a client name need not be -------------

@pytest.mark.parametrize("fmt", ["csv", "pdf"])
def test_it_names_a_report_download_in_ascii_whatever_the_client_is_called(login: Any, make_client: Any,
                                                                           team: dict[str, Any], fmt: str) -> None:
    client = make_client("Café 日本 \"Widgets\"\r\n")
    response = login(team["owner"]).get(f"/reports/clients/{client.id}/report.{fmt}")
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition.isascii() and '"' not in disposition.split('filename="', 1)[1][:-1]
    assert 'filename="links-caf-widgets-' in disposition


# --- the app's own emails: a line break in a client name or page title must not break the header ----------

def test_it_sends_an_app_email_whose_subject_had_line_breaks_on_one_line() -> None:
    from outreach.lib.appmail import AppEmail, build_message

    email = AppEmail(to=["owner@agency.test"], subject="Links report: Acme\r\nBcc: evil@attacker.test\x00",
                     text="Hello", html="<p>Hello</p>")
    message = build_message(email, "alerts@agency.test")
    assert message["Subject"] == "Links report: Acme Bcc: evil@attacker.test"
    assert message["Bcc"] is None and b"\r\nBcc:" not in bytes(message)


# --- sweeps over every route: guards for routes added later -----------------------------------------------

#: /healthz, /readyz and /metrics answer load balancers and Prometheus (/metrics only a bearer of its token:
#: tests/health/test_health.py)
PUBLIC = ("/api/", "/static", "/r/", "/unsubscribe", "/login", "/setup", "/logout", "/healthz", "/readyz",
          "/metrics")


def _urls(app: Any, ids: dict[str, int]) -> list[tuple[str, str, Any]]:
    """(method, url, rule) for every web route, its ids filled from `ids` (1 for the others)."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PUBLIC):
            continue
        url = rule.rule.replace("<kind>", "templates").replace("<token>", "x")
        for name in rule.arguments:
            url = url.replace(f"<int:{name}>", str(ids.get(name, 1)))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, url, rule))
    return found


@pytest.fixture
def ids(team: dict[str, Any], make_prospect: Any) -> dict[str, int]:
    prospect = make_prospect(team["campaign"])
    return {"campaign_id": team["campaign"].id, "prospect_id": prospect.id, "client_id": team["client"].id,
            "user_id": team["owner"].id}


def test_it_lets_a_client_viewer_change_nothing_anywhere(app: Any, login: Any, team: dict[str, Any],
                                                         ids: dict[str, int]) -> None:
    browser = login(team["viewer"])
    allowed = []
    for method, url, _rule in _urls(app, ids):
        if method != "GET" and not url.startswith("/account"):
            status = browser.open(url, method=method, data={}).status_code
            if status not in (403, 404):
                allowed.append((method, url, status))
    assert allowed == []


def test_it_shows_another_clients_viewer_nothing_of_acme(app: Any, login: Any, team: dict[str, Any],
                                                         ids: dict[str, int]) -> None:
    browser = login(team["outsider"])
    shown = []
    for method, url, rule in _urls(app, ids):
        if method == "GET" and {"campaign_id", "prospect_id", "client_id"} & set(rule.arguments):
            status = browser.get(url).status_code
            if status not in (403, 404):
                shown.append((url, status))
    assert shown == []


def test_it_sends_anonymous_visitors_of_every_page_to_the_login_page(app: Any, client: Any, team: dict[str, Any],
                                                                     ids: dict[str, int]) -> None:
    wrong = []
    for method, url, _rule in _urls(app, ids):
        response = client.open(url, method=method, data={})
        if response.status_code != 302 or not response.headers["Location"].startswith("/login"):
            wrong.append((method, url, response.status_code))
    assert wrong == []


def test_it_refuses_every_web_post_without_a_csrf_token(app: Any, login: Any, team: dict[str, Any],
                                                        ids: dict[str, int]) -> None:
    browser = login(team["admin"])
    app.config["WTF_CSRF_ENABLED"] = True
    accepted = []
    for method, url, _rule in _urls(app, ids):
        if method == "POST" and browser.post(url, data={}).status_code != 400:
            accepted.append(url)
    assert accepted == []


def test_it_never_echoes_a_mailbox_password_back_into_the_form(login: Any, team: dict[str, Any]) -> None:
    browser = login(team["owner"])
    form = {"name": "Outreach", "from_email": "me@agency.test", "smtp_host": "smtp.agency.test", "smtp_port": "587",
            "smtp_security": "starttls", "smtp_username": "me", "smtp_password": "Smtp-Secret-4471",
            "imap_port": "993", "imap_security": "ssl", "imap_password": "Imap-Secret-9902", "daily_cap": "50",
            "min_spacing_seconds": "120", "jitter_seconds": "60", "window_days": "1,2,3,4,5",
            "window_start_hour": "9", "window_end_hour": "17", "timezone": "Not/AZone"}
    response = browser.post("/mail/mailboxes/new", data=form)
    refused = response.get_data(as_text=True)
    assert response.status_code == 200 and "Not/AZone" in refused
    assert "Smtp-Secret-4471" not in refused and "Imap-Secret-9902" not in refused
    saved = browser.post("/mail/mailboxes/new", data={**form, "timezone": "Europe/Paris"})
    assert saved.status_code == 302
    page = browser.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Smtp-Secret-4471" not in page and "Imap-Secret-9902" not in page


# --- sessions: a new password ends every other session (and remember-me cookie) ---------------------------

def test_it_ends_other_sessions_when_the_password_changes(app: Any, team: dict[str, Any]) -> None:
    from tests.conftest import PASSWORD

    laptop, phone = app.test_client(), app.test_client()
    for browser in (laptop, phone):
        assert browser.post("/login", data={"email": team["owner"].email, "password": PASSWORD,
                                            "remember": "y"}).status_code == 302
    changed = laptop.post("/account", data={"action": "password", "pw-current_password": PASSWORD,
                                            "pw-new_password": "another long passphrase 42",
                                            "pw-confirm": "another long passphrase 42"})
    assert changed.status_code == 302
    assert laptop.get("/account").status_code == 200  # the session that changed it goes on
    response = phone.get("/account")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")



def test_it_starts_a_fresh_session_at_login(app: Any, team: dict[str, Any]) -> None:
    from tests.conftest import PASSWORD

    browser = app.test_client()
    with browser.session_transaction() as session:
        session["csrf_token"] = "planted-by-an-attacker"
    assert browser.post("/login", data={"email": team["owner"].email, "password": PASSWORD}).status_code == 302
    with browser.session_transaction() as session:
        assert session.get("csrf_token") != "planted-by-an-attacker" and "_user_id" in session


def test_it_refuses_an_owner_id_too_big_for_the_database(login: Any, team: dict[str, Any], make_prospect: Any,
                                                         db: Any) -> None:
    prospect = make_prospect(team["campaign"])
    browser = login(team["owner"])
    response = browser.post(f"/prospects/{prospect.id}/details", data={"owner_id": HUGE, "tags": ""},
                            follow_redirects=True)
    assert response.status_code == 200 and "no such user" in response.get_data(as_text=True)
    db.refresh(prospect)
    assert prospect.owner_id is None
    bulk = browser.post("/prospects/bulk", data={"ids": [str(prospect.id), HUGE], "action": "owner",
                                                 "owner_id": HUGE}, follow_redirects=True)
    assert bulk.status_code == 200 and "the owner must be a team member" in bulk.get_data(as_text=True)


def test_it_refuses_a_mailbox_or_sequence_id_too_big_for_the_database(login: Any, team: dict[str, Any]) -> None:
    response = login(team["owner"]).post(f"/campaigns/{team['campaign'].id}/outreach/settings",
                                         data={"mailbox_id": HUGE, "sequence_id": "0"}, follow_redirects=True)
    assert response.status_code == 200 and "choose an existing mailbox" in response.get_data(as_text=True)


# --- what a client viewer must never see: planted in every place it lives, looked for on every page ------

#: distinctive text in each internal place; none may reach a client viewer, in a page, an export or the API
PLANTED = {
    "note": "zqnote-team-only-7f3a",
    "client note": "zqclientnote-7f3a",
    "backlink note": "zqlinknote-7f3a",
    "contact email": "zq.editor-7f3a@mailhost-planted.example",
    "contact name": "Zqname Plantedperson",
    "other address": "zq.second-7f3a@mailhost-planted.example",
    "message body": "zqbody-message-text-7f3a",
    "message subject": "zqsubject-7f3a",
    "reply": "zqreply-their-answer-7f3a",
    "tag": "zqtag-7f3a",
    "override": "zqoverride-7f3a",
}


@pytest.fixture
def planted(team: dict[str, Any], db: Any) -> dict[str, int]:
    """One prospect of the viewer's client carrying every kind of internal material, and the ids of its records."""
    from outreach.backlinks.service import create_backlink
    from outreach.campaigns import service
    from outreach.lib.clock import utcnow
    from outreach.models import Contact, Opportunity
    from outreach.models.mail import Enrollment, Message, Sequence
    from outreach.models.prospecting import ProspectingRun

    now, email = utcnow(), PLANTED["contact email"]
    campaign = db.merge(team["campaign"])
    campaign.client.notes = PLANTED["client note"]
    prospect = service.add_prospect(db, campaign, "https://resources-7f3a.example/links", email=email,
                                    contact_name=PLANTED["contact name"], actor=team["owner"])
    prospect.override_reason = PLANTED["override"]
    db.add(Contact(email=PLANTED["other address"], site_id=prospect.site_id, name="Zqsecond Person"))
    service.add_note(db, prospect, PLANTED["note"], team["owner"])
    service.set_tags(db, prospect, [PLANTED["tag"]], team["owner"])
    service.record(db, prospect, "email_sent", f"Sent step 1 “{PLANTED['message subject']}” to {email}")
    service.record(db, prospect, "email_received", f"Reply from {email}: {PLANTED['reply']}")
    service.move_prospect(db, prospect, "replied", reason=f"reply “{PLANTED['message subject']}” from {email}")
    sequence = Sequence(name="Zq sequence")
    db.add(sequence)
    db.flush()
    enrollment = Enrollment(campaign_id=campaign.id, prospect_id=prospect.id, contact_id=prospect.contact_id,
                            sequence_id=sequence.id)
    db.add(enrollment)
    db.flush()
    for step, status in ((1, "sent"), (2, "scheduled")):
        db.add(Message(enrollment_id=enrollment.id, campaign_id=campaign.id, prospect_id=prospect.id,
                       contact_id=prospect.contact_id, step=step, message_id=f"<zq-{step}@agency.test>",
                       from_email="me@agency.test", to_email=email, to_name=PLANTED["contact name"],
                       subject=PLANTED["message subject"], body_text=PLANTED["message body"], status=status,
                       send_at=now, sent_at=now if status == "sent" else None, transport="local"))
    backlink = create_backlink(db, client_id=campaign.client_id, campaign_id=campaign.id, prospect_id=prospect.id,
                               target_url="https://acme.example/widgets", page_url=prospect.page_url,
                               notes=PLANTED["backlink note"], actor=team["owner"])
    checks = {email: {"status": "valid", "reason": "MX found", "is_role": False}}
    target = {"site": "https://resources-7f3a.example", "page": prospect.page_url, "emails": [email],
              "score": 5.0, "score_parts": {}, "requirements": {}, "form_urls": [], "reasons": ["guidelines"],
              "email_checks": checks}
    run = ProspectingRun(campaign_id=campaign.id, kind="guest_posts", seeds=[prospect.page_url], status="done",
                         results={"seeds": [prospect.page_url], "targets": [target], "rejected": [],
                                  "no_guidelines": []}, finished_at=now)
    db.add(run)
    db.flush()
    opportunity = Opportunity(campaign_id=campaign.id, site_id=prospect.site_id, page_url=prospect.page_url,
                              kind="guest_post", score=5.0, details={"guidelines_url": prospect.page_url,
                                                                     "emails": [email], "email_checks": checks,
                                                                     "requirements": {}, "run_id": run.id})
    db.add(opportunity)
    db.commit()
    message_id = db.scalar(select(Message.id).where(Message.step == 1))
    return {"campaign_id": campaign.id, "prospect_id": prospect.id, "client_id": campaign.client_id,
            "backlink_id": backlink.id, "run_id": run.id, "opportunity_id": opportunity.id,
            "message_id": message_id, "contact_id": prospect.contact_id, "sequence_id": sequence.id,
            "user_id": team["viewer"].id}


def _readable(response: Any) -> str:
    """The answer as text, a PDF's text too when pdftotext is installed (the raw bytes otherwise)."""
    data = response.get_data()
    if response.mimetype == "application/pdf" and shutil.which("pdftotext"):
        data += subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout
    return data.decode("utf-8", "replace").lower()


def _leaks(text: str) -> list[str]:
    return [what for what, value in PLANTED.items() if value.lower() in text]


#: pages and answers a client viewer must be able to open: the sweep is not empty by accident
VIEWER_OPENS = {"/", "/prospects", "/prospects/export.csv", "/backlinks", "/campaigns/{campaign_id}",
                "/campaigns/{campaign_id}/prospects", "/campaigns/{campaign_id}/prospects/export.csv",
                "/prospects/{prospect_id}", "/backlinks/{backlink_id}", "/campaigns/{campaign_id}/prospecting",
                "/campaigns/{campaign_id}/prospecting/runs/{run_id}", "/reports/clients/{client_id}",
                "/reports/clients/{client_id}/report.csv", "/clients/{client_id}"}
VIEWER_API_OPENS = {"/api/v1/prospects", "/api/v1/prospects/{prospect_id}", "/api/v1/prospects/{prospect_id}/timeline",
                    "/api/v1/prospects/{prospect_id}/stage-changes", "/api/v1/clients/{client_id}",
                    "/api/v1/backlinks/{backlink_id}", "/api/v1/campaigns/{campaign_id}/opportunities",
                    "/api/v1/prospecting-runs/{run_id}/results", "/api/v1/campaigns/{campaign_id}/prospects"}


def test_it_shows_a_client_viewer_no_note_contact_or_message_on_any_page(app: Any, login: Any, team: dict[str, Any],
                                                                         planted: dict[str, int]) -> None:
    staff = login(team["owner"])
    for url in ("/prospects/{prospect_id}", "/prospects/export.csv", "/campaigns/{campaign_id}/outreach"):
        assert _leaks(_readable(staff.get(url.format(**planted)))), f"staff should see the planted material: {url}"
    staff.post("/logout")
    browser = login(team["viewer"])
    opened, leaked = set(), []
    for method, url, _rule in _urls(app, planted):
        if method != "GET":
            continue
        response = browser.get(url)
        if response.status_code == 200:
            opened.add(url)
            leaked += [(url, what) for what in _leaks(_readable(response))]
    assert leaked == []
    assert {u.format(**planted) for u in VIEWER_OPENS} <= opened
    searched = browser.get("/prospects", query_string={"q": "zq.editor-7f3a"}).get_data(as_text=True)
    assert "resources-7f3a.example" not in searched  # a viewer's search does not look at contact addresses


def test_it_answers_a_client_viewer_no_note_contact_or_message_from_any_api_endpoint(app: Any, client: Any, db: Any,
                                                                                     team: dict[str, Any],
                                                                                     planted: dict[str, int]) -> None:
    from outreach.accounts.service import create_api_token

    def as_user(user: Any) -> dict[str, str]:
        _token, secret = create_api_token(db, user, "sweep")
        db.commit()
        return {"Authorization": f"Bearer {secret}"}

    staff = as_user(team["owner"])
    for url in ("/api/v1/prospects/{prospect_id}", "/api/v1/prospects/{prospect_id}/timeline"):
        assert _leaks(_readable(client.get(url.format(**planted), headers=staff))), url
    viewer = as_user(team["viewer"])
    opened, leaked = set(), []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or "GET" not in rule.methods or rule.endpoint == "api.unknown":
            continue
        url = rule.rule
        for name in rule.arguments:
            url = url.replace(f"<int:{name}>", str(planted.get(name, 1)))
        response = client.get(url, headers=viewer)
        if response.status_code == 200:
            opened.add(url)
            leaked += [(url, what) for what in _leaks(_readable(response))]
    assert leaked == []
    assert {u.format(**planted) for u in VIEWER_API_OPENS} <= opened
    found = client.get("/api/v1/prospects", query_string={"search": "zq.editor-7f3a"}, headers=viewer).get_json()
    assert found["data"] == []  # a viewer's search does not look at contact addresses
