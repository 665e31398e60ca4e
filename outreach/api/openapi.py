"""The OpenAPI 3.1 document of /api/v1, built from the same constants the views validate against."""
from __future__ import annotations

from typing import Any

from outreach.api import openapi_discovery, openapi_mail
from outreach.api.inputs import MAX_PER_PAGE
from outreach.api.openapi_blocks import (
    BOOL,
    BOUND,
    ID,
    INT,
    LINES,
    NUM,
    STR,
    STR_LIST,
    TIME,
    URL,
    _json,
    _op,
    _param,
    _path_id,
    nullable,
    obj,
    ref,
)
from outreach.campaigns import metrics as metric_table
from outreach.campaigns import prospect_query
from outreach.models import STAGES
from outreach.models.campaigns import CAMPAIGN_KINDS, CAMPAIGN_STATUSES, OPPORTUNITY_KINDS
from outreach.models.notifications import NOTIFICATION_KINDS

CONTACT_STATUSES = ["unchecked", "valid", "invalid", "unknown"]


def _schemas() -> dict[str, Any]:
    metrics = {m.name: {**nullable(INT if m.is_integer else NUM), "description": m.title}
               for m in metric_table.SITE_METRICS}
    page = {m.name: {**nullable(INT if m.is_integer else NUM), "description": m.title}
            for m in metric_table.PAGE_METRICS}
    return {
        "Error": obj({"error": obj({
            "code": {**STR, "description": "machine-readable: unauthorized, forbidden, not_found, bad_parameter, "
                                           "invalid_json, invalid, conflict, method_not_allowed, ..."},
            "message": {**STR, "description": "one sentence for a person"},
            "field": {**nullable(STR), "description": "the body field or query parameter at fault"},
            "conflicts": {"type": "array", "items": ref("Conflict")},
            "refused": {"type": "array", "items": ref("Refused"),
                        "description": "what an 'add as prospects' request refused"},
            "line": {**INT, "description": "a template refused when saved: the line at fault"},
            "suggestion": {**STR, "description": "a template refused when saved: the variable it probably meant"},
            "rows": {"type": "array", "items": ref("BulkRowError"),
                     "description": "a bulk request that created nothing: why each item was refused"},
        }, required=["code", "message", "field"])}),
        "Conflict": obj({
            "reason": {"type": "string", "enum": ["active_campaign", "do_not_contact", "undeliverable", "contacted"]},
            "message": STR,
            "campaign_id": nullable(INT),
        }, description="why adding the site would contact it twice or against the do-not-contact list"),
        "PageMeta": obj({"total": INT, "page": INT, "per_page": INT, "pages": INT}),
        "PageLinks": obj({"self": URL, "first": URL, "last": URL, "next": nullable(URL), "prev": nullable(URL)}),
        "UserRef": obj({"id": INT, "name": STR}),
        "Client": obj({"id": INT, "name": STR, "website": STR, "report_emails": STR_LIST,
                       "notes": {**STR, "description": "the team's notes; empty for a client-viewer"},
                       "created_at": TIME, "url": URL}),
        "ClientInput": obj({"name": {**STR, "maxLength": 200}, "website": STR, "report_emails": LINES,
                            "notes": STR}, required=["name"]),
        "ClientPatch": obj({"name": {**STR, "maxLength": 200}, "website": STR, "report_emails": LINES,
                            "notes": STR}, required=[]),
        "Campaign": obj({"id": INT, "client_id": INT, "name": STR,
                         "kind": {"type": "string", "enum": list(CAMPAIGN_KINDS)},
                         "status": {"type": "string", "enum": list(CAMPAIGN_STATUSES)},
                         "target_urls": STR_LIST, "keywords": STR_LIST, "owner": nullable(ref("UserRef")),
                         "created_at": TIME, "url": URL, "prospects_url": URL}),
        "CampaignInput": obj({"client_id": ID, "name": {**STR, "maxLength": 200},
                              "kind": {"type": "string", "enum": list(CAMPAIGN_KINDS), "default": "custom"},
                              "target_urls": LINES, "keywords": LINES, "owner_id": nullable(ID)},
                             required=["client_id", "name"]),
        "CampaignPatch": obj({"name": {**STR, "maxLength": 200},
                              "kind": {"type": "string", "enum": list(CAMPAIGN_KINDS)},
                              "status": {"type": "string", "enum": list(CAMPAIGN_STATUSES)},
                              "target_urls": LINES, "keywords": LINES, "owner_id": nullable(ID)}, required=[]),
        "Site": obj({"id": INT, "domain": STR, **metrics}),
        "ContactRef": obj({"id": INT, "email": STR, "name": STR,
                           "status": {"type": "string", "enum": CONTACT_STATUSES}}),
        "Contact": obj({"id": INT, "email": STR, "name": STR,
                        "status": {"type": "string", "enum": CONTACT_STATUSES}, "status_reason": STR,
                        "confidence": {"type": ["string", "null"],
                                       "enum": ["valid", "risky", "invalid", "unknown", None],
                                       "description": "status, with role, disposable and catch-all addresses risky; "
                                                      "null until checked"},
                        "confidence_reason": STR,
                        "is_role": BOOL, "is_guessed": BOOL, "found_on": STR,
                        "site": nullable(obj({"id": INT, "domain": STR})), "checked_at": nullable(TIME),
                        "created_at": TIME, "url": URL}),
        "Prospect": obj({"id": INT, "campaign_id": INT, "page_url": STR, "site": ref("Site"),
                         "contact": {**nullable(ref("ContactRef")), "description": "null for a client-viewer"},
                         "stage": {"type": "string", "enum": list(STAGES)}, "position": NUM,
                         "owner": nullable(ref("UserRef")),
                         "tags": {**STR_LIST, "description": "empty for a client-viewer"},
                         "override_reason": {**STR, "description": "empty for a client-viewer"},
                         "created_at": TIME, "updated_at": TIME, "stage_changed_at": TIME, "url": URL,
                         "timeline_url": URL,
                         "page_title": {**STR, "description": "imported: the page's title"},
                         "link_anchor": {**STR, "description": "imported: the anchor of the link on the page"},
                         "link_target_url": {**STR, "description": "imported: where that link points"},
                         "link_is_nofollow": {**nullable(BOOL), "description": "imported; null when not said"},
                         **page, "opportunity": ref("OpportunityContext")},
                        description="a client-viewer gets the site, page, stage, owner, dates and opportunity; the "
                                    "contact, tags, override reason and submission addresses are internal"),
        "DeadLink": obj({"url": STR, "reason": STR, "status": nullable(INT), "anchor": STR, "anchors": STR_LIST,
                         "linking_pages": STR_LIST, "first_seen_at": nullable(TIME), "wayback_url": STR},
                        description="a dead URL the prospect's site links to, with every page of theirs linking to it"),
        "GuestPostContext": obj({"guidelines_url": STR, "requirements": {"type": "object"},
                                 "submission_emails": STR_LIST, "form_urls": STR_LIST, "reasons": STR_LIST}),
        "MentionEvidence": obj({"kind": {"type": "string", "enum": ["image", "brand"]}, "page_url": STR,
                                "image_url": STR, "sentence": STR, "match_method": STR, "distance": nullable(INT),
                                "asset": STR}),
        "OpportunityContext": obj({
            "kinds": {"type": "array", "items": {"type": "string", "enum": list(OPPORTUNITY_KINDS)}},
            "page_url": STR, "broken_links": {"type": "array", "items": ref("DeadLink")},
            "guest_post": nullable(ref("GuestPostContext")),
            "mentions": {"type": "array", "items": ref("MentionEvidence")}},
            description="what made the prospect an opportunity (the same values templates see as `opportunity`)"),
        "ProspectInput": obj({
            "url": {**STR, "description": "the page on the prospect's site (http or https)", "maxLength": 2000},
            "email": nullable({**STR, "maxLength": 320}),
            "contact_name": {**STR, "maxLength": 200},
            "metrics": obj({m.name: nullable({"type": "number", "minimum": 0, "maximum": m.high})
                            for m in metric_table.SITE_METRICS}, required=[]),
            "owner_id": nullable(ID),
            "override_reason": {**nullable({**STR, "maxLength": 500}),
                                "description": "required to add a site that is in another active campaign or "
                                               "on the do-not-contact list; recorded on the timeline"},
            "tags": STR_LIST,
        }, required=["url"]),
        "ProspectPatch": obj({"tags": {**STR_LIST, "description": "replaces the tags"},
                              "owner_id": nullable(ID),
                              "contact_email": {**STR, "maxLength": 320, "description":
                                                "makes this address the prospect's contact (409 when it is on the "
                                                "do-not-contact list, contacted in another active campaign or "
                                                "failed its check, unless override_reason is given)"},
                              "contact_name": {**nullable({**STR, "maxLength": 200}), "description":
                                               "names the prospect's contact (the one set by contact_email in the "
                                               "same request, else the current one); empty or null removes the "
                                               "name; 422 when the prospect has no contact"},
                              "override_reason": nullable({**STR, "maxLength": 500})}, required=[]),
        "Activity": obj({"id": INT, "prospect_id": INT,
                         "kind": {**STR, "description": "created, stage, note, tags, owner, override, ..."},
                         "text": STR, "details": {"type": "object"}, "user": nullable(ref("UserRef")),
                         "created_at": TIME}),
        "StageChange": obj({"id": INT, "prospect_id": INT, "from": nullable(STR), "to": nullable(STR),
                            "text": STR, "user": nullable(ref("UserRef")), "created_at": TIME}),
        "StageChangeInput": obj({"stage": {"type": "string", "enum": list(STAGES)},
                                 "reason": {**STR, "maxLength": 500},
                                 "position": nullable({**BOUND, "description": "order within the board column"})},
                                required=["stage"]),
        "StageChangeResult": obj({"changed": BOOL, "prospect": ref("Prospect")}),
        "NoteInput": obj({"text": {**STR, "minLength": 1}}, required=["text"]),
        "Notification": obj({"id": INT, "kind": {"type": "string", "enum": list(NOTIFICATION_KINDS)},
                             "title": STR, "body": STR,
                             "link": {**STR, "description": "the record's page in the app, as a path"},
                             "web_url": {**URL, "description": "the same page as an absolute URL"},
                             "created_at": TIME, "read_at": nullable(TIME), "is_read": BOOL}),
        "NotificationList": obj({"data": {"type": "array", "items": ref("Notification")}, "meta": ref("PageMeta"),
                                 "links": ref("PageLinks"),
                                 "unread": {**INT, "description": "how many of your notifications are unread"}}),
        **{f"{name}List": obj({"data": {"type": "array", "items": ref(name)}, "meta": ref("PageMeta"),
                               "links": ref("PageLinks")})
           for name in ("Client", "Campaign", "Prospect", "Contact", "Activity", "StageChange")},
    }


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref("Error")}}}


