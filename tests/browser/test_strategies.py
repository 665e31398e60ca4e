"""Each strategy from discovery to the client report, in headless Chromium on the demo's sample web.

discovery → the prospect with its opportunity on its page → a contact with a name → the templated email in
the local outbox, carrying the opportunity → promised with agreed terms → the publisher places the link →
live → the client report (web, CSV, PDF text) lists it. The scheduler's ticks are run by the test, in
process, where `outreach run` would run them on their own.
"""
from __future__ import annotations

import csv
import io
import subprocess
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.contacts.validation import VOUCHED, vouch_for
from outreach.crawler.jobs import run_crawl_jobs
from outreach.demo.data import MAIL_DOMAINS, DemoData, ensure_demo_data
from outreach.demo.web import PLACED_ANCHOR, PLACED_PAGES, SampleWeb, start_sample_web
from outreach.discovery.prospecting.jobs import run_prospecting
from outreach.jobs.ticks import JobContext
from outreach.mail.jobs import send_due
from outreach.models import Prospect, Site
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FIRST_OCTET = 141  # the sample web on 127.0.0.141-146, away from a running demo and the demo tests


@pytest.fixture
def sample() -> Iterator[SampleWeb]:
    web = start_sample_web(0, first_octet=FIRST_OCTET)
    before = dict(VOUCHED)
    vouch_for(MAIL_DOMAINS, "the tests' sample web")  # as `outreach demo` does: no DNS knows these domains
    yield web
    VOUCHED.clear()
    VOUCHED.update(before)
    web.close()


@pytest.fixture
def demo(db: Session, sample: SampleWeb) -> DemoData:
    data = ensure_demo_data(db, sample)
    db.commit()
    return data


@pytest.fixture
def ctx(app: Flask) -> JobContext:
    state = app.extensions["outreach"]
    return JobContext(settings=state.settings, sessionmaker=state.sessionmaker, secret_box=state.secret_box)


def log_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".usermenu")).to_be_visible()


def prospect_of(db: Session, campaign_id: int, host: str) -> Prospect:
    db.rollback()  # a new read: the browser's requests committed since
    domain = host.split(":")[0]
    prospect = db.scalar(select(Prospect).join(Site).where(Prospect.campaign_id == campaign_id,
                                                           Site.domain == domain))
    assert prospect is not None, f"no prospect for {domain}"
    return prospect


def find_contact(page: Page, name: str, email: str) -> None:
    """One click on the prospect page: the site's pages are read and the named address becomes the contact."""
    page.get_by_test_id("find-contacts").click()
    expect(page.get_by_test_id("contacts-found")).to_contain_text(email)
    expect(page.get_by_test_id("contacts-found")).to_contain_text(name)
    if not page.locator("dl.dl").first.get_by_text(email).count():
        row = page.get_by_test_id("site-contacts").locator("tr", has_text=email)
        row.get_by_role("button", name="Use").click()
    expect(page.locator("dl.dl").first).to_contain_text(f"{name} <{email}>")


def enrol_and_send(page: Page, ctx: JobContext) -> None:
    page.get_by_test_id("outreach").get_by_role("button", name="Enrol in").click()
    expect(page.get_by_test_id("outreach")).to_contain_text("active")
    assert send_due(ctx) == 1


def outbox_email(page: Page, base: str, to: str) -> str:
    """The email's text as Mail → Local outbox shows it."""
    page.goto(f"{base}/mail/outbox")
    page.locator("tr", has_text=to).get_by_role("link").first.click()
    return page.get_by_test_id("body").inner_text()


