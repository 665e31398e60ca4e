"""Campaign and prospect operations. They flush; the request, CLI command or job commits."""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from outreach.accounts import permissions
from outreach.accounts.service import audit
from outreach.campaigns import metrics as metric_table
from outreach.campaigns.contact_rules import check_override, find_conflicts, record_override
from outreach.campaigns.errors import CampaignError
from outreach.campaigns.events import stage_changed
from outreach.campaigns.prospect_creation import BY_HAND, NewProspect, create_prospects
from outreach.lib import addresses
from outreach.lib.clock import utcnow
from outreach.lib.ids import MAX_ID
from outreach.lib.urls import BadURL, ensure_http_url, registrable_domain
from outreach.models import (
    STAGES,
    Activity,
    Campaign,
    Client,
    Contact,
    Prospect,
    Site,
    Tag,
    User,
)
from outreach.models.campaigns import CAMPAIGN_KINDS
from outreach.models.mail import Enrollment

#: the domain-level metrics a prospect can be given by hand or by the API (all: outreach.campaigns.metrics)
METRIC_FIELDS = tuple(m.name for m in metric_table.SITE_METRICS)


# --- clients and campaigns -------------------------------------------------------------------

def create_client(session: Session, name: str, *, website: str = "", report_emails: str = "",
                  notes: str = "", actor: User | None = None) -> Client:
    name = name.strip()
    if not name:
        raise CampaignError("the client needs a name", field="name")
    if session.scalar(select(Client.id).where(_same_name(name))) is not None:
        raise CampaignError(f"a client called {name!r} exists already", field="name")
    client = Client(name=name[:200], website=_optional_url(website, "website"),
                    report_emails=_email_list(report_emails), notes=notes)
    session.add(client)
    session.flush()
    audit(session, actor, "client.create", "client", client.id, {"name": name})
    return client


def update_client(session: Session, client: Client, *, name: str, website: str, report_emails: str,
                  notes: str, actor: User | None = None) -> None:
    name = name.strip()
    if not name:
        raise CampaignError("the client needs a name", field="name")
    clash = session.scalar(select(Client.id).where(_same_name(name), Client.id != client.id))
    if clash is not None:
        raise CampaignError(f"a client called {name!r} exists already", field="name")
    client.name, client.notes = name[:200], notes
    client.website = _optional_url(website, "website")
    client.report_emails = _email_list(report_emails)
    session.flush()
    audit(session, actor, "client.update", "client", client.id, {})


def _same_name(name: str) -> ColumnElement[bool]:
    # SQLite's lower() folds only ASCII letters: compare exactly too, so the unique constraint never fires
    return or_(func.lower(Client.name) == name.lower(), Client.name == name)


def create_campaign(session: Session, client_id: int, name: str, *, kind: str = "custom",
                    target_urls: str = "", keywords: str = "", owner_id: int | None = None,
                    actor: User | None = None) -> Campaign:
    campaign = Campaign(client_id=client_id)
    _apply_campaign_fields(session, campaign, name, kind, target_urls, keywords, owner_id)
    session.add(campaign)
    session.flush()
    audit(session, actor, "campaign.create", "campaign", campaign.id, {"name": campaign.name})
    return campaign


def update_campaign(session: Session, campaign: Campaign, *, name: str, kind: str, target_urls: str,
                    keywords: str, owner_id: int | None, status: str | None = None,
                    actor: User | None = None) -> None:
    _apply_campaign_fields(session, campaign, name, kind, target_urls, keywords, owner_id)
    if status is not None:
        if status not in ("active", "paused", "archived"):
            raise CampaignError(f"unknown status {status!r}", field="status")
        campaign.status = status
    session.flush()
    audit(session, actor, "campaign.update", "campaign", campaign.id, {})


def _apply_campaign_fields(session: Session, campaign: Campaign, name: str, kind: str, target_urls: str,
                           keywords: str, owner_id: int | None) -> None:
    name = name.strip()
    if not name:
        raise CampaignError("the campaign needs a name", field="name")
    if kind not in CAMPAIGN_KINDS:
        raise CampaignError(f"unknown kind {kind!r} (choose {', '.join(CAMPAIGN_KINDS)})", field="kind")
    if session.get(Client, campaign.client_id) is None:
        raise CampaignError("choose an existing client", field="client_id")
    if owner_id is not None and session.get(User, owner_id) is None:
        raise CampaignError("the owner must be an existing user", field="owner_id")
    urls = []
    for line in target_urls.splitlines():
        if line.strip():
            try:
                urls.append(ensure_http_url(line))
            except BadURL as exc:
                raise CampaignError(f"target URL {exc}", field="target_urls") from None
    campaign.name, campaign.kind, campaign.owner_id = name[:200], kind, owner_id
    campaign.target_urls = "\n".join(urls)
    campaign.keywords = "\n".join(k.strip() for k in keywords.splitlines() if k.strip())


