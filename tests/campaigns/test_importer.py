"""The CSV parser and importer, on the real export formats and on bad rows."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from outreach.campaigns import contact_rules
from outreach.campaigns.imports import service as importer
from outreach.lib.urls import BadURL, ensure_http_url, registrable_domain
from outreach.models import Activity, Contact, Prospect, Site, Suppression


def parse(formats: Path, name: str) -> tuple[importer.ParsedFile, list[str]]:
    parsed = importer.parse_csv((formats / name).read_bytes())
    return parsed, importer.guess_mapping(parsed.headers)


def mapped(parsed: importer.ParsedFile, mapping: list[str]) -> dict[str, str]:
    return {field: parsed.headers[i] for i, field in enumerate(mapping) if field}


#: every column of each tool's real export that carries a site, contact, link or metric, and its field
EXPECTED_MAPPINGS = {
    "ahrefs-backlinks.csv": {
        "url": "Referring page URL", "page_title": "Referring page title", "domain_rating": "Domain rating",
        "url_rating": "UR", "organic_traffic": "Domain traffic", "referring_domains": "Referring domains",
        "external_links": "External links", "page_traffic": "Page traffic", "link_target_url": "Target URL",
        "link_anchor": "Anchor", "link_is_nofollow": "Nofollow", "name": "Author"},
    "ahrefs-referring-domains.csv": {
        "url": "Domain", "domain_rating": "DR", "referring_domains": "Dofollow ref. domains",
        "organic_traffic": "Traffic", "links_to_target": "Links to target"},
    "semrush-backlinks.csv": {
        "url": "Source url", "page_authority_score": "Page ascore", "page_title": "Source title",
        "link_target_url": "Target url", "link_anchor": "Anchor", "external_links": "External links",
        "link_is_nofollow": "Nofollow"},
    "semrush-referring-domains.csv": {"url": "Domain", "authority_score": "Domain ascore",
                                      "links_to_target": "Backlinks"},
    "moz-inbound-links.csv": {
        "url": "URL", "page_title": "Title", "link_anchor": "Anchor Text", "spam_score": "Spam Score",
        "page_authority": "Page Authority", "domain_authority": "Domain Authority",
        "page_referring_domains": "Number of Domains Linking to this Page",
        "referring_domains": "Number of Domains Linking to Domain", "link_target_url": "Target URL",
        "link_is_nofollow": "Only rel=nofollow"},
    "majestic-backlinks.csv": {
        "url": "Source URL", "link_target_url": "Target URL", "link_anchor": "Anchor Text",
        "link_is_nofollow": "FlagNoFollow", "page_citation_flow": "SourceCitationFlow",
        "page_trust_flow": "SourceTrustFlow"},
    "gsc-latest-links.csv": {"url": "Linking page"},
    "gsc-top-linking-sites.csv": {"url": "Site", "links_to_target": "Linking pages"},
}
#: the first row of each export, as the typed values it becomes (site-level, then prospect-level)
EXPECTED_FIRST_ROWS = {
    "ahrefs-backlinks.csv": (
        {"domain_rating": 71.0, "organic_traffic": 48210, "referring_domains": 3120},
        {"page_title": "The 12 best widget tools for 2025", "link_anchor": "Acme Widgets",
         "link_target_url": "https://acme-widgets.example/", "url_rating": 24.0, "page_traffic": 1830,
         "external_links": 61, "link_is_nofollow": False}),
    "ahrefs-referring-domains.csv": (
        {"domain_rating": 79.0, "organic_traffic": 880120, "referring_domains": 61204}, {"links_to_target": 3}),
    "semrush-backlinks.csv": (
        {}, {"page_title": "The 12 best widget tools for 2025", "link_anchor": "Acme Widgets",
             "link_target_url": "https://acme-widgets.example/", "page_authority_score": 27.0,
             "external_links": 61, "link_is_nofollow": False}),
    "semrush-referring-domains.csv": ({"authority_score": 75.0}, {"links_to_target": 3}),
    "moz-inbound-links.csv": (
        {"domain_authority": 68.0, "spam_score": 1.0, "referring_domains": 3120},
        {"page_title": "The 12 best widget tools for 2025", "link_anchor": "Acme Widgets",
         "link_target_url": "https://acme-widgets.example/", "page_authority": 29.0, "page_referring_domains": 12,
         "link_is_nofollow": False}),
    "majestic-backlinks.csv": (
        {}, {"link_anchor": "Acme Widgets", "link_target_url": "https://acme-widgets.example/",
             "page_trust_flow": 46.0, "page_citation_flow": 61.0, "link_is_nofollow": False}),
    "gsc-latest-links.csv": ({}, {}),
    "gsc-top-linking-sites.csv": ({}, {"links_to_target": 1240}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_MAPPINGS))
def test_it_maps_each_tools_export_by_header_name(formats: Path, name: str) -> None:
    parsed, mapping = parse(formats, name)
    assert mapped(parsed, mapping) == EXPECTED_MAPPINGS[name]
    plan = importer.check_rows(parsed, mapping)
    assert plan.errors == [] and len(plan.rows) == len(parsed.rows) > 0
    first = plan.rows[0]
    assert (first.metrics, first.page) == EXPECTED_FIRST_ROWS[name]


def test_the_flags_of_each_tool_read_as_nofollow(formats: Path) -> None:
    """Majestic writes '+' for a set flag and nothing otherwise; Moz Yes/No; Ahrefs and Semrush true/false."""
    for name in ("majestic-backlinks.csv", "moz-inbound-links.csv", "semrush-backlinks.csv"):
        parsed, mapping = parse(formats, name)
        rows = {r.domain: r.page["link_is_nofollow"] for r in importer.check_rows(parsed, mapping).rows}
        assert rows["makers-club.test"] is True and rows["toolreviews.test"] is False, name


def test_it_reads_ahrefs_utf16_tab_files_with_their_metrics(formats: Path) -> None:
    parsed, mapping = parse(formats, "ahrefs-backlinks.csv")
    assert (parsed.encoding, parsed.delimiter) == ("utf-16", "\t")
    row = importer.check_rows(parsed, mapping).rows[0]
    assert row.domain == "toolreviews.test"
    assert row.metrics == {"domain_rating": 71.0, "organic_traffic": 48210, "referring_domains": 3120}
    assert row.name == "Dana Ortiz"


def test_it_finds_the_moz_header_after_the_preamble_and_adds_a_scheme(formats: Path) -> None:
    parsed, mapping = parse(formats, "moz-inbound-links.csv")
    assert parsed.header_line == 6
    row = importer.check_rows(parsed, mapping).rows[0]
    assert (row.line, row.url, row.metrics) == (7, "https://www.toolreviews.test/best-widget-tools/",
                                                 {"domain_authority": 68.0, "spam_score": 1.0,
                                                  "referring_domains": 3120})


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
    assert [r.domain for r in plan.rows] == ["good.test", "bad-mail.test"]
    assert plan.rows[0].metrics == {"domain_rating": 50.0, "organic_traffic": 1240}
    reasons = {e.line: e.reason for e in plan.errors}
    assert reasons[3].startswith("bad URL: 'ftp://files.test/x' is not an http(s) URL")
    kept = plan.rows[1]  # a bad email keeps its site: the row is imported without a contact
    assert (kept.line, kept.email) == (4, None) and 4 not in reasons
    assert kept.warnings == ["bad email, imported without a contact: not-an-address is not a valid address: "
                             "An email address must have an @-sign."]
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
    assert texts == ["Added new.test (import of list.csv, line 2)"]


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


@pytest.mark.parametrize("small_tables", [True, False])
def test_a_large_file_finds_every_conflict_whichever_way_it_looks(db: Session, make_campaign: Any,
                                                                  make_prospect: Any, small_tables: bool) -> None:
    """Tables smaller than the file are read whole; larger ones are asked 900 values at a time."""
    campaign, other = make_campaign(name="Here"), make_campaign(name="Elsewhere")
    make_prospect(campaign, "https://site5.test/")
    make_prospect(other, "https://site7.test/")
    contact_rules.add_suppression(db, "site9.test", reason="bounced")
    contact_rules.add_suppression(db, "jane11@site11.test")
    rows = 1000 if small_tables else 950
    if not small_tables:  # more sites and suppressions than the file has rows
        db.execute(insert(Site), [{"domain": f"filler{i}.test"} for i in range(rows * 4)])
        db.execute(insert(Suppression), [{"kind": "email", "value": f"x{i}@filler.test"} for i in range(rows * 4)])
    db.flush()
    lines = ["URL,Email"] + [f"https://site{i}.test/,jane{i}@site{i}.test" for i in range(rows)]
    parsed = importer.parse_csv("\n".join(lines).encode())
    plan = importer.plan_import(db, campaign, parsed, importer.guess_mapping(parsed.headers))
    assert [(e.line, e.reason) for e in plan.errors] == [
        (7, "duplicate in campaign: site5.test is already on this board")]
    assert {r.domain: r.conflicts for r in plan.conflicted} == {
        "site7.test": ["site7.test is already in campaign “Elsewhere” (stage new)"],
        "site9.test": ["site9.test bounced"],
        "site11.test": ["jane11@site11.test is on the do-not-contact list"]}


@pytest.mark.parametrize("url", [
    "https://www.a.com/x", "a.com", "www.A.COM/path?q=1#f", "https://a.com.", "https://a..com/", "https://.a.com",
    "https://1.2.3.4/", "https://-a-.com/", "https://a.co.uk/", "http://x.github.io/p", "a", "HTTPS://b.example/",
    "https://a.b.c.d.e.example/", "https://a.com:8080/", "https://user@a.com/", "a.com/ x", "mailto:x@a.com",
    "//cdn.a.com/x", "https://[::1]/", "ftp://a.com/"])
def test_a_rows_site_is_what_the_url_helpers_say(url: str) -> None:
    """Plain URLs skip the full parse; the answer (or the refusal) must be the same."""
    plan = importer.check_rows(importer.parse_csv(f"URL\n{url}\n".encode()), ["url"])
    try:
        absolute = ensure_http_url(url)
        expected: Any = (absolute, registrable_domain(absolute))
    except BadURL:
        expected = None
    assert ((plan.rows[0].url, plan.rows[0].domain) if plan.rows else None) == expected
