"""The API's read queries of clients, campaigns, timelines and contacts, as the user may see them. No Flask.

Prospect lists are in outreach.campaigns.prospect_query, pagination in outreach.lib.pages."""
from __future__ import annotations

from sqlalchemy import Select, false, or_, select, true
from sqlalchemy.orm import Session, selectinload

from outreach.accounts import permissions
from outreach.models import Activity, Campaign, Client, Contact, Prospect, Site, User

# --- clients and campaigns ---------------------------------------------------------------------

def clients_query(user: User, search: str | None = None) -> Select[tuple[Client]]:
    query = select(Client).where(permissions.client_filter(user, Client.id)).order_by(Client.name, Client.id)
    if search:
        query = query.where(Client.name.icontains(search, autoescape=True))
    return query


def campaigns_query(user: User, *, client_id: int | None = None, status: str | None = None,
                    kind: str | None = None, search: str | None = None) -> Select[tuple[Campaign]]:
    query = (select(Campaign).where(permissions.client_filter(user, Campaign.client_id))
             .order_by(Campaign.created_at.desc(), Campaign.id.desc()))
    if client_id is not None:
        query = query.where(Campaign.client_id == client_id)
    if status:
        query = query.where(Campaign.status == status)
    if kind:
        query = query.where(Campaign.kind == kind)
    if search:
        query = query.where(Campaign.name.icontains(search, autoescape=True))
    return query


# --- a prospect and its timeline ------------------------------------------------------------------------

def prospect_with_details(session: Session, prospect_id: int) -> Prospect | None:
    return session.scalar(select(Prospect).where(Prospect.id == prospect_id)
                          .options(selectinload(Prospect.site), selectinload(Prospect.contact),
                                   selectinload(Prospect.owner), selectinload(Prospect.tags),
                                   selectinload(Prospect.campaign)))


def timeline_query(user: User, prospect_id: int, kind: str | None = None) -> Select[tuple[Activity]]:
    """The prospect's timeline as the user may read it, newest first."""
    kinds = permissions.timeline_kinds(user)
    query = (select(Activity).where(Activity.prospect_id == prospect_id)
             .where(Activity.kind.in_(kinds) if kinds is not None else true())
             .options(selectinload(Activity.user))
             .order_by(Activity.created_at.desc(), Activity.id.desc()))
    if kind:
        query = query.where(Activity.kind == kind)
    return query


# --- contacts ----------------------------------------------------------------------------------

def contacts_query(user: User, *, campaign_id: int | None = None, status: str | None = None,
                   search: str | None = None, domain: str | None = None) -> Select[tuple[Contact]]:
    """Contacts: staff see all (client viewers see none: the endpoints refuse them)."""
    query = select(Contact).options(selectinload(Contact.site)).order_by(Contact.email, Contact.id)
    if not permissions.can_see_internal(user):
        return query.where(false())
    visible = permissions.visible_campaign_ids(user)
    if visible is not None:
        query = query.where(Contact.id.in_(
            select(Prospect.contact_id).where(Prospect.campaign_id.in_(visible))))
    if campaign_id is not None:
        query = query.where(Contact.id.in_(
            select(Prospect.contact_id).where(Prospect.campaign_id == campaign_id)))
    if status:
        query = query.where(Contact.status == status)
    if search:
        query = query.where(or_(Contact.email.icontains(search, autoescape=True),
                                Contact.name.icontains(search, autoescape=True)))
    if domain:
        query = query.where(Contact.site_id.in_(select(Site.id).where(Site.domain == domain.strip().lower())))
    return query


def can_read_contact(session: Session, user: User, contact_id: int) -> bool:
    if not permissions.can_see_internal(user):
        return False
    visible = permissions.visible_campaign_ids(user)
    if visible is None:
        return True
    found = session.scalar(select(Prospect.id).where(Prospect.contact_id == contact_id,
                                                    Prospect.campaign_id.in_(visible)).limit(1))
    return found is not None
