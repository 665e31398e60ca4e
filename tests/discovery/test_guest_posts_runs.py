"""Guest-post runs in a campaign: queued, claimed once, run with progress, stored as opportunities."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.campaigns.service import add_prospect
from outreach.discovery.prospecting import service as prospecting
from outreach.jobs.ticks import JobContext
from outreach.models import Activity, Campaign, Contact, Opportunity, Prospect, Suppression
from outreach.models.prospecting import ProspectingRun
from outreach.runs.lifecycle import request_cancel
from tests.conftest import change_settings
from tests.discovery.guest_web import build
from tests.lib.testweb import TestWeb


@pytest.fixture
def webs() -> Iterator[list[TestWeb]]:
    servers = [TestWeb("127.0.0.37"), TestWeb("127.0.0.38")]
    yield servers
    for server in servers:
        server.close()


@pytest.fixture
def site_dns(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The app's resolver is a DNS server on loopback that knows site.test (and nothing else)."""
    from outreach.contacts.validation import CACHE
    from tests.contacts.dnsserver import DNSServer

    CACHE.clear()
    with DNSServer({("site.test", "MX"): ["10 mx.site.test."]}) as server:
        change_settings(app, monkeypatch, dns=
                            {"nameservers": ["127.0.0.1"], "port": server.port, "timeout": 1.0, "cache_seconds": 0})
        yield
    CACHE.clear()


def run_queued(app: Flask) -> bool:
    state = app.extensions["outreach"]
    ctx = JobContext(settings=state.settings, sessionmaker=state.sessionmaker, secret_box=state.secret_box)
    return prospecting.run_one(ctx, progress_every=0.05)


def test_a_run_stores_accepting_sites_as_guest_post_opportunities(
        app: Flask, db: Session, make_campaign: Callable[..., Campaign], webs: list[TestWeb], site_dns: None) -> None:
    good, closed = webs
    build(good)
    build(closed, accepts=False)
    campaign = make_campaign(keywords="widget tools\nwidget repair")
    run = prospecting.start_run(db, campaign, "guest_posts", [good.url("/blog"), closed.url("/"), good.url("/")],
                                max_pages=6)
    db.commit()
    assert run.seeds == [good.url("/blog"), closed.url("/")] and run.options["pages"] == {
        good.url("/blog"): [good.url("/")]}
    assert run_queued(app) is True
    assert run_queued(app) is False  # nothing left: a run is claimed once
    db.expire_all()
    run = db.get(ProspectingRun, run.id)
    assert run.status == "done" and run.sites_done == 2 and run.found == 1 and run.pages_crawled > 2
    assert run.results["rejected"][0]["site"] == closed.base
    (opportunity,) = db.scalars(select(Opportunity)).all()
    assert opportunity.kind == "guest_post" and opportunity.page_url == good.url("/guidelines")
    assert opportunity.details["emails"][0] == "editor@site.test"
    assert opportunity.details["score_parts"]["relevance"] > 0 and opportunity.score > 0
    assert opportunity.details["requirements"]["word_count"] == ["1,200–2,000 words"]
    # the target's addresses are checked and become the site's contacts
    assert opportunity.details["email_checks"]["editor@site.test"]["status"] == "valid"
    contacts = {c.email: c for c in db.scalars(select(Contact))}
    assert contacts["editor@site.test"].status == "valid" and contacts["editor@site.test"].is_role
    assert contacts["editor@site.test"].site_id == opportunity.site_id


def test_running_again_updates_the_opportunity_instead_of_duplicating_it(
        app: Flask, db: Session, make_campaign: Callable[..., Campaign], webs: list[TestWeb], site_dns: None) -> None:
    build(webs[0])
    campaign = make_campaign()
    for _ in range(2):
        prospecting.start_run(db, campaign, "guest_posts", [webs[0].url("/")], max_pages=4)
        db.commit()
        run_queued(app)
    assert len(db.scalars(select(Opportunity)).all()) == 1


@pytest.mark.parametrize(("urls", "max_pages", "message"), [
    ([], 5, "give at least one seed URL"),
    (["https://a.test/"], 0, "pages per site must be between 1 and 500"),
    ([f"https://s{i}.test/" for i in range(201)], 5, "at most 200 URLs per run"),
])
def test_bad_runs_are_refused_and_change_nothing(db: Session, make_campaign: Callable[..., Campaign],
                                                 urls: list[str], max_pages: int, message: str) -> None:
    campaign = make_campaign()
    with pytest.raises(prospecting.ProspectingError, match=message):
        prospecting.start_run(db, campaign, "guest_posts", urls, max_pages=max_pages)
    db.rollback()
    assert db.scalars(select(ProspectingRun)).all() == []


