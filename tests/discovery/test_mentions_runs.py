"""Assets and mention runs in a campaign: unlinked mentions become opportunities."""
from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.discovery.prospecting import service as prospecting
from outreach.models import Campaign, Client, Opportunity
from outreach.models.prospecting import Asset, ProspectingRun
from tests.discovery.images import chart, copies, encode
from tests.discovery.test_guest_posts_runs import run_queued
from tests.lib.testweb import TestWeb


@pytest.fixture
def web() -> Iterator[TestWeb]:
    server = TestWeb("127.0.0.39")
    yield server
    server.close()


def test_a_mention_run_stores_only_unlinked_mentions(app: Flask, db: Session, make_campaign: Callable[..., Campaign],
                                                     web: TestWeb) -> None:
    campaign = make_campaign()
    client = campaign.client
    original = chart(5)
    image = prospecting.create_image_asset(db, client, name="Widget chart", target_url="https://acme.test/chart",
                                           data=encode(original))
    brand = prospecting.create_brand_asset(db, client, name="", brand_names="Acme Widgets, AcmeCo",
                                           target_url="https://acme.test/")
    db.commit()
    web.page("/img/copy.jpg", copies(original)["q35.jpg"], content_type="image/jpeg")
    web.page("/", '<html><body><a href="/a">a</a><a href="/b">b</a><img src="/img/copy.jpg"></body></html>')
    web.page("/a", "<html><body><p>We love Acme Widgets.</p></body></html>")
    web.page("/b", '<html><body><p>AcmeCo, <a href="https://acme.test/">their site</a>.</p></body></html>')
    run = prospecting.start_run(db, campaign, "mentions", [web.url("/")], max_pages=10,
                                options={"asset_ids": [image.id, brand.id], "target": "https://acme.test/"})
    db.commit()
    assert run_queued(app)
    db.expire_all()
    run = db.get(ProspectingRun, run.id)
    assert run.status == "done" and run.found == 3 and run.results["opportunities"] == 2
    got = {(o.kind, o.page_url): o.details for o in db.scalars(select(Opportunity))}
    assert set(got) == {("image_mention", web.url("/")), ("brand_mention", web.url("/a"))}
    assert got[("image_mention", web.url("/"))]["evidence"] == web.url("/img/copy.jpg")
    assert got[("brand_mention", web.url("/a"))]["evidence"] == "We love Acme Widgets."


def test_assets_refuse_bad_input(db: Session, make_client: Callable[..., Client]) -> None:
    client = make_client()
    with pytest.raises(prospecting.ProspectingError, match="not a readable image"):
        prospecting.create_image_asset(db, client, name="x", target_url="https://acme.test/", data=b"<html>")
    with pytest.raises(prospecting.ProspectingError, match="upload the infographic or give its URL"):
        prospecting.create_image_asset(db, client, name="x", target_url="https://acme.test/", data=None)
    with pytest.raises(prospecting.ProspectingError, match="target URL"):
        prospecting.create_brand_asset(db, client, name="x", brand_names="Acme", target_url="ftp://x")
    with pytest.raises(prospecting.ProspectingError, match="at least one brand name"):
        prospecting.create_brand_asset(db, client, name="x", brand_names=" , ", target_url="https://acme.test/")
    db.rollback()
    assert db.scalars(select(Asset)).all() == []


def test_a_mention_run_needs_the_clients_own_assets(db: Session, make_campaign: Callable[..., Campaign],
                                                    make_client: Callable[..., Client]) -> None:
    campaign = make_campaign()
    foreign = prospecting.create_brand_asset(db, make_client(), name="", brand_names="Other",
                                             target_url="https://other.test/")
    db.commit()
    with pytest.raises(prospecting.ProspectingError, match="this client's assets"):
        prospecting.start_run(db, campaign, "mentions", ["https://a.test/"], max_pages=5,
                              options={"asset_ids": [foreign.id]})
