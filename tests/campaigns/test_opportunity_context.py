"""The opportunity is part of the prospect: what discovery found reaches the prospect page, the board card,
the API, the CSV export and the email a template renders."""
from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.accounts.service import create_api_token
from outreach.campaigns import opportunity_context
from outreach.campaigns.service import set_contact
from outreach.crawler.service import start_crawl
from outreach.discovery.broken_links.store import add_findings_as_prospects, job_findings
from outreach.discovery.guest_posts.service import GuestPostTarget, GuidelinesVerdict
from outreach.discovery.mentions.service import Mention
from outreach.discovery.prospecting import service as prospecting
from outreach.mail.sequences import configure_campaign, enroll_prospects, save_sequence, save_template
from outreach.mail.unsubscribe import signing_secret
from outreach.models import Prospect
from outreach.models.crawl import CrawlFinding
from outreach.models.mail import Message

PITCH = ("Hi {{ contact.first_name }}, your link to {{ opportunity.broken_url }} "
         "(“{{ opportunity.anchor }}” on {{ opportunity.linking_page }}) is dead.\n"
         "{% for link in opportunity.broken_links %}- {{ link.url }} ({{ link.status }})\n{% endfor %}")


@pytest.fixture
def crawled(db: Session, team: dict[str, Any]) -> Prospect:
    """A crawl found two dead URLs on pages of links.example; its site was added to the board from the findings."""
    campaign = team["campaign"]
    job = start_crawl(db, ["https://links.example/"], max_pages=50, campaign=campaign, actor=team["owner"])
    job.status = "done"
    db.add_all([
        CrawlFinding(crawl_job_id=job.id, url="https://gone.example/tool", reason="http_404", http_status=404,
                     found_on=[{"page": "https://links.example/tools", "anchor": "Best tool"},
                               {"page": "https://links.example/more", "anchor": "the tool"}], page_count=2),
        CrawlFinding(crawl_job_id=job.id, url="https://dead.example/guide", reason="dns", http_status=None,
                     found_on=[{"page": "https://links.example/tools", "anchor": "A guide"}], page_count=1),
    ])
    db.flush()
    added = add_findings_as_prospects(db, campaign, job_findings(db, job), actor=team["owner"])
    assert added.added == ["links.example"]
    prospect = db.scalar(select(Prospect).where(Prospect.campaign_id == campaign.id))
    set_contact(db, prospect, "jane@links.example", name="Jane Doe", actor=team["owner"])
    db.commit()
    return prospect


def test_every_dead_link_of_the_site_is_in_the_context_most_linked_first(db: Session, crawled: Prospect) -> None:
    context = opportunity_context.for_prospect(db, crawled)
    assert [d.url for d in context.broken_links] == ["https://gone.example/tool", "https://dead.example/guide"]
    tool = context.broken_links[0]
    assert tool.anchors == ("Best tool", "the tool") and tool.status == 404
    assert tool.linking_pages == ("https://links.example/tools", "https://links.example/more")
    assert tool.wayback_url == "https://web.archive.org/web/*/https://gone.example/tool"
    assert context.summary == "2 dead links"


def test_a_crawl_prospect_can_be_enrolled_and_its_email_names_every_dead_link(
        app: Any, db: Session, crawled: Prospect, team: dict[str, Any]) -> None:
    template = save_template(db, "Dead links", "Your link to {{ opportunity.broken_url }}", PITCH)
    configure_campaign(db, crawled.campaign, None, save_sequence(db, "One", [(template.id, 0)]).id)
    settings = app.extensions["outreach"].settings
    result = enroll_prospects(db, crawled.campaign, [crawled.id], settings, signing_secret(settings))
    assert result.refused == [] and result.enrolled == [crawled]
    db.commit()
    message = db.scalar(select(Message).where(Message.prospect_id == crawled.id))
    assert message.subject == "Your link to https://gone.example/tool"
    assert "your link to https://gone.example/tool (“Best tool” on https://links.example/tools) is dead" in \
        message.body_text
    assert "- https://dead.example/guide (dns)" in message.body_text
    assert "- https://gone.example/tool (HTTP 404)" in message.body_text


