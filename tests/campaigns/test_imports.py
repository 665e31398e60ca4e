"""CSV import through the web: upload, preview with mapping, import with a row-by-row report."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.campaigns import contact_rules
from outreach.models import Activity, Prospect, Site


def upload(client: FlaskClient, campaign_id: int, data: bytes, name: str = "list.csv") -> Any:
    return client.post(f"/campaigns/{campaign_id}/import", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def count(db: Session, model: Any) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_it_previews_an_ahrefs_export_with_its_columns_mapped(login: Any, team: dict[str, Any], db: Session,
                                                              formats: Path) -> None:
    client = login(team["owner"])
    campaign = team["campaign"]
    response = upload(client, campaign.id, (formats / "ahrefs-backlinks.csv").read_bytes(), "ahrefs.csv")
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Preview: ahrefs.csv" in html and "UTF-16" in html and "tab-separated" in html
    assert '<option value="url" selected>' in html and '<option value="domain_rating" selected>' in html
    assert "www.toolreviews.test/best-widget-tools/" in html
    assert "Import 10 rows" in " ".join(html.split())
    assert count(db, Prospect) == 0  # a preview changes nothing


def test_it_imports_after_the_user_changes_the_mapping(login: Any, team: dict[str, Any], db: Session) -> None:
    client = login(team["owner"])
    campaign = team["campaign"]
    data = (b"Website,Reach,Rating\n"
            b"https://one.test/,ann@one.test,10\n"
            b"not a url,,\n"
            b"https://two.test/,bad@,20\n"
            b"https://one.test/again,,\n")
    preview_url = upload(client, campaign.id, data).headers["Location"]
    html = client.get(preview_url).get_data(as_text=True)
    assert '<option value="email" selected>' not in html  # "Reach" is not a known name
    mapping = {"col-0": "url", "col-1": "email", "col-2": "domain_rating"}
    html = client.post(preview_url, data={**mapping, "action": "check"}).get_data(as_text=True)
    assert "bad email" in html and "duplicate in file: one.test is already on line 2" in html
    html = client.post(preview_url, data={**mapping, "action": "import"}).get_data(as_text=True)
    assert "Imported 2 prospects from list.csv" in html
    assert "line 3" not in html  # lines are in their own column
    assert [">3<" in html, ">4<" in html, ">5<" in html] == [True, True, True]
    assert "bad URL" in html and "bad email, imported without a contact" in html
    site = db.scalar(select(Site).where(Site.domain == "one.test"))
    assert site is not None and site.domain_rating == 10.0
    kept = db.scalar(select(Prospect).join(Site).where(Site.domain == "two.test"))
    assert kept is not None and kept.contact_id is None and kept.site.domain_rating == 20.0
    assert client.get(preview_url).status_code == 302  # the upload is gone once imported


def test_a_mapping_without_a_url_column_is_refused_next_to_the_mapping(login: Any, team: dict[str, Any],
                                                                      db: Session) -> None:
    client = login(team["owner"])
    preview_url = upload(client, team["campaign"].id, b"URL,Email\nhttps://a.test/,\n").headers["Location"]
    html = client.post(preview_url, data={"col-0": "", "col-1": "email", "action": "import"}).get_data(as_text=True)
    assert "map one column to “Page or site URL”" in html
    assert count(db, Prospect) == 0


def test_conflicts_are_skipped_unless_overridden_with_a_reason(login: Any, team: dict[str, Any], db: Session,
                                                               make_prospect: Any) -> None:
    make_prospect(team["other_campaign"], "https://busy.test/")
    client = login(team["owner"])
    preview_url = upload(client, team["campaign"].id, b"URL\nhttps://busy.test/x\nhttps://free.test/\n"
                         ).headers["Location"]
    html = client.get(preview_url).get_data(as_text=True)
    assert "busy.test is already in campaign “Other campaign” (stage new)" in html
    html = client.post(preview_url, data={"col-0": "url", "action": "import", "override": "yes"}
                       ).get_data(as_text=True)
    assert "give a reason for the override" in html and count(db, Prospect) == 1
    html = client.post(preview_url, data={"col-0": "url", "action": "import", "override": "yes",
                                          "override_reason": "different section"}).get_data(as_text=True)
    assert "Imported 2 prospects" in html
    db.rollback()
    texts = db.scalars(select(Activity.text).where(Activity.kind == "override")).all()
    assert texts == ["Added despite: busy.test is already in campaign “Other campaign” (stage new). "
                     "Reason: different section"]


def test_without_override_a_conflict_is_reported_as_a_skipped_row(login: Any, team: dict[str, Any],
                                                                  db: Session) -> None:
    contact_rules.add_suppression(db, "dnc.test", reason="bounced")
    db.commit()
    client = login(team["owner"])
    preview_url = upload(client, team["campaign"].id, b"URL\nhttps://dnc.test/\n").headers["Location"]
    html = client.post(preview_url, data={"col-0": "url", "action": "import"}).get_data(as_text=True)
    assert "Imported 0 prospects" in html and "conflict: dnc.test bounced" in html
    assert count(db, Prospect) == 0


def test_an_unreadable_upload_is_refused_next_to_the_field(login: Any, team: dict[str, Any]) -> None:
    client = login(team["owner"])
    html = upload(client, team["campaign"].id, b"").get_data(as_text=True)
    assert "choose a CSV file" not in html and "list.csv: the file is empty" in html
    html = client.post(f"/campaigns/{team['campaign'].id}/import", data={}).get_data(as_text=True)
    assert "choose a CSV file to upload" in html


def test_an_upload_belongs_to_its_user_and_campaign(login: Any, team: dict[str, Any], app: Any) -> None:
    client = login(team["owner"])
    preview_url = upload(client, team["campaign"].id, b"URL\nhttps://a.test/\n").headers["Location"]
    token = preview_url.rsplit("/", 1)[1]
    assert client.get(f"/campaigns/{team['other_campaign'].id}/import/{token}").status_code == 404
    assert client.get(f"/campaigns/{team['campaign'].id}/import/../../etc").status_code == 404
    other = app.test_client()
    other.post("/login", data={"email": team["teammate"].email, "password": "correct horse battery"})
    assert other.get(preview_url).status_code == 404


def test_a_file_over_the_size_limit_is_refused_next_to_the_field(login: Any, team: dict[str, Any],
                                                                 app: Any) -> None:
    client = login(team["owner"])
    limit = app.config["IMPORT_MAX_CONTENT_LENGTH"]
    app.config["IMPORT_MAX_CONTENT_LENGTH"] = 1024 * 1024
    try:
        response = upload(client, team["campaign"].id, b"URL\n" + b"https://a.test/\n" * 80_000)
    finally:
        app.config["IMPORT_MAX_CONTENT_LENGTH"] = limit
    assert response.status_code == 413
    assert "the file is larger than 1 MB; split it and import the parts" in response.get_data(as_text=True)


def section(html: str, testid: str) -> str:
    """The HTML of one section of the page, by its data-testid ('' when absent)."""
    if f'data-testid="{testid}"' not in html:
        return ""
    return html.split(f'data-testid="{testid}"', 1)[1].split("</section>", 1)[0]


def test_the_preview_separates_what_will_and_will_not_be_imported_before_writing(
        login: Any, team: dict[str, Any], db: Session, make_prospect: Any) -> None:
    make_prospect(team["other_campaign"], "https://busy.test/")
    client = login(team["owner"])
    data = (b"URL,Email,DR,Page Authority\n"
            b"https://good.test/a,ann@good.test,50,20\n"
            b"https://nomail.test/,ann@@nomail.test,40,\n"
            b"mailto:x@y.test,,,\n"
            b"https://busy.test/page,,,\n"
            b"https://range.test/,,101,\n"
            b"https://good.test/b,,,\n")
    preview_url = upload(client, team["campaign"].id, data).headers["Location"]
    html = client.get(preview_url).get_data(as_text=True)
    will = section(html, "will-import")
    assert "good.test" in will and "nomail.test" in will and "busy.test" not in will and "range.test" not in will
    assert "bad email, imported without a contact" in section(html, "will-import")
    assert ">50<" in will and ">20<" in will  # the typed values as they will be stored
    will_not = section(html, "will-not-import")
    assert "good.test" not in will_not.split("duplicate in file")[0] and "nomail.test" not in will_not
    assert "is not an http(s) URL" in will_not and "DR 101 is out of range (0–100)" in will_not
    assert "duplicate in file: good.test is already on line 2" in will_not
    assert "busy.test is already in campaign “Other campaign”" in section(html, "will-override")
    counts = [section(html, "summary").split(f'data-testid="count-{k}">', 1)[1].split("<", 1)[0]
              for k in ("import", "conflict", "skip")]
    assert counts == ["2", "1", "3"]
    assert count(db, Prospect) == 1 and count(db, Site) == 1  # the preview wrote nothing


def test_a_long_list_is_imported_by_a_run_whose_progress_the_page_shows(
        login: Any, team: dict[str, Any], db: Session, app: Any) -> None:
    from outreach.campaigns.imports import service as importer
    from outreach.campaigns.imports.jobs import run_imports
    from outreach.jobs.ticks import JobContext

    client = login(team["owner"])
    rows = importer.WRITE_CHUNK + 500
    data = "URL,Email,DR\n" + "".join(f"https://s{i}.test/,{'bad@@' if i == 7 else 'ed@'}s{i}.test,{i % 90}\n"
                                      for i in range(rows))
    preview_url = upload(client, team["campaign"].id, data.encode()).headers["Location"]
    response = client.post(preview_url, data={"col-0": "url", "col-1": "email", "col-2": "domain_rating",
                                              "action": "import"})
    assert response.status_code == 302 and "/import/runs/" in response.headers["Location"]
    run_url = response.headers["Location"]
    html = client.get(run_url).get_data(as_text=True)
    assert "0 of 2,500 rows written" in html and 'hx-get="' in html and "queued" in html
    assert count(db, Prospect) == 0

    state = app.extensions["outreach"]
    seen: list[str] = []

    def stopping() -> bool:  # asked after each committed chunk's heartbeat: what the progress endpoint says then
        seen.append(client.get(run_url + "/progress").get_data(as_text=True))
        return False

    ctx = JobContext(settings=state.settings, sessionmaker=state.sessionmaker, secret_box=state.secret_box,
                     stopping=stopping)
    assert run_imports(ctx) == 1
    assert any("2,000 of 2,500 rows written" in s and 'aria-valuenow="80"' in s for s in seen), seen
    assert count(db, Prospect) == rows
    progress = client.get(run_url + "/progress", headers={"HX-Request": "true"})
    assert progress.status_code == 204 and progress.headers["HX-Refresh"] == "true"
    html = client.get(run_url).get_data(as_text=True)
    assert f"Imported {rows:,} prospects" in html
    assert "bad email, imported without a contact" in section(html, "row-warnings")
    assert run_imports(ctx) == 0  # nothing left queued
