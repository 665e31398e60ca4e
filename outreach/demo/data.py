"""The demo's sample client: three campaigns pointing at the sample web, its assets, templates and sequences.

`ensure_demo_data` may run at every start: it creates what is missing and points what exists at the
sample web's current addresses, never doubling a record.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.campaigns.service import create_campaign, create_client
from outreach.demo.web import BRAND, SampleWeb, infographic
from outreach.discovery.prospecting.service import create_brand_asset, create_image_asset, image_fingerprint
from outreach.mail.sequences import configure_campaign, save_sequence, save_template
from outreach.models import Campaign, Client
from outreach.models.mail import Sequence, Template
from outreach.models.prospecting import Asset

CLIENT_NAME = f"{BRAND} (demo)"
#: the addresses the sample sites show: no DNS knows them, so the demo vouches that they take mail
MAIL_DOMAINS = ("gardentoolsweekly.test", "urbanharvest.test", "greenthumbmag.test", "backyardnews.test")

#: campaign key -> (name, kind, template name, subject, plain-text body)
CAMPAIGNS: dict[str, tuple[str, str, str, str, str]] = {
    "broken_links": (
        "Demo: broken links", "broken_links", "Demo: a dead link on your page", "A dead link on {{ site.domain }}",
        "Hi {{ contact.first_name or 'there' }},\n\nyour page {{ opportunity.linking_page }} links to "
        "{{ opportunity.broken_url }} (\"{{ opportunity.anchor }}\"), which no longer works"
        "{% if opportunity.broken_links|length > 1 %}; so do these:\n"
        "{% for link in opportunity.broken_links[1:] %}- {{ link.url }} ({{ link.status }})\n{% endfor %}"
        "{% else %}.{% endif %}\n\nOur guide covers the same ground and could replace it: {{ target_url }}\n\n"
        "Best wishes,\nthe {{ client.name }} team\n"),
    "guest_posts": (
        "Demo: guest posts", "guest_posts", "Demo: a guest post pitch", "A guest post idea for {{ site.domain }}",
        "Hi {{ contact.first_name or 'there' }},\n\nI read your guidelines ({{ opportunity.guidelines_url }})"
        "{% if opportunity.requirements %}, noted what you ask for ({{ opportunity.requirements }}){% endif %} "
        "and would love to write for {{ site.domain }} about keeping a compost heap healthy. A recent guide of "
        "ours: {{ target_url }}\n\nBest wishes,\nthe {{ client.name }} team\n"),
    "mentions": (
        "Demo: mentions", "mentions", "Demo: credit for our work", "Thanks for featuring {{ client.name }}",
        "Hi {{ contact.first_name or 'there' }},\n\nthank you for "
        "{% if opportunity.image_url %}using our infographic ({{ opportunity.image_url }})"
        "{% else %}writing \"{{ opportunity.mention_text }}\"{% endif %} on {{ opportunity.mention_page }}. "
        "Would you add a link to {{ target_url }} so readers can find the source?\n\n"
        "Best wishes,\nthe {{ client.name }} team\n"),
}


@dataclass
class DemoData:
    client_id: int
    campaign_ids: dict[str, int]   # campaign key -> id
    asset_ids: dict[str, int]      # "image" | "brand" -> id


def walkthrough(web: SampleWeb) -> str:
    """What to try, strategy by strategy (printed by `outreach demo` and kept in the client's notes)."""
    return "\n".join([
        f"1. Broken links: open “Demo: broken links” → Broken links, paste {web.url('resources', '/resources')} "
        f"and {web.url('blog', '/useful-links')}, start the crawl, then add the sites linking to the dead URLs "
        "as prospects.",
        "2. On a prospect's page, find its contacts, set one as the contact and enrol it on the "
        "Outreach tab: the email lands in Mail → Local outbox.",
        f"3. Guest posts: “Demo: guest posts” → Prospecting, find guest-post targets from {web.url('magazine')}.",
        f"4. Mentions: “Demo: mentions” → Prospecting, look for the client's assets on {web.url('news')}: "
        "the infographic is embedded and the brand named, both without a link.",
        "5. Links: when a prospect is promised, play the publisher: place the client's link at "
        f"{web.url('resources', '/_demo')}, {web.url('magazine', '/_demo')} or {web.url('news', '/_demo')}, "
        "then Check now on the Links tab: live; remove it and it is lost.",
    ])


def ensure_demo_data(session: Session, web: SampleWeb) -> DemoData:
    """Create (or bring up to date) the sample client, its campaigns, assets, templates and sequences."""
    target = web.url("client", "/guides/composting")
    client = session.scalar(select(Client).where(Client.name == CLIENT_NAME))
    if client is None:
        client = create_client(session, CLIENT_NAME, website=web.url("client"))
    client.website = web.url("client")
    client.notes = "Sample client of `outreach demo`.\n\n" + walkthrough(web)
    campaign_ids: dict[str, int] = {}
    for key, (name, kind, template_name, subject, body) in CAMPAIGNS.items():
        campaign = session.scalar(select(Campaign).where(Campaign.client_id == client.id, Campaign.name == name))
        if campaign is None:
            campaign = create_campaign(session, client.id, name, kind=kind,
                                       keywords="composting\ncompost\nsoil\ngarden")
        campaign.target_urls = target
        template = session.scalar(select(Template).where(Template.name == template_name))
        template = save_template(session, template_name, subject, body, template=template)
        sequence = session.scalar(select(Sequence).where(Sequence.name == template_name))
        sequence = save_sequence(session, template_name, [(template.id, 0)], sequence=sequence)
        configure_campaign(session, campaign, None, sequence.id)
        campaign_ids[key] = campaign.id
    assets = {a.kind: a for a in session.scalars(select(Asset).where(Asset.client_id == client.id))}
    image = assets.get("image")
    if image is None:
        image = create_image_asset(session, client, name="Compost and soil infographic", target_url=target,
                                   data=infographic(), image_url=web.url("client", "/infographic.png"))
    image.target_url, image.image_url = target, web.url("client", "/infographic.png")
    image.image_sha256, image.image_phash = image_fingerprint(infographic())
    brand = assets.get("brand")
    if brand is None:
        brand = create_brand_asset(session, client, name=BRAND, brand_names=BRAND, target_url=web.url("client"))
    brand.target_url = web.url("client")
    session.flush()
    return DemoData(client.id, campaign_ids, {"image": image.id, "brand": brand.id})
