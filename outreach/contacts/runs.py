"""Find contacts as a run: the Prospecting tab queues the read of one site, the `short-runs` tick does it.

The site's pages are read with no waiting-time limit (nobody waits on a request), the addresses are
checked and saved on the site (the campaign's prospect on it gets the best one), and the run keeps
what was found for its page. The prospect page's one-click find stays in the request: it is bounded.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from outreach.contacts.finder import MAX_PAGES
from outreach.contacts.service import read_site, save_found
from outreach.jobs.ticks import JobContext
from outreach.lib.clock import utcnow
from outreach.lib.http import BadURL, check_url
from outreach.models import Campaign, Contact, User
from outreach.models.prospecting import ProspectingRun
from outreach.runs.runner import Ending, RunControl
from outreach.workspace.service import with_workspace


class ContactRunError(ValueError):
    """A one-line reason the find was refused."""


def start_find(session: Session, campaign: Campaign, url: str, *, actor: User | None = None) -> ProspectingRun:
    """Queue reading the contacts of url's site for the campaign."""
    try:
        url = check_url(url)
    except BadURL as exc:
        raise ContactRunError(str(exc)) from None
    run = ProspectingRun(campaign_id=campaign.id, kind="contacts", seeds=[url], max_pages=MAX_PAGES, options={},
                         created_by_id=actor.id if actor else None, status="queued", created_at=utcnow())
    session.add(run)
    session.flush()
    return run


def find(ctx: JobContext, run: ProspectingRun, control: RunControl) -> Ending:
    """A contacts run's work: read the site, check the addresses, save them."""
    control.report()  # the heartbeat before the read: the page shows it running
    with ctx.sessionmaker() as session:
        settings = with_workspace(session, ctx.settings)
    found = read_site(settings, run.seeds[0], max_pages=run.max_pages, time_limit=None)
    counters = {"sites_done": 1, "pages_crawled": len(found.pages_fetched)}

    def save(session: Session, done: ProspectingRun) -> None:
        actor = session.get(User, done.created_by_id) if done.created_by_id else None
        result = save_found(session, found, campaign_id=done.campaign_id, actor=actor)
        done.found = len([c for c in result.saved if not c.is_guessed])
        done.results = {"url": found.url, "error": found.error or "", "pages_fetched": list(found.pages_fetched),
                        "prospect_id": result.prospect.id if result.prospect is not None else None,
                        "ignored": [list(pair) for pair in found.ignored],
                        "contacts": [_contact(c) for c in result.saved]}

    if found.error and not found.pages_fetched:
        return Ending("failed", f"could not fetch {found.url} ({found.error})", counters, save=save)
    return Ending("done", counters=counters, save=save)


def _contact(contact: Contact) -> dict[str, Any]:
    return {"id": contact.id, "email": contact.email, "name": contact.name or "", "is_role": contact.is_role,
            "is_guessed": contact.is_guessed, "status": contact.status, "status_reason": contact.status_reason or "",
            "confidence": contact.confidence or None, "confidence_reason": contact.confidence_reason,
            "found_on": contact.found_on or ""}