def _optional_url(value: str, field: str) -> str:
    if not value.strip():
        return ""
    try:
        return ensure_http_url(value)
    except BadURL as exc:
        raise CampaignError(str(exc), field=field) from None


def _email_list(value: str) -> str:
    addresses = [a.strip() for a in value.replace(";", ",").replace("\n", ",").split(",") if a.strip()]
    return ", ".join(normalise_address(a, field="report_emails") for a in addresses)


def normalise_address(address: str, field: str = "email") -> str:
    """The lower-cased address, or CampaignError saying why it is not one."""
    try:
        return addresses.normalise_address(address)
    except addresses.BadAddress as exc:
        raise CampaignError(str(exc), field=field) from None


# --- sites, contacts and de-duplication --------------------------------------------------------

def site_for(session: Session, url_or_domain: str) -> Site:
    """The Site of the URL's registrable domain, created when new."""
    try:
        domain = registrable_domain(ensure_http_url(url_or_domain))
    except BadURL as exc:
        raise CampaignError(str(exc), field="url") from None
    site = session.scalar(select(Site).where(Site.domain == domain))
    if site is None:
        site = Site(domain=domain)
        session.add(site)
        session.flush()
    return site


def contact_for(session: Session, email: str, *, name: str = "", site: Site | None = None,
                found_on: str = "") -> Contact:
    """The one Contact for this address across all campaigns, created when new."""
    email = normalise_address(email)
    contact = session.scalar(select(Contact).where(Contact.email == email))
    if contact is None:
        contact = Contact(email=email, name=name.strip()[:200], site_id=site.id if site else None,
                          found_on=found_on[:2000])
        session.add(contact)
        session.flush()
    elif name.strip() and not contact.name:
        contact.name = name.strip()[:200]
    return contact


def add_prospect(session: Session, campaign: Campaign, url: str, *, email: str | None = None,
                 contact_name: str = "", metrics: dict[str, Any] | None = None,
                 actor: User | None = None, override_reason: str | None = None,
                 owner_id: int | None = None, source: str = BY_HAND) -> Prospect:
    """Put a site (and contact) on the campaign's board; conflicts need an explicit override.

    Checks the one prospect, then creates it as every prospect is created (prospect_creation);
    `source` names where it came from on its timeline ("by hand", "broken-link findings"...).
    """
    try:
        page_url = ensure_http_url(url)
    except BadURL as exc:
        raise CampaignError(str(exc), field="url") from None
    email = normalise_address(email) if email and email.strip() else None
    site = site_for(session, page_url)
    existing = session.scalar(select(Prospect).where(Prospect.campaign_id == campaign.id,
                                                     Prospect.site_id == site.id))
    if existing is not None:
        raise CampaignError(f"{site.domain} is already in this campaign", field="url")
    conflicts = find_conflicts(session, site, email, campaign_id=campaign.id)
    reason = check_override(conflicts, override_reason)
    new = NewProspect(url=page_url, domain=site.domain, email=email, name=contact_name.strip()[:200],
                      metrics=metric_values(metrics or {}), owner_id=owner_id,
                      conflicts=[c.message for c in conflicts], conflict_keys=[c.key for c in conflicts],
                      override_reason=reason, source=source)
    [prospect_id] = create_prospects(session, campaign, [new], actor=actor)
    return session.get_one(Prospect, prospect_id)


def metric_values(metrics: dict[str, Any]) -> dict[str, float | int]:
    """The site-level metrics given by hand or by the API, typed as the Site stores them (others are ignored)."""
    return {m.name: int(value) if m.is_integer else float(value)
            for m in metric_table.SITE_METRICS if (value := metrics.get(m.name)) is not None}


def _next_position(session: Session, campaign_id: int, stage: str) -> float:
    top = session.scalar(select(func.max(Prospect.position))
                         .where(Prospect.campaign_id == campaign_id, Prospect.stage == stage))
    return (top or 0.0) + 1.0


