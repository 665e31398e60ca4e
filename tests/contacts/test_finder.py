"""Finding a site's contacts over a real test web, checking them against a real DNS server, and the CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from outreach.config import DnsSettings
from outreach.contacts.finder import SiteContacts, find_contacts, link_rank
from outreach.contacts.validation import AddressChecker
from outreach.lib.aio import run_sync
from outreach.lib.http import Fetcher
from tests.contacts.conftest import build_linked_site, make_settings
from tests.contacts.dnsserver import DNSServer
from tests.lib.testweb import TestWeb, send


def build_site(web: TestWeb) -> None:
    web.page("/robots.txt", "User-agent: *\nDisallow: /private\n", content_type="text/plain")
    web.page("/blog/post", '<html><head><meta name="author" content="Tom Baker"></head><body>'
             '<p>A post.</p><a href="/about-us">About us</a><a href="/team">Our team</a>'
             '<a href="/private/staff">Staff</a><img src="/img/logo@2x.png"></body></html>')
    web.page("/about-us", '<html><body><p>Founded 2010. Write to editor [at] site [dot] test.</p>'
             '<a href="mailto:ann.lee@site.test">Ann Lee</a></body></html>')
    web.page("/team", "<html><body><p>Questions about our host? support@bighost.test. "
             "Placeholder: you@example.com</p></body></html>")
    web.page("/contact", '<html><body><a href="mailto:hello@site.test">hello@site.test</a>'
             '<p>jobs@nomx.test</p></body></html>')
    web.page("/private/staff", "<html><body>secret@site.test</body></html>")


def run_finder(web: TestWeb, checker: AddressChecker | None, **kwargs: object) -> SiteContacts:
    return run_finder_from(web, "/blog/post", checker, **kwargs)


def run_finder_from(web: TestWeb, path: str, checker: AddressChecker | None = None, **kwargs: object) -> SiteContacts:
    async def go() -> list[SiteContacts]:
        async with Fetcher(make_settings()) as fetcher:
            return await find_contacts(fetcher, [web.url(path)], checker, **kwargs)  # type: ignore[arg-type]
    return run_sync(go())[0]


def test_it_finds_the_sites_addresses_on_its_contact_pages(web: TestWeb) -> None:
    build_site(web)
    found = run_finder(web, None, site_domain="site.test", allow_domains=["nomx.test"])
    assert {a.email: a.found_on for a in found.addresses} == {
        "editor@site.test": web.url("/about-us"), "ann.lee@site.test": web.url("/about-us"),
        "hello@site.test": web.url("/contact"), "jobs@nomx.test": web.url("/contact")}
    assert web.hits["/private/staff"] == 0  # robots.txt
    assert dict(found.ignored)["support@bighost.test"] == "on another domain than site.test"
    assert "logo@2x.png" not in {a.email for a in found.addresses}


def test_it_follows_the_contact_page_the_home_page_links_and_one_level_below_it(web: TestWeb) -> None:
    build_linked_site(web)
    found = run_finder(web, None, site_domain="site.test")
    assert {a.email: (a.name, a.found_on) for a in found.addresses} == {
        "tom@site.test": ("Tom Baker", web.url("/de/kontakt")),
        "jane@site.test": ("Jane Doe", web.url("/de/redaktion"))}
    assert found.pages_fetched[:4] == [web.url(p) for p in ("/blog/post", "/", "/de/kontakt", "/de/redaktion")]
    # not a contact page, and two levels below: not read
    assert web.hits["/blog/all-about-widgets"] == web.hits["/shop"] == web.hits["/de/redaktion/max-muster"] == 0
    assert web.hits["/contact"] == 0  # a contact page was linked: the usual path is not tried


def test_below_a_team_page_it_reads_the_profiles_it_links_not_the_rest_of_the_site(web: TestWeb) -> None:
    web.page("/", '<html><body><a href="/team">Team</a></body></html>')
    web.page("/team", '<html><body><a href="/people/anna">Anna Schmidt</a><a href="/team/bo">Bo</a>'
                      '<a href="/pricing">Pricing</a><a href="/blog">Read Our Blog</a></body></html>')
    web.page("/people/anna", '<html><body><a href="mailto:anna@site.test">Anna Schmidt</a></body></html>')
    web.page("/team/bo", "<html><body><p>Bo Berg: bo@site.test</p></body></html>")
    found = run_finder_from(web, "/", site_domain="site.test")
    assert {a.email: a.name for a in found.addresses} == {"anna@site.test": "Anna Schmidt",
                                                         "bo@site.test": "Bo Berg"}
    assert web.hits["/pricing"] == web.hits["/blog"] == 0


def test_the_page_limit_bounds_the_walk(web: TestWeb) -> None:
    build_linked_site(web)
    found = run_finder(web, None, site_domain="site.test", max_pages=3)
    assert found.pages_fetched == [web.url(p) for p in ("/blog/post", "/", "/de/kontakt")]
    assert web.hits["/de/redaktion"] == 0 and [a.email for a in found.addresses] == ["tom@site.test"]


def test_a_time_limit_drops_the_pages_that_did_not_answer_in_time(web: TestWeb) -> None:
    build_linked_site(web)
    release = threading.Event()

    def slow(req: Any) -> None:
        release.wait(10)
        send(req, 200, "<html><body>late@site.test</body></html>")
    web.routes["/de/kontakt"] = slow
    try:
        found = run_finder(web, None, site_domain="site.test", time_limit=1.5)
    finally:
        release.set()
    assert found.stopped_early and web.url("/de/kontakt") not in found.pages_fetched
    assert found.addresses == [] and web.hits["/de/redaktion"] == 0


def test_named_authors_get_guesses_in_the_sites_pattern_marked_as_guessed(web: TestWeb) -> None:
    build_site(web)
    found = run_finder(web, None, site_domain="site.test")
    assert [(g.email, g.basis) for g in found.guesses] == [("tom.baker@site.test", "pattern seen on this site")]
    assert "tom.baker@site.test" not in {a.email for a in found.addresses}


def test_found_addresses_are_checked_against_dns(web: TestWeb, dns_server: DNSServer) -> None:
    build_site(web)
    checker = AddressChecker(DnsSettings(nameservers=("127.0.0.1",), port=dns_server.port, timeout=1.0,
                                         cache_seconds=60))
    found = run_finder(web, checker, site_domain="site.test", allow_domains=["nomx.test"])
    assert {e: (v.status, v.is_role) for e, v in found.verdicts.items()} == {
        "editor@site.test": ("valid", True), "ann.lee@site.test": ("valid", False),
        "hello@site.test": ("valid", True), "jobs@nomx.test": ("invalid", True)}
    assert dns_server.queries.count(("site.test.", "MX")) == 1  # cached


def test_an_unreachable_page_is_an_error_not_a_crash() -> None:
    async def go() -> list[SiteContacts]:
        async with Fetcher(make_settings(timeout=1.0)) as fetcher:
            return await find_contacts(fetcher, ["http://127.0.0.22:9/"], None)
    (found,) = run_sync(go())
    assert found.error == "refused" and found.addresses == []


def test_the_cli_prints_the_contract_json(web: TestWeb, dns_server: DNSServer, tmp_path: Path) -> None:
    build_site(web)
    config = tmp_path / "c.toml"
    config.write_text(f'[crawl]\nallow_private_addresses = true\nper_host_delay = 0\ntimeout = 3\n\n'
                      f'[dns]\nnameservers = ["127.0.0.1"]\nport = {dns_server.port}\ntimeout = 1\n')
    env = {**os.environ, "OUTREACH_CONFIG": str(config)}
    run = subprocess.run([sys.executable, "-m", "outreach.cli", "contacts", "find", web.url("/contact"), "--json"],
                         capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    rows = {r["email"]: r for r in json.loads(run.stdout)["contacts"]}
    # an IP-address host has no registrable domain, so every real address on it counts
    assert rows["hello@site.test"]["status"] == "valid"
    assert rows["hello@site.test"]["found_on"] == web.url("/contact")
    assert rows["jobs@nomx.test"]["status"] == "invalid"
    assert "no MX, A or AAAA" in rows["jobs@nomx.test"]["reason"]


def test_the_cli_refuses_a_non_http_url_with_one_line(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "outreach.cli", "contacts", "find", "ftp://x.test/", "--json"],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path,
                         env={k: v for k, v in os.environ.items() if k != "OUTREACH_CONFIG"})
    assert run.returncode == 2
    assert run.stderr.startswith("outreach: ") and run.stderr.count("\n") == 1


def test_the_cli_stores_contacts_for_a_campaign(web: TestWeb, dns_server: DNSServer, tmp_path: Path) -> None:
    from sqlalchemy import create_engine, text

    build_site(web)
    db_url = f"sqlite:///{tmp_path / 'c.db'}"
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n\n[crawl]\nallow_private_addresses = true\nper_host_delay = 0\n\n'
                      f'[dns]\nnameservers = ["127.0.0.1"]\nport = {dns_server.port}\ntimeout = 1\n')
    env = {**os.environ, "OUTREACH_CONFIG": str(config)}

    def outreach(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "outreach.cli", *args], capture_output=True, text=True, env=env,
                              timeout=60, cwd=tmp_path)

    assert outreach("db", "upgrade").returncode == 0
    refused = outreach("contacts", "find", web.url("/contact"), "--campaign", "7")
    assert refused.returncode == 2 and refused.stderr == "outreach: campaign 7 does not exist\n"
    assert web.hits["/contact"] == 0  # checked before fetching anything
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO clients (name, website, report_emails, notes, created_at) "
                          "VALUES ('A', '', '', '', '2026-01-01 00:00:00+00')"))
        conn.execute(text("INSERT INTO campaigns (client_id, name, kind, status, target_urls, keywords, created_at) "
                          "VALUES (1, 'C', 'custom', 'active', '', '', '2026-01-01 00:00:00+00')"))
    run = outreach("contacts", "find", web.url("/contact"), "--campaign", "1", "--json")
    assert run.returncode == 0, run.stderr
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT email, status FROM contacts")).all())
    engine.dispose()
    assert rows == {"hello@site.test": "valid", "jobs@nomx.test": "invalid"}


@pytest.mark.parametrize(("href", "anchor", "rank"), [
    ("https://s.test/contact-us", "", 0), ("https://s.test/x", "Get in touch", 0),
    ("https://s.test/de/kontakt.html", "", 0), ("https://s.test/es/contacto/", "", 0),
    ("https://s.test/p/12", "Contactez-nous", 0), ("https://s.test/write-for-us", "", 1),
    ("https://s.test/team/", "", 1), ("https://s.test/impressum", "", 1), ("https://s.test/x", "Über uns", 2),
    ("https://s.test/about", "", 2), ("https://s.test/chi-siamo", "", 2),
    # posts and pages that only mention the words
    ("https://s.test/blog/all-about-widgets", "All about widgets", None), ("https://s.test/steam-deals", "", None),
    ("https://s.test/blog/how-to-contact-a-blogger-and-get-a-reply", "", None), ("https://s.test/shop", "Shop", None),
])
def test_contact_pages_are_known_by_their_links_words_in_several_languages(href: str, anchor: str,
                                                                          rank: int | None) -> None:
    assert link_rank(href, anchor) == rank