def promise_and_go_live(page: Page, base: str, ctx: JobContext, sample: SampleWeb, site: str,
                        prospect_id: int) -> None:
    """Promised with agreed terms; the publisher places the link; a check finds it live on those terms."""
    page.goto(f"{base}/prospects/{prospect_id}")
    page.select_option("#stage", "promised")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(page.get_by_test_id("stage")).to_have_text("Promised")
    links = page.get_by_test_id("prospect-links")
    if links.locator("[data-backlink]").count() == 0:
        page.get_by_test_id("add-backlink").click()
        page.get_by_role("button", name="Add").first.click()
        page.goto(f"{base}/prospects/{prospect_id}")
    links.locator("[data-backlink] a.url").first.click()
    page.fill("#page_url", sample.url(site, PLACED_PAGES[site]))
    page.fill("#target_url", sample.url("client", "/guides/composting"))
    page.fill("#agreed_anchor", PLACED_ANCHOR)
    page.select_option("#agreed_rel", "follow")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_be_visible()
    urllib.request.urlopen(sample.url(site, "/_demo/place"), data=b"on=1", timeout=5).close()  # the publisher
    page.get_by_role("button", name="Check now").click()  # checked in the request; alerts go after the commit
    expect(page.locator(".flash").first).to_contain_text("Live")
    page.goto(f"{base}/prospects/{prospect_id}")
    expect(page.get_by_test_id("stage")).to_have_text("Live")
    expect(page.get_by_test_id("link-status").first).to_have_text("Live")


def report_lists(page: Page, base: str, client_id: int, page_url: str) -> None:
    """The client report lists the link: the web page, the CSV and the PDF's text."""
    page.goto(f"{base}/reports/clients/{client_id}")
    expect(page.locator("main")).to_contain_text(page_url)
    exported = page.request.get(f"{base}/reports/clients/{client_id}/report.csv")  # the browser's own session
    assert exported.ok, exported.status
    rows = list(csv.DictReader(io.StringIO(exported.text().lstrip("\ufeff"))))
    assert any(page_url in row.values() and "live" in " ".join(row.values()).lower() for row in rows), rows
    pdf = page.request.get(f"{base}/reports/clients/{client_id}/report.pdf", timeout=60000).body()
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert page_url.split("://", 1)[1][:40] in "".join(text.split()), text[:2000]


def test_broken_link_building_from_the_crawl_to_the_client_report(
        app: Flask, db: Session, live_server: str, page: Page, team: dict[str, Any], sample: SampleWeb,
        demo: DemoData, ctx: JobContext) -> None:
    base, campaign_id = live_server, demo.campaign_ids["broken_links"]
    log_in(page, base, team["owner"].email)
    # discovery: crawl the resource pages; the dead URLs are grouped with the pages linking to them
    page.goto(f"{base}/campaigns/{campaign_id}/broken-links")
    page.fill("textarea[name=seeds]", sample.url("resources", "/resources"))
    page.fill("input[name=max_pages]", "20")
    page.get_by_role("button", name="Start crawl").click()
    assert run_crawl_jobs(ctx) == 1
    page.reload()
    expect(page.get_by_test_id("findings-table")).to_be_visible()
    for box in page.locator("input[name=finding]").all():
        box.check()
    page.get_by_test_id("add-prospects").click()
    expect(page.locator(".flash-success")).to_contain_text("Added")
    # the prospect page shows every dead link of the site with its anchor and the linking page
    prospect = prospect_of(db, campaign_id, sample.addresses["resources"])
    page.goto(f"{base}/prospects/{prospect.id}")
    dead = page.get_by_test_id("dead-links")
    dead_url = sample.url("dead", "/old-composting-guide")
    expect(dead).to_contain_text(dead_url)
    expect(dead).to_contain_text("The beginner's composting guide")
    expect(dead).to_contain_text(sample.url("dead", "/retired-soil-calculator"))
    expect(dead).to_contain_text("http://seed-catalogue.invalid/")
    # contact: one click reads the site; the editor's name is beside her address on the contact page
    find_contact(page, "Maria Lopez", "maria@gardentoolsweekly.test")
    # the templated email names the dead link, its anchor and the page it is on
    enrol_and_send(page, ctx)
    email = outbox_email(page, base, "maria@gardentoolsweekly.test")
    assert f"links to {dead_url} (\"The beginner's composting guide\")" in email, email
    assert sample.url("dead", "/retired-soil-calculator") in email and "Hi Maria" in email
    # promised → placed by the publisher in place of the dead link → live → report
    promise_and_go_live(page, base, ctx, sample, "resources", prospect.id)
    report_lists(page, base, demo.client_id, sample.url("resources", PLACED_PAGES["resources"]))