def test_cancelling_a_queued_run_means_it_never_runs(app: Flask, db: Session,
                                                      make_campaign: Callable[..., Campaign]) -> None:
    run = prospecting.start_run(db, make_campaign(), "guest_posts", ["https://a.test/"], max_pages=5)
    request_cancel(db, run)
    db.commit()
    assert run.status == "cancelled" and run_queued(app) is False


def test_chosen_opportunities_become_prospects_and_conflicts_are_shown(
        app: Flask, db: Session, make_campaign: Callable[..., Campaign], webs: list[TestWeb]) -> None:
    build(webs[0])
    build(webs[1])
    campaign = make_campaign()
    other = make_campaign(name="Other")
    add_prospect(db, other, webs[1].url("/"))
    db.add(Suppression(kind="email", value="editor@site.test", reason="unsubscribed"))
    db.commit()
    opportunities = _guest_opportunities(db, campaign, webs)
    result = prospecting.add_as_prospects(db, campaign, [o.id for o in opportunities])
    db.commit()
    assert result.added == [] and set(result.conflicts) == {o.id for o in opportunities}
    assert "unsubscribed" in result.conflicts[opportunities[0].id]
    result = prospecting.add_as_prospects(db, campaign, [opportunities[0].id], override_reason="asked by client")
    db.commit()
    (prospect,) = result.added
    assert prospect.contact.email == "editor@site.test" and prospect.override_reason == "asked by client"
    assert db.get(Opportunity, opportunities[0].id).status == "accepted"
    again = prospecting.add_as_prospects(db, campaign, [opportunities[0].id])
    assert again.errors == {opportunities[0].id: "already a prospect"}
    assert db.scalar(select(Prospect).where(Prospect.campaign_id == campaign.id)) is not None


def test_an_opportunity_on_a_site_already_on_the_board_joins_its_card(
        app: Flask, db: Session, make_campaign: Callable[..., Campaign], webs: list[TestWeb]) -> None:
    campaign = make_campaign()
    card = add_prospect(db, campaign, webs[0].url("/"))
    db.commit()
    opportunities = _guest_opportunities(db, campaign, webs[:1])
    result = prospecting.add_as_prospects(db, campaign, [o.id for o in opportunities])
    db.commit()
    assert result.added == [] and result.conflicts == {} and result.errors == {}
    assert [p.id for p in result.attached] == [card.id]
    opportunity = db.get(Opportunity, opportunities[0].id)
    assert (opportunity.prospect_id, opportunity.status) == (card.id, "accepted")
    entry = db.scalar(select(Activity).where(Activity.prospect_id == card.id, Activity.kind == "opportunity"))
    assert entry is not None and entry.text == f"Guest post opportunity: {webs[0].url('/guidelines')}"


def _guest_opportunities(db: Session, campaign: Campaign, webs: list[TestWeb]) -> list[Opportunity]:
    from outreach.discovery.guest_posts.service import GuestPostTarget, GuidelinesVerdict

    targets = [GuestPostTarget(site=w.base, page=w.url("/guidelines"), verdict=GuidelinesVerdict(True, True),
                               emails=["editor@site.test"], score=50.0) for w in webs]
    made = prospecting.add_guest_post_opportunities(db, campaign, targets)
    db.commit()
    return made


def test_pasted_lists_and_csv_exports_become_urls() -> None:
    urls, problems = prospecting.parse_url_list("https://a.test/x\nb.test\n\nnot a url\nftp://c.test/\n")
    assert urls == ["https://a.test/x", "https://b.test/"]
    assert problems == ["row 4: no URL in it", "row 5: 'ftp://c.test/' is not an http(s) URL"]
    csv_text = "position,title,link,snippet\n1,A,https://a.test/p,x\n2,B,https://b.test/q,y\n3,C,,z\n"
    urls, problems = prospecting.parse_url_list(csv_text)
    assert urls == ["https://a.test/p", "https://b.test/q"] and problems == ["row 4: no URL in it"]


def test_a_sitemap_index_with_gzip_expands_to_page_urls(webs: list[TestWeb]) -> None:
    import gzip

    from outreach.lib.aio import run_sync
    from outreach.lib.http import Fetcher
    from tests.lib.conftest import make_settings

    web = webs[0]
    web.page("/sitemap.xml", f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             f'<sitemap><loc>{web.url("/posts.xml.gz")}</loc></sitemap></sitemapindex>', content_type="text/xml")
    body = (f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{web.url("/a")}</loc></url>'
            f'<url><loc>{web.url("/b")}</loc></url></urlset>').encode()
    web.page("/posts.xml.gz", gzip.compress(body), content_type="application/gzip")

    async def go() -> Any:
        async with Fetcher(make_settings()) as fetcher:
            return await prospecting.expand_sitemap(fetcher, web.url("/sitemap.xml"))
    assert run_sync(go()) == [web.url("/a"), web.url("/b")]
