"""What every /api/v1 view shares: the token's user, the JSON body, listings, and lookups that enforce the role
rules. The views live in views.py (clients, campaigns, prospects, contacts), discovery.py and backlinks.py."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, g, jsonify, request, url_for

from outreach.accounts import permissions
from outreach.api import queries
from outreach.api import serialize as out
from outreach.api.errors import forbidden, not_found
from outreach.api.inputs import MAX_ID, Body, pagination
from outreach.lib.pages import Page, paginate
from outreach.models import Campaign, Client, Prospect, User
from outreach.web.state import db_session, settings


def _user() -> User:
    return g.api_user


def _commit() -> None:
    db_session().commit()


def _body(*allowed: str) -> Body:
    return Body(request.get_json(force=True, silent=True), allowed)


def _listing(page: Page[Any], render: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """A page of records with its totals and the links to the neighbouring pages."""

    def link(number: int) -> str:
        args = {**request.args.to_dict(), "page": number, "per_page": page.per_page}
        return url_for(request.endpoint or "", **(request.view_args or {}), **args, _external=True)

    return {"data": [render(item) for item in page.items],
            "meta": {"total": page.total, "page": page.page, "per_page": page.per_page, "pages": page.pages},
            "links": {"self": link(page.page), "first": link(1), "last": link(page.pages),
                      "next": link(page.page + 1) if page.page < page.pages else None,
                      "prev": link(page.page - 1) if page.page > 1 else None}}


def _paginate(query: Any, render: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    page, per_page = pagination(request.args, settings().app.page_size)
    return _listing(paginate(db_session(), query, page, per_page), render)


def _created(payload: dict[str, Any]) -> tuple[Response, int, dict[str, str]]:
    return jsonify(payload), 201, {"Location": payload["url"]}


def _require_staff() -> None:
    if not permissions.is_staff(_user()):
        raise forbidden("client-viewers have read-only access")


def _require_internal(what: str) -> None:
    if not permissions.can_see_internal(_user()):
        raise forbidden(f"client-viewers do not see {what}")


def _client_json(client: Client) -> dict[str, Any]:
    return out.client(client, _user())


def _prospect_json(prospect: Prospect) -> dict[str, Any]:
    return out.prospect(prospect, _user())


# --- lookups that enforce the role rules ---------------------------------------------------------

def _client(client_id: int, *, edit: bool = False) -> Client:
    client = db_session().get(Client, client_id) if client_id <= MAX_ID else None
    if not permissions.can_see(_user(), client):
        raise not_found("client")
    if edit:
        _require_staff()
    return client


def _campaign(campaign_id: int, *, edit: bool = False) -> Campaign:
    campaign = db_session().get(Campaign, campaign_id) if campaign_id <= MAX_ID else None
    if not permissions.can_see(_user(), campaign):
        raise not_found("campaign")
    if edit:
        _require_staff()
    return campaign


def _prospect(prospect_id: int, *, edit: bool = False) -> Prospect:
    prospect = queries.prospect_with_details(db_session(), prospect_id) if prospect_id <= MAX_ID else None
    if not permissions.can_see(_user(), prospect):
        raise not_found("prospect")
    if edit:
        _require_staff()
    return prospect