def test_the_prospect_page_the_board_card_and_the_csv_show_the_dead_links(
        db: Session, crawled: Prospect, team: dict[str, Any], login: Any) -> None:
    client = login(team["owner"])
    page = client.get(f"/prospects/{crawled.id}").get_data(as_text=True)
    assert 'data-testid="dead-links"' in page
    assert "https://gone.example/tool" in page and "Best tool" in page and "https://links.example/more" in page
    assert "web.archive.org/web/*/https://gone.example/tool" in page
    board = client.get(f"/campaigns/{crawled.campaign_id}").get_data(as_text=True)
    assert 'data-testid="card-opportunity">2 dead links<' in board
    exported = client.get(f"/campaigns/{crawled.campaign_id}/prospects/export.csv").get_data(as_text=True)
    row = next(csv.DictReader(io.StringIO(exported)))
    assert row["opportunity_kinds"] == "broken_link"
    assert row["dead_urls"] == "https://gone.example/tool https://dead.example/guide"
    assert row["dead_link_anchors"] == "Best tool | A guide"


def test_the_api_prospect_carries_its_opportunity(db: Session, crawled: Prospect, team: dict[str, Any],
                                                  client: Any) -> None:
    _token, secret = create_api_token(db, team["owner"], "tests")
    db.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    one = client.get(f"/api/v1/prospects/{crawled.id}", headers=headers).get_json()
    assert one["opportunity"]["kinds"] == ["broken_link"]
    dead = one["opportunity"]["broken_links"][0]
    assert dead["url"] == "https://gone.example/tool" and dead["anchor"] == "Best tool"
    assert dead["linking_pages"] == ["https://links.example/tools", "https://links.example/more"]
    listed = client.get(f"/api/v1/campaigns/{crawled.campaign_id}/prospects", headers=headers).get_json()
    assert listed["data"][0]["opportunity"]["broken_links"][1]["url"] == "https://dead.example/guide"


def test_guest_post_and_mention_evidence_reach_the_template_and_the_page(
        app: Any, db: Session, team: dict[str, Any], login: Any) -> None:
    campaign = team["campaign"]
    verdict = GuidelinesVerdict(True, True, requirements={"word_count": ["1,500 words"]},
                                form_urls=["https://writers.example/submit"])
    target = GuestPostTarget(site="https://writers.example", page="https://writers.example/write-for-us",
                             verdict=verdict, emails=["editor@writers.example"], score=0.9)
    guest = prospecting.add_guest_post_opportunities(db, campaign, [target])
    image = Mention(page="https://press.example/story", kind="image", links_to_target=False,
                    evidence="https://press.example/img/chart.png", match="phash:4", asset="Chart")
    brand = Mention(page="https://press.example/story", kind="brand", links_to_target=False,
                    evidence="Acme Widgets make the best widgets.", match="Acme Widgets", asset="Acme")
    mentions = prospecting.add_mention_opportunities(db, campaign, [image, brand])
    added = prospecting.add_as_prospects(db, campaign, [o.id for o in guest + mentions], actor=team["owner"])
    db.commit()
    writers, press = added.added
    values = opportunity_context.for_prospect(db, writers).template_values()
    assert values["guidelines_url"] == "https://writers.example/write-for-us"
    assert values["submission_email"] == "editor@writers.example"
    assert values["requirements"] == "word count: 1,500 words"
    press_values = opportunity_context.for_prospect(db, press).template_values()
    assert press_values["image_url"] == "https://press.example/img/chart.png"
    assert press_values["mention_text"] == "Acme Widgets make the best widgets."
    page = login(team["owner"]).get(f"/prospects/{press.id}").get_data(as_text=True)
    assert "Acme Widgets make the best widgets." in page and "distance 4 of 64 bits" in page
    page = login(team["owner"]).get(f"/prospects/{writers.id}").get_data(as_text=True)
    assert 'data-testid="guest-post"' in page and "word count: 1,500 words" in page


def test_a_prospect_added_by_hand_says_how_to_find_its_opportunity(db: Session, make_prospect: Any,
                                                                 team: dict[str, Any], login: Any) -> None:
    prospect = make_prospect(team["campaign"], "https://hand.example/page")
    db.commit()
    page = login(team["owner"]).get(f"/prospects/{prospect.id}").get_data(as_text=True)
    assert "discovery found nothing on this site for this campaign yet" in page
