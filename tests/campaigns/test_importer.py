"""The CSV parser and importer, on the real export formats and on bad rows."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.campaigns import contact_rules, importer
from outreach.models import Activity, Contact, Prospect, Site


def parse(formats: Path, name: str) -> tuple[importer.ParsedFile, list[str]]:
    parsed = importer.parse_csv((formats / name).read_bytes())
    return parsed, importer.guess_mapping(parsed.headers)


def mapped(parsed: importer.ParsedFile, mapping: list[str]) -> dict[str, str]:
    return {field: parsed.headers[i] for i, field in enumerate(mapping) if field}


@pytest.mark.parametrize(("name", "expected"), [
    ("ahrefs-backlinks.csv", {"url": "Referring page URL", "domain_rating": "Domain rating",
                              "organic_traffic": "Domain traffic", "name": "Author"}),
    ("ahrefs-referring-domains.csv", {"url": "Domain", "domain_rating": "DR", "organic_traffic": "Traffic"}),
    ("semrush-backlinks.csv", {"url": "Source url", "authority_score": "Page ascore"}),
    ("semrush-referring-domains.csv", {"url": "Domain", "authority_score": "Domain ascore"}),
    ("moz-inbound-links.csv", {"url": "URL", "domain_authority": "Domain Authority"}),
    ("majestic-backlinks.csv", {"url": "Source URL"}),
    ("gsc-latest-links.csv", {"url": "Linking page"}),
    ("gsc-top-linking-sites.csv", {"url": "Site"}),
])
def test_it_maps_each_tools_export_by_header_name(formats: Path, name: str, expected: dict[str, str]) -> None:
    parsed, mapping = parse(formats, name)
    assert mapped(parsed, mapping) == expected
    plan = importer.check_rows(parsed, mapping)
    assert plan.errors == [] and len(plan.rows) == len(parsed.rows) > 0


def test_it_reads_ahrefs_utf16_tab_files_with_their_metrics(formats: Path) -> None:
    parsed, mapping = parse(formats, "ahrefs-backlinks.csv")
    assert (parsed.encoding, parsed.delimiter) == ("utf-16", "\t")
    row = importer.check_rows(parsed, mapping).rows[0]
    assert row.domain == "toolreviews.test"
    assert row.metrics == {"domain_rating": 71.0, "organic_traffic": 48210}
    assert row.name == "Dana Ortiz"


def test_it_finds_the_moz_header_after_the_preamble_and_adds_a_scheme(formats: Path) -> None:
    parsed, mapping = parse(formats, "moz-inbound-links.csv")
    assert parsed.header_line == 6
    row = importer.check_rows(parsed, mapping).rows[0]
    assert (row.line, row.url, row.metrics) == (7, "https://www.toolreviews.test/best-widget-tools/",
                                                 {"domain_authority": 68.0})


def test_it_does_not_take_the_target_url_for_the_prospect(formats: Path) -> None:
    _parsed, mapping = parse(formats, "gsc-top-linked-pages-externally.csv")
    assert "url" not in mapping
    assert importer.mapping_problems(mapping) == [
        "map one column to “Page or site URL”: every prospect needs a site"]


@pytest.mark.parametrize(("text", "value"), [("1,240", 1240.0), ("48.5", 48.5), ("", None), ("-", None),
                                             (" 12 ", 12.0), ("1,240,300", 1240300.0)])
def test_it_reads_numbers_as_exports_write_them(text: str, value: float | None) -> None:
    assert importer.parse_number(text) == value


def test_it_reports_every_bad_row_with_its_line_and_reason() -> None:
    data = (b"URL,Email,Name,DR,Organic Traffic\n"
            b"https://good.test/a,ann@good.test,Ann,50,\"1,240\"\n"
            b"ftp://files.test/x,,,,\n"
            b"https://bad-mail.test/,not-an-address,,,\n"
            b"https://good.test/other,,,,\n"
            b"https://metric.test/,,,high,\n"
            b"https://range.test/,,,150,\n"
            b",,,,\n"
            b",bob@x.test,,,\n")
    parsed = importer.parse_csv(data)
    plan = importer.check_rows(parsed, importer.guess_mapping(parsed.headers))
    assert [r.domain for r in plan.rows] == ["good.test"]
    assert plan.rows[0].metrics == {"domain_rating": 50.0, "organic_traffic": 1240}
    reasons = {e.line: e.reason for e in plan.errors}
    assert reasons[3].startswith("bad URL: 'ftp://files.test/x' is not an http(s) URL")
    assert reasons[4].startswith("bad email: not-an-address is not a valid address")
    assert reasons[5] == "duplicate in file: good.test is already on line 2"
    assert reasons[6] == "DR 'high' is not a number"
    assert reasons[7] == "DR 150 is out of range (0–100)"
    assert reasons[9] == "no URL"
    assert 8 not in reasons  # a blank line is not a row


def test_it_refuses_files_it_cannot_read() -> None:
    with pytest.raises(importer.BadImport, match="the file is empty"):
        importer.parse_csv(b"  \n")
    with pytest.raises(importer.BadImport, match="binary data"):
        importer.parse_csv(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" * 10)


def test_it_imports_good_rows_and_reports_campaign_duplicates_and_conflicts(
        db: Session, make_campaign: Any, make_prospect: Any, make_user: Any) -> None:
    user = make_user()
    campaign = make_campaign(name="Target")
    other = make_campaign(name="Other")
    make_prospect(campaign, "https://already.test/x")
    make_prospect(other, "https://busy.test/y")
    contact_rules.add_suppression(db, "blocked.test", note="asked us")
    contact_rules.add_suppression(db, "nope@mail.test", reason="unsubscribed")
    db.commit()
    data = (b"URL,Email,DR\n"
            b"https://new.test/a,Ann@New.test,40\n"
            b"https://already.test/b,,\n"
            b"https://busy.test/c,,\n"
            b"https://www.blocked.test/d,,\n"
            b"https://fine.test/e,nope@mail.test,\n")
    parsed = importer.parse_csv(data)
    plan = importer.plan_import(db, campaign, parsed, importer.guess_mapping(parsed.headers))
    assert [(e.line, e.reason) for e in plan.errors] == [
        (3, "duplicate in campaign: already.test is already on this board")]
    assert {r.domain: r.conflicts for r in plan.conflicted} == {
        "busy.test": ["busy.test is already in campaign “Other” (stage new)"],
        "blocked.test": ["blocked.test is on the do-not-contact list (asked us)"],
        "fine.test": ["nope@mail.test unsubscribed"]}
    result = importer.import_rows(db, campaign, plan, actor=user, source="list.csv")
    db.commit()
    assert result.imported == 1 and result.overridden == 0
    assert [e.line for e in result.errors] == [3, 4, 5, 6]
    assert result.errors[1].reason.startswith("conflict: busy.test is already in campaign")
    prospect = db.scalar(select(Prospect).join(Site).where(Site.domain == "new.test"))
    assert prospect is not None and prospect.contact is not None
    assert prospect.contact.email == "ann@new.test" and prospect.site.domain_rating == 40.0
    texts = db.scalars(select(Activity.text).where(Activity.prospect_id == prospect.id)).all()
    assert texts == ["Imported new.test from list.csv (line 2)"]


def test_an_override_imports_conflicts_and_records_why(db: Session, make_campaign: Any, make_user: Any) -> None:
    user = make_user()
    campaign = make_campaign()
    contact_rules.add_suppression(db, "blocked.test")
    db.commit()
    parsed = importer.parse_csv(b"URL\nhttps://blocked.test/\n")
    plan = importer.plan_import(db, campaign, parsed, ["url"])
    result = importer.import_rows(db, campaign, plan, actor=user, override_reason="client insisted")
    db.commit()
    assert (result.imported, result.overridden, result.errors) == (1, 1, [])
    prospect = db.scalar(select(Prospect))
    assert prospect is not None and prospect.override_reason == "client insisted"
    override = db.scalar(select(Activity).where(Activity.kind == "override"))
    assert override is not None and override.user_id == user.id
    assert override.text == ("Added despite: blocked.test is on the do-not-contact list. "
                             "Reason: client insisted")


def test_it_reuses_existing_sites_and_contacts(db: Session, make_campaign: Any, make_prospect: Any) -> None:
    first = make_campaign()
    make_prospect(first, "https://shared.test/", email="jo@shared.test")
    db.execute(Prospect.__table__.update().values(stage="lost"))
    db.commit()
    second = make_campaign()
    parsed = importer.parse_csv(b"URL,Email,Name,DR\nhttps://shared.test/page,jo@shared.test,Jo,33\n")
    plan = importer.plan_import(db, second, parsed, importer.guess_mapping(parsed.headers))
    assert plan.conflicted == []
    importer.import_rows(db, second, plan)
    db.commit()
    assert db.scalar(select(func.count()).select_from(Site)) == 1
    contact = db.scalar(select(Contact))
    assert contact is not None and contact.name == "Jo"


def test_a_large_file_is_planned_and_imported_with_few_queries(db: Session, make_campaign: Any,
                                                               count_queries: Any) -> None:
    campaign = make_campaign()
    lines = ["Referring page URL\tEmail\tDomain rating\tDomain traffic"]
    lines += [f"https://site{i}.test/page\tjane{i}@site{i}.test\t{i % 100}\t\"{i:,}\"" for i in range(3000)]
    data = "\ufeff".encode("utf-16-le") + "\n".join(lines).encode("utf-16-le")
    parsed = importer.parse_csv(data)
    with count_queries() as counter:
        plan = importer.plan_import(db, campaign, parsed, importer.guess_mapping(parsed.headers))
        result = importer.import_rows(db, campaign, plan)
        db.commit()
    assert result.imported == 3000 and result.errors == []
    # lookups are batched by 900 and inserts are multi-row: far fewer statements than rows
    assert counter.count < 60, counter.count
    assert db.scalar(select(func.count()).select_from(Prospect)) == 3000