RESPONSES = {
    "BadRequest": _error("a query parameter or the JSON body cannot be understood (error.field names it)"),
    "Unauthorized": _error("no token, or an unknown or revoked one"),
    "Forbidden": _error("a client-viewer tried to change something, or to read contact addresses; a personaliser "
                        "used anything but the review queue"),
    "NotFound": _error("no such record, or one you may not see"),
    "Invalid": _error("a field's value is refused (error.field names it); nothing was changed"),
    "Conflict": _error("the change clashes with an existing record; nothing was changed"),
}


PARAMETERS = {
    "page": _param("page", {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1},
                   "page number, from 1"),
    "per_page": _param("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                       "records per page (default: the app's page_size setting)"),
    "search": _param("search", {"type": "string", "maxLength": 200}, "case-insensitive substring"),
}


_NOT_FOR_VIEWERS = _error("a client-viewer asked: notifications are for admins and members")


def _paths() -> dict[str, Any]:
    search = {"$ref": "#/components/parameters/search"}
    client_id, campaign_id = _path_id("client_id", "client"), _path_id("campaign_id", "campaign")
    prospect_id, contact_id = _path_id("prospect_id", "prospect"), _path_id("contact_id", "contact")
    sorts = [s for key in prospect_query.SORTS for s in (key, f"-{key}")]
    prospect_filters = [
        _param("stage", {"type": "string",
                         "pattern": f"^(active|({'|'.join(STAGES)})(,({'|'.join(STAGES)}))*)$"},
               f"'active' (not closed), or comma-separated stages: {', '.join(STAGES)}"),
        _param("tag", {"type": "string", "maxLength": 60}, "only prospects with this tag (ignored for client viewers)"),
        _param("owner", {"type": "string", "pattern": "^(me|none|[1-9][0-9]{0,8})$"}, "a user id, 'me' or 'none'"),
        _param("client_id", ID, "only this client's campaigns"),
        _param("search", {"type": "string", "maxLength": 200},
               "case-insensitive substring of the site's domain or the page URL, and for staff of the contact's "
               "address or name (the web list's `q` is the same parameter)"),
        *[_param(f"{bound}_{m.name}", BOUND, f"{bound}imum {m.title}")
          for m in metric_table.METRICS for bound in ("min", "max")],
        _param("sort", {"type": "string", "enum": sorts, "default": "-created_at"},
               "sort key, the same names as the web lists'; a leading '-' sorts descending, ties by id; "
               "`created_at` is creation order; a client viewer's sort by `contact` gives the default order. "
               f"Older spellings still accepted: {', '.join(prospect_query.SORT_ALIASES)}"),
    ]
    campaign_filters = [
        _param("client_id", ID, "only this client's campaigns"),
        _param("status", {"type": "string", "enum": list(CAMPAIGN_STATUSES)}, "campaign status"),
        _param("kind", {"type": "string", "enum": list(CAMPAIGN_KINDS)}, "campaign kind"),
        search,
    ]
    return {
        "/api/v1/openapi.json": {"get": {
            "summary": "This document", "tags": ["meta"], "security": [],
            "responses": {"200": {"description": "the OpenAPI document",
                                  "content": {"application/json": {"schema": {"type": "object"}}}}}}},
        "/api/v1/clients": {
            "get": _op("List the clients you may see", "clients", {"200": _json("ClientList", "a page of clients")},
                       params=[search], listing=True),
            "post": _op("Create a client", "clients", {"201": _json("Client", "the new client")},
                        body="ClientInput", write=True),
        },
        "/api/v1/clients/{client_id}": {
            "get": _op("Get a client", "clients", {"200": _json("Client", "the client")},
                       params=[client_id], lookup=True),
            "patch": _op("Change a client's fields", "clients", {"200": _json("Client", "the changed client")},
                         params=[client_id], body="ClientPatch", write=True, lookup=True),
        },
        "/api/v1/campaigns": {
            "get": _op("List campaigns", "campaigns", {"200": _json("CampaignList", "a page of campaigns")},
                       params=campaign_filters, listing=True),
            "post": _op("Create a campaign", "campaigns", {"201": _json("Campaign", "the new campaign")},
                        body="CampaignInput", write=True),
        },
        "/api/v1/campaigns/{campaign_id}": {
            "get": _op("Get a campaign", "campaigns", {"200": _json("Campaign", "the campaign")},
                       params=[campaign_id], lookup=True),
            "patch": _op("Change a campaign's fields", "campaigns",
                         {"200": _json("Campaign", "the changed campaign")},
                         params=[campaign_id], body="CampaignPatch", write=True, lookup=True),
        },
        "/api/v1/campaigns/{campaign_id}/prospects": {
            "get": _op("List a campaign's prospects", "prospects",
                       {"200": _json("ProspectList", "a page of prospects")},
                       params=[campaign_id, *prospect_filters], listing=True, lookup=True),
            "post": _op("Add a prospect to a campaign (de-duplicated; conflicts need override_reason)",
                        "prospects", {"201": _json("Prospect", "the new prospect"),
                                      "409": {"description": "the site is in another active campaign or on the "
                                                             "do-not-contact list; error.conflicts says which",
                                              "content": {"application/json": {"schema": ref("Error")}}}},
                        params=[campaign_id], body="ProspectInput", write=True, lookup=True),
        },
        "/api/v1/prospects": {
            "get": _op("List prospects across the campaigns you may see", "prospects",
                       {"200": _json("ProspectList", "a page of prospects")},
                       params=[_param("campaign_id", ID, "only this campaign"), *prospect_filters],
                       listing=True),
        },
        "/api/v1/prospects/{prospect_id}": {
            "get": _op("Get a prospect", "prospects", {"200": _json("Prospect", "the prospect")},
                       params=[prospect_id], lookup=True),
            "patch": _op("Change a prospect's tags, owner or contact", "prospects",
                         {"200": _json("Prospect", "the changed prospect")},
                         params=[prospect_id], body="ProspectPatch", write=True, lookup=True),
            "delete": _op("Delete a prospect and its timeline", "prospects",
                          {"204": {"description": "deleted"}}, params=[prospect_id], write=True, lookup=True),
        },
        "/api/v1/prospects/{prospect_id}/stage-changes": {
            "get": _op("List a prospect's stage changes, newest first", "stage changes",
                       {"200": _json("StageChangeList", "a page of stage changes")},
                       params=[prospect_id], listing=True, lookup=True),
            "post": _op("Move a prospect to a stage (recorded on its timeline)", "stage changes",
                        {"200": _json("StageChangeResult", "whether the stage changed, and the prospect")},
                        params=[prospect_id], body="StageChangeInput", write=True, lookup=True),
        },
        "/api/v1/prospects/{prospect_id}/timeline": {
            "get": _op("A prospect's timeline, newest first (a client-viewer gets the created, stage and backlink "
                       "entries, stage changes without their reason)", "notes",
                       {"200": _json("ActivityList", "a page of timeline entries")},
                       params=[prospect_id, _param("kind", {"type": "string", "maxLength": 40},
                                                   "only entries of this kind, e.g. note or stage")],
                       listing=True, lookup=True),
        },
        "/api/v1/prospects/{prospect_id}/notes": {
            "post": _op("Add a note to a prospect's timeline", "notes", {"201": _json("Activity", "the note")},
                        params=[prospect_id], body="NoteInput", write=True, lookup=True),
        },
        "/api/v1/contacts": {
            "get": _op("List contacts (staff only: a client-viewer gets 403)", "contacts",
                       {"200": _json("ContactList", "a page of contacts"),
                        "403": {"$ref": "#/components/responses/Forbidden"}},
                       params=[_param("campaign_id", ID, "only contacts of this campaign"),
                               _param("status", {"type": "string", "enum": CONTACT_STATUSES}, "validation status"),
                               _param("domain", {"type": "string", "maxLength": 255}, "only this site's"),
                               search], listing=True),
        },
        "/api/v1/notifications": {
            "get": _op("Your notifications (alerts about links, replies and bounces), newest first",
                       "notifications", {"200": _json("NotificationList", "a page of notifications"),
                                         "403": _NOT_FOR_VIEWERS},
                       params=[_param("unread", {"type": "string", "enum": ["true", "false"], "default": "false"},
                                      "true: only the unread ones")], listing=True),
        },
        "/api/v1/notifications/{notification_id}/read": {
            "post": _op("Mark one of your notifications read", "notifications",
                        {"200": _json("Notification", "the notification, now read"), "403": _NOT_FOR_VIEWERS},
                        params=[_path_id("notification_id", "notification")], lookup=True),
        },
        "/api/v1/contacts/{contact_id}": {
            "get": _op("Get a contact (staff only: a client-viewer gets 403)", "contacts",
                       {"200": _json("Contact", "the contact"), "403": {"$ref": "#/components/responses/Forbidden"}},
                       params=[contact_id], lookup=True),
        },
    }


def build_spec() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Outreach API", "version": "1",
            "description": "Clients, campaigns, prospects, contacts, stage changes, notes, discovery, backlinks, "
                           "notifications, email (mailboxes, templates, sequences, enrolment, messages, inbound "
                           "mail), the do-not-contact list and webhooks. "
                           "Authenticate with "
                           "'Authorization: Bearer <token>' (create a token on your account page). Admins and "
                           "members may change anything; a client-viewer reads its own client's records only, "
                           "without what is internal to the agency (notes, contacts, tags, overrides, prices); a "
                           "personaliser edits and approves the first emails of the review queue, nothing else. "
                           "Errors are {\"error\": {\"code\", \"message\", \"field\"}}. "
                           + openapi_mail.WEBHOOKS_DESCRIPTION,
        },
        "security": [{"bearerAuth": []}],
        "tags": [{"name": n} for n in ("clients", "campaigns", "prospects", "stage changes", "notes", "contacts",
                                       "discovery", "backlinks", "notifications", *openapi_mail.TAGS, "meta")],
        "paths": {**_paths(), **openapi_discovery.paths(), **openapi_mail.paths()},
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "an API token from the account page"}},
            "schemas": {**_schemas(), **openapi_discovery.schemas(), **openapi_mail.schemas()},
            "responses": RESPONSES,
            "parameters": PARAMETERS,
        },
    }