# --- the card: stage, notes, tags, owner -------------------------------------------------------

def record(session: Session, prospect: Prospect, kind: str, text: str, actor: User | None = None,
           details: dict[str, Any] | None = None) -> Activity:
    """Append to the prospect's timeline."""
    activity = Activity(prospect_id=prospect.id, user_id=actor.id if actor else None, kind=kind,
                        text=text, details=details or {})
    session.add(activity)
    return activity


def move_prospect(session: Session, prospect: Prospect, stage: str, *, actor: User | None = None,
                  position: float | None = None, reason: str = "") -> bool:
    """Change the stage (and board position); returns whether the stage changed."""
    if stage not in STAGES:
        raise CampaignError(f"unknown stage {stage!r}", field="stage")
    changed = stage != prospect.stage
    if changed and not stage_changed.receivers:  # a process that skipped its wiring would lose the hand-offs
        raise RuntimeError("nothing subscribes to stage changes: call outreach.wiring.connect_subscribers() "
                           "when the process starts")
    if changed:
        old = prospect.stage
        prospect.stage = stage
        prospect.stage_changed_at = utcnow()
        text = f"Stage {old} → {stage}" + (f": {reason}" if reason else "")
        record(session, prospect, "stage", text, actor, {"from": old, "to": stage})
    if position is not None:
        prospect.position = position
    elif changed:
        prospect.position = _next_position(session, prospect.campaign_id, stage)
    session.flush()
    if changed:
        # in the same transaction: a card moved on by hand ends its email sequence, and one that
        # reaches *promised* gets its backlink in the ledger (outreach.wiring lists the subscribers)
        stage_changed.send(prospect, session=session, old=old, new=stage, actor=actor)
    return changed


def add_note(session: Session, prospect: Prospect, text: str, actor: User | None) -> Activity:
    text = text.strip()
    if not text:
        raise CampaignError("the note is empty", field="text")
    activity = record(session, prospect, "note", text[:10000], actor)
    session.flush()
    return activity


def set_contact(session: Session, prospect: Prospect, email: str, *, name: str = "", actor: User | None = None,
                override_reason: str | None = None) -> Contact:
    """Make this address the prospect's contact.

    The same rules as adding a prospect: an address on the do-not-contact list or already contacted in
    another active campaign, or one whose check found it undeliverable, needs an override reason.
    """
    address = normalise_address(email)
    clean = contact_name(name)
    if prospect.contact is not None and prospect.contact.email == address:
        if clean:
            set_contact_name(session, prospect, name, actor=actor)
        return prospect.contact
    if session.scalar(select(Enrollment.id).where(Enrollment.prospect_id == prospect.id,
                                                  Enrollment.status == "active")) is not None:
        raise CampaignError("its email sequence is running: stop it on the Outreach tab before changing the contact",
                            field="email")
    conflicts = find_conflicts(session, prospect.site, address, campaign_id=prospect.campaign_id, site_too=False)
    reason = check_override(conflicts, override_reason)
    contact = contact_for(session, address, site=prospect.site)
    if contact.site_id is None:
        contact.site_id = prospect.site_id
    if clean:  # the name typed with the address is the one it goes by
        contact.name = clean
    previous = prospect.contact.email if prospect.contact is not None else None
    prospect.contact_id = contact.id
    session.flush()
    session.refresh(prospect, ["contact"])
    text = f"Contact set to {f'{clean} <{address}>' if clean else address}" + (f" (was {previous})" if previous else "")
    record(session, prospect, "contact", text, actor, {"email": address, "previous": previous})
    if conflicts:
        record_override(prospect, conflicts, reason)
        record(session, prospect, "override", f"Contact {address} despite: "
               f"{'; '.join(c.message for c in conflicts)}. Reason: {reason}", actor,
               {"conflicts": [c.message for c in conflicts], "keys": [c.key for c in conflicts]})
    return contact


def contact_name(name: str) -> str:
    """A person's name as stored: spaces squeezed; refused when too long or holding an address."""
    clean = " ".join(name.split())
    if len(clean) > 200:
        raise CampaignError("the name is longer than 200 characters", field="contact_name")
    if "@" in clean or any(ord(c) < 32 for c in name if c not in "\t\n\r"):
        raise CampaignError("a name cannot hold an address or control characters", field="contact_name")
    return clean