def prospecting_run(page: Page, base: str, ctx: JobContext, campaign_id: int, kind: str, seed: str,
                    assets: list[str] | None = None) -> None:
    """Start a guest-post or mention run on the Prospecting tab, let the worker run it, add what it found."""
    page.goto(f"{base}/campaigns/{campaign_id}/prospecting")
    page.select_option("#kind", kind)
    page.fill("#seeds", seed)
    page.fill("#max_pages", "10")
    if assets:
        page.select_option("#asset_ids", label=assets)
    page.get_by_role("button", name="Start", exact=True).click()
    expect(page.locator("main")).to_contain_text("queued")
    assert run_prospecting(ctx) == 1
    page.goto(f"{base}/campaigns/{campaign_id}/prospecting")
    boxes = page.locator("input[name=opportunity]")
    expect(boxes.first).to_be_visible()
    for box in boxes.all():
        box.check()
    page.get_by_role("button", name="Add selected as prospects").click()
    expect(page.locator(".flash-success")).to_be_visible()


def test_guest_posting_from_the_write_for_us_page_to_the_client_report(
        app: Flask, db: Session, live_server: str, page: Page, team: dict[str, Any], sample: SampleWeb,
        demo: DemoData, ctx: JobContext) -> None:
    base, campaign_id = live_server, demo.campaign_ids["guest_posts"]
    log_in(page, base, team["owner"].email)
    prospecting_run(page, base, ctx, campaign_id, "guest_posts", sample.url("magazine"))
    prospect = prospect_of(db, campaign_id, sample.addresses["magazine"])
    page.goto(f"{base}/prospects/{prospect.id}")
    guidelines = sample.url("magazine", "/write-for-us")
    expect(page.get_by_test_id("guest-post")).to_contain_text(guidelines)
    expect(page.get_by_test_id("guest-post")).to_contain_text("pitches@greenthumbmag.test")
    find_contact(page, "Sarah Kim", "sarah@greenthumbmag.test")
    enrol_and_send(page, ctx)
    email = outbox_email(page, base, "sarah@greenthumbmag.test")
    assert f"I read your guidelines ({guidelines})" in email and "Hi Sarah" in email, email
    promise_and_go_live(page, base, ctx, sample, "magazine", prospect.id)
    report_lists(page, base, demo.client_id, sample.url("magazine", PLACED_PAGES["magazine"]))


def test_unlinked_mentions_from_the_image_and_the_brand_to_the_client_report(
        app: Flask, db: Session, live_server: str, page: Page, team: dict[str, Any], sample: SampleWeb,
        demo: DemoData, ctx: JobContext) -> None:
    base, campaign_id = live_server, demo.campaign_ids["mentions"]
    log_in(page, base, team["owner"].email)
    prospecting_run(page, base, ctx, campaign_id, "mentions", sample.url("news"),
                    assets=["Compost and soil infographic (image)", "Acme Garden Co (brand)"])
    prospect = prospect_of(db, campaign_id, sample.addresses["news"])
    page.goto(f"{base}/prospects/{prospect.id}")
    image = sample.url("news", "/uploads/soil-chart.png")
    mentions = page.get_by_test_id("mention")
    expect(mentions.filter(has_text=image)).to_have_count(1)
    expect(mentions.filter(has_text="the compost tumbler from Acme Garden Co")).to_have_count(1)
    find_contact(page, "Lee Park", "lee@backyardnews.test")
    enrol_and_send(page, ctx)
    email = outbox_email(page, base, "lee@backyardnews.test")
    assert f"using our infographic ({image}) on {sample.url('news', '/2026/soil-study')}" in email, email
    promise_and_go_live(page, base, ctx, sample, "news", prospect.id)
    report_lists(page, base, demo.client_id, sample.url("news", PLACED_PAGES["news"]))
