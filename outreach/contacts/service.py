"""Find and store contacts: one Contact per address across campaigns, attached to its site (and prospect)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.campaigns.service import CampaignError, contact_for, record, site_for
from outreach.config import Settings
from outreach.contacts.finder import MAX_PAGES, SiteContacts, find_contacts
from outreach.contacts.validation import AddressChecker, Verdict
from outreach.lib.aio import run_sync
from outreach.lib.clock import utcnow
from outreach.lib.http import Fetcher, FetchSettings
from outreach.lib.urls import BadURL, registrable_domain
from outreach.models import Contact, Prospect, Site, User
from outreach.workspace.service import with_workspace

#: someone waits for the answer (a web page, an API call): pages still unanswered after this long are dropped
WAITING_TIME_LIMIT = 40.0


@dataclass
class FindResult:
    found: SiteContacts
    #: the site's contacts for every found (and guessed) address, found ones first
    saved: list[Contact]
    #: the prospect that was given its best address (or already had one), when there is one
    prospect: Prospect | None


def prospect_start_url(prospect: Prospect) -> str:
    """Where Find contacts starts for a prospect: its page (the home page and contact pages follow)."""
    return prospect.page_url or f"https://{prospect.site.domain}/"


def read_site(settings: Settings, url: str, *, max_pages: int = MAX_PAGES,
              time_limit: float | None = WAITING_TIME_LIMIT) -> SiteContacts:
    """Read the site's pages from url and check each address found; touches no database."""
    fetch_settings, checker = FetchSettings.from_settings(settings), AddressChecker(settings.dns)

    async def go() -> list[SiteContacts]:  # may run in a helper thread
        async with Fetcher(fetch_settings) as fetcher:
            return await find_contacts(fetcher, [url], checker, max_pages=max_pages, time_limit=time_limit)

    (found,) = run_sync(go())
    return found


def find_and_save(session: Session, settings: Settings, url: str, *, prospect: Prospect | None = None,
                  campaign_id: int | None = None, actor: User | None = None, max_pages: int = MAX_PAGES,
                  time_limit: float | None = WAITING_TIME_LIMIT) -> FindResult:
    """Find the contacts of url's site now, check and save them; a prospect without a contact gets the best.

    The prospect is the one given, else the campaign's prospect on that site. The session's
    transaction is ended before the first fetch (it must hold no unsaved change), so no lock is held
    while the site is read; afterwards it flushes, and the caller commits.
    """
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("find_and_save needs a session without unsaved changes: it ends its transaction")
    settings = with_workspace(session, settings)  # the workspace decides whether checks probe for catch-all
    session.rollback()
    found = read_site(settings, url, max_pages=max_pages, time_limit=time_limit)
    return save_found(session, found, prospect=prospect, campaign_id=campaign_id, actor=actor)


def save_found(session: Session, found: SiteContacts, *, prospect: Prospect | None = None,
               campaign_id: int | None = None, actor: User | None = None) -> FindResult:
    """Save what was read on a site; the prospect is the one given, else the campaign's prospect on that site."""
    if prospect is None and campaign_id is not None:
        try:
            domain = registrable_domain(found.url)
        except BadURL:
            domain = ""
        prospect = session.scalar(select(Prospect).join(Site).where(Prospect.campaign_id == campaign_id,
                                                                    Site.domain == domain))
    saved = save_site_contacts(session, found, prospect=prospect, actor=actor)
    return FindResult(found=found, saved=saved, prospect=prospect)


def apply_verdict(contact: Contact, verdict: Verdict) -> None:
    contact.status = verdict.status
    contact.status_reason = verdict.reason[:300]
    contact.confidence = verdict.confidence
    contact.confidence_reason = verdict.confidence_reason[:300]
    contact.is_role = verdict.is_role
    contact.checked_at = utcnow()


def save_site_contacts(session: Session, found: SiteContacts, *, include_guesses: bool = True,
                       prospect: Prospect | None = None, actor: User | None = None) -> list[Contact]:
    """Contacts for every found (and guessed) address of the site; returns them, found ones first.

    A published address is never marked guessed, even when an earlier run guessed it. When a
    prospect without a contact is given, its contact becomes the best found address (a person's
    address before a role address).
    """
    try:
        site = site_for(session, found.url)
    except CampaignError:
        return []
    saved: list[Contact] = []
    for address in found.addresses:
        contact = contact_for(session, address.email, name=address.name, site=site, found_on=address.found_on)
        contact.is_guessed = False
        if contact.site_id is None:
            contact.site_id = site.id
        if not contact.found_on:
            contact.found_on = address.found_on[:2000]
        contact.is_role = address.is_role
        verdict = found.verdicts.get(address.email)
        if verdict is not None:
            apply_verdict(contact, verdict)
        saved.append(contact)
    if include_guesses:
        for guess in found.guesses:
            try:
                contact = contact_for(session, guess.email, name=guess.name, site=site)
            except CampaignError:
                continue
            if contact.id and contact not in saved and not contact.found_on:
                contact.is_guessed = True
                contact.status_reason = contact.status_reason or f"guessed ({guess.basis}: {guess.pattern})"
            saved.append(contact)
    session.flush()
    if prospect is not None and prospect.contact_id is None and prospect.site_id == site.id:
        best = sorted((c for c in saved if not c.is_guessed and c.status != "invalid"),
                      key=lambda c: (c.is_role, c.status != "valid"))
        if best:
            prospect.contact_id = best[0].id
            session.flush()
            session.refresh(prospect, ["contact"])
            record(session, prospect, "contact", f"Contact set to {best[0].email}, found on {best[0].found_on}",
                   actor, {"email": best[0].email, "previous": None, "found_on": best[0].found_on})
    return saved
