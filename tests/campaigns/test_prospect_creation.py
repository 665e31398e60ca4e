"""One way to create a prospect: by hand (web form, API), by import and from discovery findings, a new
prospect has the same shape: the same fields set, the same timeline ("Added <domain> (<source>)", then the
override), its contact linked to the site and found on the page, metrics applied the same way, and its
card at the bottom of the "new" column in the order added."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.campaigns.contact_rules import add_suppression
from outreach.campaigns.imports import service as importer
from outreach.campaigns.metrics import SITE_METRICS
from outreach.campaigns.service import add_prospect, site_for
from outreach.crawler.service import start_crawl
from outreach.discovery.broken_links.store import add_findings_as_prospects
from outreach.discovery.prospecting import service as prospecting
from outreach.models import Activity, Campaign, Contact, Opportunity, Prospect, Site
from outreach.models.crawl import CrawlFinding

Maker = Callable[..., Prospect]


def by_hand(db: Session, campaign: Campaign, domain: str, reason: str, *, email: str | None = None,
            name: str = "", metrics: dict[str, Any] | None = None) -> Prospect:
    return add_prospect(db, campaign, f"https://{domain}/links", email=email, contact_name=name, metrics=metrics,
                        override_reason=reason or None)


def by_import(db: Session, campaign: Campaign, domain: str, reason: str, *, email: str | None = None,
              name: str = "", metrics: dict[str, Any] | None = None) -> Prospect:
    metrics = metrics or {}
    header = ["URL", "Email", "Name", *metrics]
    cells = [f"https://{domain}/links", email or "", name, *(str(v) for v in metrics.values())]
    parsed = importer.parse_csv(f"{','.join(header)}\n{','.join(cells)}\n".encode())
    plan = importer.plan_import(db, campaign, parsed, ["url", "email", "name", *metrics])
    result = importer.import_rows(db, campaign, plan, override_reason=reason, source="list.csv")
    assert result.imported == 1, result.errors
    return _card(db, campaign, domain)


def from_guest_post(db: Session, campaign: Campaign, domain: str, reason: str, *, email: str | None = None) -> Prospect:
    page = f"https://{domain}/links"
    opportunity = Opportunity(campaign_id=campaign.id, site_id=site_for(db, page).id, page_url=page, kind="guest_post",
                              details={"emails": [email] if email else []}, score=1.0, status="new")
    db.add(opportunity)
    db.flush()
    result = prospecting.add_as_prospects(db, campaign, [opportunity.id], override_reason=reason)
    assert len(result.added) == 1, (result.conflicts, result.errors)
    return _card(db, campaign, domain)


def from_broken_link(db: Session, campaign: Campaign, domain: str, reason: str) -> Prospect:
    job = start_crawl(db, ["https://resources.example/"], max_pages=5, campaign=campaign)
    finding = CrawlFinding(crawl_job_id=job.id, url="https://gone.example/tool", reason="http_404", http_status=404,
                           found_on=[{"page": f"https://{domain}/links", "anchor": "Tool"}], page_count=1)
    db.add(finding)
    db.flush()
    outcome = add_findings_as_prospects(db, campaign, [finding], override_reason=reason or None)
    assert outcome.added == [domain], outcome.conflicts
    return _card(db, campaign, domain)


#: each way, and what it can bring besides the page (by hand, everything)
PATHS: dict[str, tuple[Maker, tuple[str, ...]]] = {
    "import": (by_import, ("email", "name", "metrics")),
    "guest_post_finding": (from_guest_post, ("email",)),
    "broken_link_finding": (from_broken_link, ()),
}
GIVEN: dict[str, Any] = {"email": "ed@{domain}", "name": "Ed Ito",
                         "metrics": {"domain_rating": 40, "organic_traffic": 1200}}


def _card(db: Session, campaign: Campaign, domain: str) -> Prospect:
    prospect = db.scalar(select(Prospect).join(Site, Site.id == Prospect.site_id)
                         .where(Prospect.campaign_id == campaign.id, Site.domain == domain))
    assert prospect is not None
    return prospect


def _is_set(value: Any) -> bool:
    return value not in (None, "", [], {})


def shape(db: Session, prospect_id: int) -> dict[str, Any]:
    """What a new prospect looks like, with its domain and the way it came masked."""
    db.expire_all()
    prospect = db.get(Prospect, prospect_id)
    assert prospect is not None
    domain = prospect.site.domain

    def mask(text: str) -> str:
        return text.replace(domain, "<domain>")

    timeline = []
    for entry in db.scalars(select(Activity).where(Activity.prospect_id == prospect.id).order_by(Activity.id)):
        text = re.sub(r"^Added (\S+) \((.+)\)$", r"Added \1 (<source>)", entry.text) if entry.kind == "created" \
            else entry.text
        timeline.append((entry.kind, mask(text), sorted(set(entry.details) - {"line"}), entry.user_id))
    contact = prospect.contact
    return {
        "fields": sorted(c.key for c in Prospect.__table__.columns if _is_set(getattr(prospect, c.key))),
        "stage": prospect.stage,
        "timeline": timeline,
        "override": (prospect.override_reason, [mask(k) for k in prospect.overridden]),
        "site_metrics": {m.name: (getattr(prospect.site, m.name), type(getattr(prospect.site, m.name)).__name__)
                         for m in SITE_METRICS},
        "contact": None if contact is None else {
            "email": mask(contact.email), "name": contact.name, "on_site": contact.site_id == prospect.site_id,
            "found_on_page": contact.found_on == prospect.page_url,
            "fields": sorted(c.key for c in Contact.__table__.columns if _is_set(getattr(contact, c.key)))},
    }


@pytest.mark.parametrize("conflicted", [False, True], ids=["clean", "overridden"])
@pytest.mark.parametrize("path", list(PATHS))
def test_every_way_creates_the_same_shape_of_prospect(db: Session, make_campaign: Any, path: str,
                                                      conflicted: bool) -> None:
    make, brings = PATHS[path]
    campaign = make_campaign()
    first = add_prospect(db, campaign, "https://first.test/")
    reason = ""
    if conflicted:
        for domain in ("hand.test", "other.test"):
            add_suppression(db, domain, note="asked us")
        reason = "the client insisted"

    def given(domain: str) -> dict[str, Any]:
        return {k: v.format(domain=domain) if isinstance(v, str) else v for k, v in GIVEN.items() if k in brings}

    hand = by_hand(db, campaign, "hand.test", reason, **given("hand.test"))
    other = make(db, campaign, "other.test", reason, **given("other.test"))
    db.commit()
    hand_shape, other_shape = shape(db, hand.id), shape(db, other.id)
    assert other_shape == hand_shape
    kinds = [kind for kind, *_ in hand_shape["timeline"]]
    assert kinds == (["created", "override"] if conflicted else ["created"])
    if "metrics" in brings:
        assert hand_shape["site_metrics"]["domain_rating"] == (40.0, "float")
        assert hand_shape["site_metrics"]["organic_traffic"] == (1200, "int")
    if "email" in brings:
        assert hand_shape["contact"]["on_site"] and hand_shape["contact"]["found_on_page"]
    # one board rule: at the bottom of the "new" column, in the order added
    assert [first.position, hand.position, other.position] == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("make", [by_hand, by_import], ids=["hand", "import"])
def test_a_known_site_and_contact_are_completed_not_overwritten(db: Session, make_campaign: Any, make: Maker) -> None:
    """Given metrics overwrite the site's, missing ones keep it; a known contact gets the name and site it lacked."""
    site = site_for(db, "https://known.test/")
    site.domain_rating, site.trust_flow = 10.0, 22.0
    db.add(Contact(email="ed@known.test"))
    db.commit()
    prospect = make(db, make_campaign(), "known.test", "", email="ed@known.test", name="Ed Ito",
                    metrics={"domain_rating": 55})
    db.commit()
    db.expire_all()
    prospect = db.get(Prospect, prospect.id)
    assert prospect is not None and prospect.contact is not None
    assert (prospect.site.domain_rating, prospect.site.trust_flow) == (55.0, 22.0)
    assert (prospect.contact.name, prospect.contact.site_id, prospect.contact.found_on) == ("Ed Ito", site.id, "")


def test_the_timeline_says_where_a_prospect_came_from(db: Session, make_campaign: Any) -> None:
    campaign = make_campaign()
    made = [by_hand(db, campaign, "hand.test", ""), by_import(db, campaign, "import.test", ""),
            from_guest_post(db, campaign, "guest.test", ""), from_broken_link(db, campaign, "dead.test", "")]
    db.commit()
    texts = [db.scalar(select(Activity.text).where(Activity.prospect_id == p.id, Activity.kind == "created"))
             for p in made]
    assert texts == ["Added hand.test (by hand)", "Added import.test (import of list.csv, line 2)",
                     "Added guest.test (guest post finding)", "Added dead.test (broken-link findings)"]


def test_conflicts_without_a_reason_create_nothing(db: Session, make_campaign: Any) -> None:
    from outreach.campaigns.prospect_creation import NewProspect, create_prospects

    campaign = make_campaign()
    new = NewProspect("https://blocked.test/", "blocked.test", conflicts=["blocked.test is on the do-not-contact list"],
                      conflict_keys=["dnc:domain:blocked.test"])
    with pytest.raises(ValueError, match="needs an override reason"):
        create_prospects(db, campaign, [new])
    assert db.scalar(select(Site).where(Site.domain == "blocked.test")) is None
