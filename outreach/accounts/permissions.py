"""Who may see or change what: the one home of the role rules, for the web, the API, exports and jobs.

Admins and members (staff) run campaigns: they see and change everything. A client viewer reads its
own client's campaigns, their progress, backlinks and reports, and nothing internal to the agency:
team notes, contact addresses and names, messages, the timeline's internal entries, tags, conflict
overrides, prices. A personaliser only edits and approves the first emails waiting in the review queue
(outreach.mail.review): every other page and API endpoint answers 403.
No Flask here: every function takes the user (a `current_user` proxy works too).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, false, select, true

from outreach.models import Activity, Campaign, Client, Prospect, User

#: roles that run campaigns
STAFF_ROLES = ("admin", "member")

#: edits and approves first emails in the review queue, and nothing else
PERSONALISER = "personaliser"

#: the only pages a personaliser may open besides the review queue's (mail.review.*, api.review.*): logging in
#: and out, their own account (password, sessions, API tokens), assets and the public pages
PERSONALISER_ENDPOINTS = ("accounts.login", "accounts.logout", "accounts.account", "accounts.end_session",
                          "accounts.end_other_sessions", "accounts.revoke_token", "static", "api.openapi",
                          "health.healthz", "health.readyz", "health.metrics")
PERSONALISER_BLUEPRINTS = ("mail.review", "api.review", "unsubscribe")

#: timeline entries a client viewer sees (their text names no contact and quotes no message)
CLIENT_TIMELINE_KINDS = ("created", "stage", "backlink")

#: keys of an opportunity's details (and a run's targets) that hold contact addresses
CONTACT_DETAIL_KEYS = ("emails", "email_checks")

#: prospect list sorts and CSV columns that show what is internal to the agency
INTERNAL_PROSPECT_COLUMNS = ("contact", "contact_email", "contact_name", "tags")


def is_staff(user: User) -> bool:
    """Admins and members run campaigns and may change anything; client viewers only read."""
    return user.role in STAFF_ROLES


def is_admin(user: User) -> bool:
    return user.role == "admin"


def is_personaliser(user: User) -> bool:
    return user.role == PERSONALISER


def can_review(user: User) -> bool:
    """Who may edit and approve first emails waiting for review: staff and personalisers (never a client viewer).
    Which messages they may open is the review service's to say (outreach.mail.review.review_item)."""
    return is_staff(user) or is_personaliser(user)


def personaliser_may_open(endpoint: str | None, blueprint: str | None) -> bool:
    """Whether a personaliser may reach this endpoint at all (the web and the API confine them to the queue)."""
    return endpoint in PERSONALISER_ENDPOINTS or any(
        blueprint == name or (blueprint or "").startswith(name + ".") for name in PERSONALISER_BLUEPRINTS)


def can_see_internal(user: User) -> bool:
    """Notes, contacts, messages, the whole timeline, tags, overrides and contact exports: staff only."""
    return is_staff(user)


def report_shows_prices(user: User | None, costs_in_report: bool) -> bool:
    """Link prices in a report: the team sees them in the app; what a client sees (its viewer's pages, the shared
    link, the PDF, the CSV, the monthly email; `user` None) shows them only when the client's settings say so."""
    return costs_in_report or (user is not None and is_staff(user))


def can_change(user: User, record: Any = None) -> bool:
    """Whether the user may change the record (or anything, without one): staff who can see it."""
    return is_staff(user) and (record is None or can_see(user, record))


def client_id_of(record: Any) -> int | None:
    """The client a record belongs to: itself, its client_id (campaigns, backlinks, assets) or its campaign's."""
    if isinstance(record, Client):
        return record.id
    if isinstance(record, Prospect):
        return record.campaign.client_id
    client_id = getattr(record, "client_id", None)
    if client_id is not None:
        return client_id
    campaign = getattr(record, "campaign", None)
    return campaign.client_id if isinstance(campaign, Campaign) else None


def can_see_client(user: User, client_id: int | None) -> bool:
    return is_staff(user) or (client_id is not None and user.client_id == client_id)


def can_see(user: User, record: Any) -> bool:
    """Whether the user may open the record: staff anything, a client viewer its own client's records."""
    return record is not None and (is_staff(user) or can_see_client(user, client_id_of(record)))


def visible_client_ids(user: User) -> list[int] | None:
    """None for staff (every client); a client viewer's own client otherwise."""
    return None if is_staff(user) else [user.client_id] if user.client_id is not None else []


def client_filter(user: User, client_id_column: Any) -> ColumnElement[bool]:
    """A WHERE clause keeping the rows of the clients the user may see (true for staff)."""
    if is_staff(user):
        return true()
    if user.client_id is None:
        return false()
    return client_id_column == user.client_id


def visible_campaign_ids(user: User) -> Select[tuple[int]] | None:
    """A subquery of the campaigns a client viewer may read; None for staff (they read all)."""
    if is_staff(user):
        return None
    return select(Campaign.id).where(client_filter(user, Campaign.client_id))


def team_filter() -> ColumnElement[bool]:
    """A WHERE clause on users keeping the team (who may own prospects and campaigns)."""
    return User.role.in_(STAFF_ROLES)


def timeline_kinds(user: User) -> tuple[str, ...] | None:
    """The timeline entries the user may read; None for all of them."""
    return None if can_see_internal(user) else CLIENT_TIMELINE_KINDS


def activity_text(user: User, activity: Activity) -> str:
    """A timeline entry's text as the user may read it: a stage change's reason (which quotes replies and
    bounces, with addresses) is internal."""
    if activity.kind == "stage" and not can_see_internal(user):
        return activity.text.split(": ", 1)[0]
    return activity.text


def opportunity_details(user: User, details: dict[str, Any] | None) -> dict[str, Any]:
    """An opportunity's evidence as the user may read it: a client viewer's has no contact addresses."""
    if can_see_internal(user):
        return details or {}
    return {k: v for k, v in (details or {}).items() if k not in CONTACT_DETAIL_KEYS}


def run_results(user: User, results: dict[str, Any] | None) -> dict[str, Any]:
    """A prospecting run's results as the user may read them: a client viewer's targets have no addresses, and
    a contacts run shows a client viewer no address."""
    results = results or {}
    if can_see_internal(user):
        return results
    if "contacts" in results:
        results = {**results, "contacts": [], "ignored": []}
    if "targets" not in results:
        return results
    return {**results, "targets": [opportunity_details(user, t) for t in results["targets"]]}
