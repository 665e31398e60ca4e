"""Filters and globals for the app's own templates (never used for user-written templates)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Flask, current_app, request, url_for
from flask_login import current_user

from outreach.accounts import permissions
from outreach.backlinks.value import money
from outreach.lib.clock import utcnow
from outreach.mail import review
from outreach.models import PIPELINE_STAGES, STAGE_EXITS, STAGES, User
from outreach.web.state import db_session

STAGE_LABELS = {stage: stage.replace("_", " ").capitalize() for stage in STAGES}

#: the main navigation: (endpoint, label, roles that see it, blueprint that marks it active)
def _anyone(user: User) -> bool:
    return True


#: the top navigation: (endpoint, label, who may see it, the blueprint or endpoint(s) that mark it active);
#: the admin's Status page is a tab beside Users (the top bar has no room left at 1280 px)
NAV: list[tuple[str, str, Callable[[User], bool], str | tuple[str, ...]]] = [
    ("campaigns.dashboard", "Campaigns", _anyone, "campaigns"),
    ("lists.prospects", "Prospects", _anyone, "lists.prospects"),
    ("lists.sites", "Sites", permissions.is_staff, "lists.sites"),
    ("lists.contacts", "Contacts", permissions.is_staff, "lists.contacts"),
    ("dnc.index", "Do not contact", permissions.is_staff, "dnc"),
    ("backlinks.ledger", "Backlinks", _anyone, "backlinks"),
    ("reports.index", "Reports", _anyone, "reports"),
    ("mail.index", "Mail", permissions.is_staff, "mail"),
    # staff reach the review queue from Mail (whose entry shows how many wait); a personaliser has only this one
    ("mail.review.queue", "Review", permissions.is_personaliser, "mail.review"),
    ("accounts.users", "Users", permissions.is_admin, ("accounts.users", "health.status", "webhooks")),
]


#: the tabs on a campaign's pages: (endpoint taking campaign_id, label); parts add theirs
CAMPAIGN_TABS: list[tuple[str, str]] = [
    ("campaigns.board", "Board"),
    ("lists.campaign_prospects", "Prospects"),
    ("imports.upload", "Import"),
    ("backlinks.campaign_links", "Links"),
    ("mail.campaign", "Outreach"),
    ("broken_links.page", "Broken links"),
    ("prospecting.tab", "Prospecting"),
]


#: tabs only staff can open (a client viewer would get a 403)
STAFF_ONLY_TABS = {"imports.upload", "mail.campaign"}


def campaign_tabs() -> list[tuple[str, str]]:
    viewer = current_user.is_authenticated and not permissions.is_staff(current_user)
    return [(e, label) for e, label in CAMPAIGN_TABS
            if e in current_app.view_functions and not (viewer and e in STAFF_ONLY_TABS)]


def active_campaign_tab() -> str | None:
    """The tab to mark: the page's own, else its part's tab (an import preview is under Import, a run under
    Prospecting)."""
    endpoints = [e for e, _label in campaign_tabs()]
    if request.endpoint in endpoints:
        return request.endpoint
    return next((e for e in endpoints if e.split(".", 1)[0] == request.blueprint), None)


@dataclass
class NavItem:
    url: str
    label: str
    active: bool
    #: how much work waits behind the entry (shown when not 0), and what that number counts
    count: int = 0
    count_label: str = ""


def _review_count() -> int:
    return review.awaiting_count(db_session())


#: entries that show how much work waits behind them: endpoint -> (the count, what it counts)
NAV_COUNTS: dict[str, tuple[Callable[[], int], str]] = {
    "mail.index": (_review_count, "first emails waiting for review"),
    "mail.review.queue": (_review_count, "first emails waiting for review"),
}


def nav_items() -> list[NavItem]:
    """The navigation the current user may see; parts not installed are left out."""
    # every tab of a campaign (its board, links, outreach, discovery...) is inside Campaigns
    in_campaign = "campaign_id" in (request.view_args or {})
    items = []
    for endpoint, label, may_see, marker in NAV:
        if not may_see(current_user) or endpoint not in current_app.view_functions:
            continue
        if permissions.is_personaliser(current_user) and not permissions.personaliser_may_open(
                endpoint, endpoint.rpartition(".")[0]):
            continue  # every other page answers them 403
        if in_campaign:
            active = marker == "campaigns"
        else:
            # a blueprint marks its nested ones too (Mail marks Mail → Inbox, mail.inbox.*)
            active = (marker in request.blueprints) if isinstance(marker, str) and "." not in marker else (
                (request.endpoint or "").startswith(marker))
        count, count_label = NAV_COUNTS.get(endpoint, (lambda: 0, ""))
        items.append(NavItem(url_for(endpoint), label, active, count(), count_label))
    return items


def init_app(app: Flask) -> None:
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["ago"] = ago
    app.jinja_env.filters["number"] = number
    app.jinja_env.filters["browser"] = browser
    app.jinja_env.globals.update(
        PIPELINE_STAGES=PIPELINE_STAGES, STAGE_EXITS=STAGE_EXITS, STAGES=STAGES,
        STAGE_LABELS=STAGE_LABELS, nav_items=nav_items, campaign_tabs=campaign_tabs,
        active_campaign_tab=active_campaign_tab, is_staff=permissions.is_staff,
        can_see_internal=permissions.can_see_internal, money=money)


def when(value: datetime | None) -> str:
    """A UTC time as 2026-11-25 14:03 UTC."""
    if value is None:
        return "—"
    return (value.astimezone(UTC) if value.tzinfo else value).strftime("%Y-%m-%d %H:%M UTC")


def ago(value: datetime | None) -> str:
    """A past time as '3 h ago'."""
    if value is None:
        return "never"
    seconds = int((utcnow() - value).total_seconds())
    if seconds < 0:
        return "in " + _span(-seconds)
    if seconds < 45:
        return "just now"
    return _span(seconds) + " ago"


def _span(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def number(value: float | int | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
             ("Chromium/", "Chromium"), ("Safari/", "Safari"), ("curl/", "curl"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def browser(user_agent: str) -> str:
    """A User-Agent header as people say it: "Firefox on Windows"."""
    name = next((label for marker, label in _BROWSERS if marker in user_agent), "")
    system = next((label for marker, label in _SYSTEMS if marker in user_agent), "")
    if name and system:
        return f"{name} on {system}"
    return name or system or "unknown browser"