def set_contact_name(session: Session, prospect: Prospect, name: str, *, actor: User | None = None) -> Contact:
    """Name the prospect's current contact (an empty name clears it); refused when it has no contact.

    The name belongs to the address, so every campaign that uses the address sees it.
    """
    contact = prospect.contact
    if contact is None:
        raise CampaignError("this prospect has no contact to name: set contact_email first", field="contact_name")
    clean = contact_name(name)
    if clean != contact.name:
        previous = contact.name
        contact.name = clean
        text = (f"Contact {contact.email} named {clean}" if clean else f"Contact {contact.email}: name removed") + \
            (f" (was {previous})" if previous else "")
        record(session, prospect, "contact", text, actor, {"email": contact.email, "name": clean,
                                                             "previous_name": previous})
        session.flush()
    return contact


def set_tags(session: Session, prospect: Prospect, names: list[str], actor: User | None) -> None:
    wanted = sorted({n.strip().lower()[:60] for n in names if n.strip()})
    tags = [tag_for(session, n) for n in wanted]
    before = {t.name for t in prospect.tags}
    prospect.tags = tags
    if before != set(wanted):
        record(session, prospect, "tags", "Tags: " + (", ".join(wanted) or "none"), actor)
    session.flush()


def tag_for(session: Session, name: str) -> Tag:
    tag = session.scalar(select(Tag).where(Tag.name == name))
    if tag is None:
        tag = Tag(name=name)
        session.add(tag)
        session.flush()
    return tag


def assign_owner(session: Session, prospect: Prospect, owner_id: int | None, actor: User | None) -> None:
    owner = session.get(User, owner_id) if owner_id else None
    if owner_id and owner is None:
        raise CampaignError("no such user", field="owner_id")
    if owner is not None and not permissions.is_staff(owner):
        raise CampaignError("the owner must be a team member, not a client viewer", field="owner_id")
    if prospect.owner_id != owner_id:
        prospect.owner_id = owner_id
        record(session, prospect, "owner", f"Owner: {owner.display_name if owner else 'nobody'}", actor)
    session.flush()


def add_tag(session: Session, prospect: Prospect, name: str, actor: User | None) -> None:
    """Add one tag, keeping the others."""
    set_tags(session, prospect, [t.name for t in prospect.tags] + [name], actor)


# --- bulk actions on selected prospects ----------------------------------------------------------

BULK_ACTIONS = ("stage", "tag", "owner", "delete")


def bulk_update(session: Session, prospects: list[Prospect], action: str, value: str,
                actor: User | None) -> int:
    """Apply one action to every prospect; each change is on its timeline. Returns how many changed."""
    if not prospects:
        raise CampaignError("select at least one prospect", field="ids")
    if action == "stage":
        if value not in STAGES:
            raise CampaignError("choose a stage to move the selected prospects to", field="stage")
        return sum(move_prospect(session, p, value, actor=actor) for p in prospects)
    if action == "tag":
        name = value.strip().lower()[:60]
        if not name:
            raise CampaignError("type the tag to add", field="tag")
        changed = [p for p in prospects if name not in {t.name for t in p.tags}]
        for p in changed:
            add_tag(session, p, name, actor)
        return len(changed)
    if action == "owner":
        if value not in ("", "none") and not value.isdigit():
            raise CampaignError("choose an owner", field="owner_id")
        owner_id = int(value) if value.isdigit() else None
        if owner_id is not None:
            owner = session.get(User, owner_id) if owner_id <= MAX_ID else None
            if owner is None or not permissions.is_staff(owner):
                raise CampaignError("the owner must be a team member", field="owner_id")
        changed = [p for p in prospects if p.owner_id != owner_id]
        for p in changed:
            assign_owner(session, p, owner_id, actor)
        return len(changed)
    if action == "delete":
        return delete_prospects(session, prospects, actor)
    raise CampaignError(f"unknown action {action!r}", field="action")


def delete_prospects(session: Session, prospects: list[Prospect], actor: User | None) -> int:
    """Remove the cards (and their timelines); the sites and contacts stay."""
    for p in prospects:
        audit(session, actor, "prospect.delete", "prospect", p.id,
              {"campaign_id": p.campaign_id, "domain": p.site.domain, "stage": p.stage})
        session.delete(p)
    session.flush()
    return len(prospects)
