"""Records as the JSON the API answers (the OpenAPI schemas in openapi.py describe these shapes).

Each record is shaped for the user who asks: a client viewer gets the same fields with what is internal
to the agency (notes, contacts, tags, overrides, a stage change's reason) left empty.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import url_for
from sqlalchemy.orm import object_session

from outreach.accounts import permissions
from outreach.campaigns import metrics as metric_table
from outreach.campaigns import opportunity_context
from outreach.campaigns.opportunity_context import OpportunityContext
from outreach.models import Activity, Campaign, Client, Contact, Prospect, Site, User


def when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def user_ref(user: User | None) -> dict[str, Any] | None:
    return {"id": user.id, "name": user.display_name} if user is not None else None


def client(c: Client, user: User) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "website": c.website,
            "report_emails": [a.strip() for a in c.report_emails.split(",") if a.strip()],
            "notes": c.notes if permissions.can_see_internal(user) else "", "created_at": when(c.created_at),
            "url": url_for("api.get_client", client_id=c.id, _external=True)}


def campaign(c: Campaign) -> dict[str, Any]:
    return {"id": c.id, "client_id": c.client_id, "name": c.name, "kind": c.kind, "status": c.status,
            "target_urls": c.target_url_list, "keywords": c.keyword_list, "owner": user_ref(c.owner),
            "created_at": when(c.created_at),
            "url": url_for("api.get_campaign", campaign_id=c.id, _external=True),
            "prospects_url": url_for("api.campaign_prospects", campaign_id=c.id, _external=True)}


def site(s: Site) -> dict[str, Any]:
    return {"id": s.id, "domain": s.domain, **{m.name: getattr(s, m.name) for m in metric_table.SITE_METRICS}}


def contact_ref(c: Contact | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {"id": c.id, "email": c.email, "name": c.name, "status": c.status}


def contact(c: Contact) -> dict[str, Any]:
    return {**contact_ref(c),  # type: ignore[dict-item]
            "status_reason": c.status_reason, "confidence": c.confidence or None,
            "confidence_reason": c.confidence_reason, "is_role": c.is_role, "is_guessed": c.is_guessed,
            "found_on": c.found_on, "site": {"id": c.site.id, "domain": c.site.domain} if c.site else None,
            "checked_at": when(c.checked_at), "created_at": when(c.created_at),
            "url": url_for("api.get_contact", contact_id=c.id, _external=True)}


def prospect(p: Prospect, user: User, opportunity: OpportunityContext | None = None) -> dict[str, Any]:
    """A prospect with what made it an opportunity (looked up when not given).

    A client viewer's has its site and metrics, page, stage, owner, dates and opportunity; no contact, tags,
    override or submission addresses.
    """
    internal = permissions.can_see_internal(user)
    if opportunity is None:
        opportunity = opportunity_context.for_prospect(object_session(p), p)  # type: ignore[arg-type]
    return {"id": p.id, "campaign_id": p.campaign_id, "page_url": p.page_url, "site": site(p.site),
            "contact": contact_ref(p.contact) if internal else None, "stage": p.stage, "position": p.position,
            "owner": user_ref(p.owner), "tags": [t.name for t in p.tags] if internal else [],
            "override_reason": p.override_reason if internal else "", "created_at": when(p.created_at),
            "updated_at": when(p.updated_at), "stage_changed_at": when(p.stage_changed_at),
            "url": url_for("api.get_prospect", prospect_id=p.id, _external=True),
            "timeline_url": url_for("api.timeline", prospect_id=p.id, _external=True),
            "page_title": p.page_title, "link_anchor": p.link_anchor, "link_target_url": p.link_target_url,
            "link_is_nofollow": p.link_is_nofollow,
            **{m.name: getattr(p, m.name) for m in metric_table.PAGE_METRICS},
            "opportunity": opportunity.as_json(internal=internal)}


def activity(a: Activity, user: User) -> dict[str, Any]:
    return {"id": a.id, "prospect_id": a.prospect_id, "kind": a.kind, "text": permissions.activity_text(user, a),
            "details": a.details,
            "user": user_ref(a.user), "created_at": when(a.created_at)}


def stage_change(a: Activity, user: User) -> dict[str, Any]:
    return {"id": a.id, "prospect_id": a.prospect_id, "from": a.details.get("from"), "to": a.details.get("to"),
            "text": permissions.activity_text(user, a), "user": user_ref(a.user), "created_at": when(a.created_at)}
