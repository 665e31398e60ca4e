"""Store found contacts: one Contact per address across campaigns, attached to its site (and prospect)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from outreach.campaigns.service import CampaignError, contact_for, site_for
from outreach.contacts.finder import SiteContacts
from outreach.contacts.validation import Verdict
from outreach.lib.clock import utcnow
from outreach.models import Contact, Prospect


def apply_verdict(contact: Contact, verdict: Verdict) -> None:
    contact.status = verdict.status
    contact.status_reason = verdict.reason[:300]
    contact.is_role = verdict.is_role
    contact.checked_at = utcnow()


def save_site_contacts(session: Session, found: SiteContacts, *, include_guesses: bool = True,
                       prospect: Prospect | None = None) -> list[Contact]:
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
    return saved
