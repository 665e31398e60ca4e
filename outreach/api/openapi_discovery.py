"""The OpenAPI paths and schemas of discovery (crawls, prospecting, assets, opportunities) and backlinks."""
from __future__ import annotations

from typing import Any

from outreach.api.openapi_blocks import (
    BOOL,
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
from outreach.backlinks.reasons import CODES as REASON_CODES
from outreach.backlinks.service import CSV_COLUMNS
from outreach.models.backlinks import (
    AGREED_RELS,
    BACKLINK_STATUSES,
    CHECK_STATUSES,
    EVENT_KINDS,
    MATCH_MODES,
    PAYMENT_STATUSES,
)
from outreach.models.campaigns import OPPORTUNITY_KINDS
from outreach.models.crawl import CRAWL_KINDS, CRAWL_STATUSES
from outreach.models.prospecting import ASSET_KINDS, RUN_KINDS, RUN_STATUSES, WALK_KINDS

OPPORTUNITY_STATUSES = ["new", "accepted", "dismissed"]
IDS = {"type": "array", "items": ID, "minItems": 1, "maxItems": 500}
OBJ = {"type": "object"}
LIST_NAMES = ("CrawlJob", "Finding", "ProspectingRun", "Asset", "Opportunity", "Backlink")


def schemas() -> dict[str, Any]:
    backlink_fields = {
        "page_url": {**STR, "maxLength": 2000, "description": "the page carrying the link; may be empty while "
                                                             "site_url says where to look for it"},
        "site_url": {**STR, "maxLength": 2000},
        "target_url": {**STR, "maxLength": 2000, "description": "your client's page the link points to"},
        "match_mode": {"type": "string", "enum": list(MATCH_MODES)},
        "agreed_anchor": {**STR, "maxLength": 500},
        "agreed_rel": {"type": "string", "enum": list(AGREED_RELS)},
        "price": nullable({"type": "number", "minimum": 0, "maximum": 1e15}),
        "currency": {**STR, "maxLength": 3, "description": "ISO 4217 code of the price (USD, EUR); empty for none"},
        "payment_status": {"type": ["string", "null"], "enum": [*PAYMENT_STATUSES, None]},
        "notes": STR,
        "deadline_at": nullable({**STR, "maxLength": 40,
                                 "description": "a date (2026-12-31, the end of that day UTC) or a date-time"}),
        "render_js": BOOL,
    }
    backlink = {"id": INT, "client_id": INT, "campaign_id": nullable(INT), "prospect_id": nullable(INT),
                "page_url": STR, "site_url": STR, "target_url": STR,
                "match_mode": {"type": "string", "enum": list(MATCH_MODES)}, "agreed_anchor": STR,
                "agreed_rel": {"type": "string", "enum": list(AGREED_RELS)},
                "price": {**nullable(NUM), "description": "null for a client-viewer"},
                "currency": {**STR, "description": "the price's ISO 4217 code; empty for a client-viewer"},
                "payment_status": {**{"type": ["string", "null"], "enum": [*PAYMENT_STATUSES, None]},
                                   "description": "null when not tracked, and for a client-viewer"},
                "lost_reason": {**nullable(ref("Reason")),
                                "description": "why the link was lost or missed its deadline, in plain words"},
                "notes": {**STR, "description": "the team's notes; empty for a client-viewer"},
                "deadline_at": nullable(TIME), "render_js": BOOL,
                "status": {"type": "string", "enum": list(BACKLINK_STATUSES),
                           "description": "live: found on the agreed anchor and rel; terms_not_met: found, but "
                                          "unmet_terms says how it differs; lost: after [backlinks] "
                                          "lost_after_failures failed checks over at least lost_after_hours"},
                "status_label": {**STR, "description": "the status as the app shows it, e.g. "
                                                       "\"Live – terms not met: nofollow\""},
                "unmet_terms": {"type": "array", "items": obj({
                    "term": {"type": "string", "enum": ["rel", "anchor"]}, "found": STR, "agreed": STR,
                    "text": {**STR, "description": "e.g. \"rel is nofollow, agreed follow\""}})},
                "consecutive_failures": INT,
                "failing_since": nullable({**TIME, "description": "the first failed check of the current run"}),
                "failing": {**STR, "description": "e.g. \"failing: 2 failed checks in a row since ...\"; empty "
                                                  "unless a link on its page fails its checks"},
                "next_check_at": nullable(TIME), "last_checked_at": nullable(TIME),
                "first_live_at": nullable(TIME), "live_since": nullable(TIME), "lost_at": nullable(TIME),
                "seen_rel": STR_LIST, "seen_anchor": STR, "is_follow": nullable(BOOL),
                "is_indexable": nullable(BOOL), "created_at": TIME, "url": URL}
    reason = obj({"code": {"type": "string", "enum": list(REASON_CODES)},
                  "label": {**STR, "description": "e.g. \"Page gone (404/410)\""},
                  "detail": {**STR, "description": "the label with what the check saw: \"Page gone (404/410): "
                                                   "HTTP 410\""}})
    value = obj({"follow": nullable(BOOL), "indexable": nullable(BOOL),
                 "relevance": {**nullable(NUM), "description": "discovery's score of the opportunity (0-100)"},
                 "authority": {**OBJ, "description": "imported metrics of the link's site by label (DR, DA, AS, TF, "
                                                     "Traffic)", "additionalProperties": NUM},
                 "referral_sessions": {**nullable(INT), "description": "null when no analytics figure matches the "
                                                                      "link"}})
    cost = obj({"currency": STR, "spent": NUM, "priced_links": INT, "live_links": INT, "referring_domains": INT,
                "per_live_link": nullable(NUM), "per_referring_domain": nullable(NUM)})
    return {
        "Reason": reason,
        "LinkValue": value,
        "Cost": cost,
        "CrawlJob": obj({"id": INT, "campaign_id": nullable(INT), "kind": {"type": "string", "enum": list(CRAWL_KINDS)},
                         "seeds": STR_LIST, "max_pages": INT,
                         "status": {"type": "string", "enum": list(CRAWL_STATUSES)}, "is_finished": BOOL,
                         "is_cancel_requested": BOOL,
                         "progress": obj({"pages_crawled": INT, "links_checked": INT, "broken_found": INT,
                                          "queued_urls": INT, "elapsed_seconds": NUM, "pages_per_second": NUM}),
                         "error": STR, "created_at": TIME, "started_at": nullable(TIME),
                         "finished_at": nullable(TIME), "url": URL, "findings_url": URL}),
        "CrawlJobInput": obj({"seeds": {**STR_LIST, "minItems": 1, "maxItems": 50,
                                        "description": "http(s) URLs; each is crawled within its own host"},
                              "max_pages": {"type": "integer", "minimum": 1, "maximum": 100_000, "default": 500}},
                             required=["seeds"]),
        "Finding": obj({"id": INT, "url": STR, "reason": STR, "status": nullable(INT), "page_count": INT,
                        "found_on": {"type": "array", "items": obj({"page": STR, "anchor": STR})}},
                       description="a dead URL and every page that links to it"),
        "FindingsToProspects": obj({"finding_ids": IDS,
                                    "override_reason": nullable({**STR, "maxLength": 500})},
                                   required=["finding_ids"]),
        "Refused": obj({"site": STR, "opportunity_id": INT, "line": {**INT, "description": "a CSV import's line"},
                        "message": STR}, required=["message"]),
        "FindingsAdded": obj({"added": {**STR_LIST, "description": "domains put on the board"},
                              "already_in_campaign": STR_LIST,
                              "refused": {"type": "array", "items": ref("Refused")},
                              "opportunities": {**INT, "description": "broken-link opportunities recorded"}}),
        "ProspectingRun": obj({"id": INT, "campaign_id": INT, "kind": {"type": "string", "enum": list(RUN_KINDS)},
                               "seeds": STR_LIST, "sitemaps": STR_LIST, "keywords": STR_LIST,
                               "asset_ids": {"type": "array", "items": INT}, "max_pages": INT,
                               "status": {"type": "string", "enum": list(RUN_STATUSES)}, "is_finished": BOOL,
                               "is_cancel_requested": BOOL,
                               "queries": {**STR_LIST, "description": "a search's footprint queries"},
                               "progress": obj({"sites": INT, "sites_done": INT, "pages_crawled": INT, "found": INT,
                                                "percent": INT,
                                                "queries": {**INT, "description": "a search's queries"},
                                                "queries_done": {**INT, "description": "a search's queries done"}},
                                               required=["sites", "sites_done", "pages_crawled", "found", "percent"]),
                               "error": STR, "created_at": TIME, "started_at": nullable(TIME),
                               "finished_at": nullable(TIME), "url": URL, "results_url": URL}),
        "ProspectingRunInput": obj({
            "kind": {"type": "string", "enum": list(WALK_KINDS)},
            "seeds": LINES, "sitemaps": LINES,
            "keywords": {**STR_LIST, "description": "guest posts: topic words (default: the campaign's)"},
            "asset_ids": {**IDS, "description": "mentions: the client's assets to look for"},
            "max_pages": {"type": "integer", "minimum": 1, "maximum": 500, "default": 20,
                          "description": "pages per site"},
        }, required=["kind"]),
        "ProspectingResults": obj({"run": ref("ProspectingRun"),
                                   "results": {**OBJ, "description": "targets (guest posts) or mentions, as the "
                                                                     "discover commands print them; a search's "
                                                                     "SearchResults"},
                                   "opportunities": {"type": "array", "items": ref("Opportunity")}}),
        "Asset": obj({"id": INT, "client_id": INT, "kind": {"type": "string", "enum": list(ASSET_KINDS)},
                      "name": STR, "target_url": STR, "brand_names": STR_LIST, "image_url": STR,
                      "image_sha256": STR, "image_type": STR, "created_at": TIME}),
        "AssetInput": obj({
            "kind": {"type": "string", "enum": list(ASSET_KINDS)},
            "name": {**STR, "maxLength": 200},
            "target_url": {**STR, "maxLength": 2000, "description": "the client's page a mention should link to"},
            "brand_names": {**LINES, "description": "brand: the names to look for (3 characters or more)"},
            "image_url": {**STR, "maxLength": 2000, "description": "image: where to download the image from"},
            "image_base64": {**STR, "description": "image: the image file itself, base64-encoded"},
        }, required=["kind", "target_url"]),
        "Opportunity": obj({"id": INT, "campaign_id": INT, "kind": {"type": "string", "enum": list(OPPORTUNITY_KINDS)},
                            "status": {"type": "string", "enum": OPPORTUNITY_STATUSES}, "page_url": STR,
                            "site": obj({"id": INT, "domain": STR}), "score": NUM,
                            "details": {**OBJ, "description": "the evidence; a client-viewer's has no emails or "
                                                              "email_checks (contact addresses)"},
                            "prospect_id": nullable(INT), "crawl_job_id": nullable(INT), "created_at": TIME}),
        "OpportunitiesToProspects": obj({"opportunity_ids": IDS,
                                         "override_reason": nullable({**STR, "maxLength": 500})},
                                        required=["opportunity_ids"]),
        "OpportunitiesAdded": obj({"added": {"type": "array",
                                             "items": obj({"opportunity_id": INT, "prospect_id": INT})},
                                   "attached": {"type": "array", "description": "opportunities on sites that "
                                                "already had a card in the campaign: they joined that card",
                                                "items": obj({"opportunity_id": INT, "prospect_id": INT})},
                                   "refused": {"type": "array", "items": ref("Refused")}}),
        "SearchInput": obj({
            "kind": {"type": "string", "enum": ["guest_posts", "resources", "mentions"], "default": "guest_posts",
                     "description": "which footprints to build when queries is not given"},
            "queries": {"type": "array", "items": {**STR, "maxLength": 500}, "maxItems": 10,
                        "description": "default: footprints from the campaign's keywords (or the client's brands)"},
            "per_query": {"type": "integer", "minimum": 1, "maximum": 20, "default": 10},
        }, required=[]),
        "SearchResults": obj({"provider": STR, "queries": STR_LIST, "errors": STR_LIST,
                              "results": {"type": "array", "items": obj({"url": STR, "title": STR, "snippet": STR,
                                                                         "position": INT, "query": STR})}}),
        "ContactsRunInput": obj({"url": {**STR, "maxLength": 2000, "description": "a page of the site (http or "
                                                                                  "https)"}}),
        "ContactsFindInput": obj({"url": {**STR, "maxLength": 2000, "description": "a page of the site (http or "
                                                                                   "https); required without "
                                                                                   "prospect_id"},
                                  "prospect_id": {**nullable(INT), "description": "a prospect of the campaign: "
                                                                                  "start from its page and give it "
                                                                                  "the best address"}},
                                 required=[]),
        "ContactsFound": obj({"url": STR, "error": {**nullable(STR), "description": "why the page could not be "
                                                                                  "fetched"},
                              "pages_fetched": STR_LIST, "prospect_id": nullable(INT),
                              "stopped_early": {**BOOL, "description": "some pages did not answer within the time "
                                                                       "limit and were left out"},
                              "contacts": {"type": "array", "items": ref("Contact")}}),
        "Backlink": obj(backlink),
        "BacklinkCheck": obj({"id": INT, "checked_at": TIME, "page_url": STR, "final_url": STR,
                              "http_status": nullable(INT), "error": STR,
                              "status": {"type": "string", "enum": list(CHECK_STATUSES)}, "follow": BOOL,
                              "indexable": BOOL, "found_in": STR, "problems": STR_LIST,
                              "evidence": {**OBJ, "description": "the whole result as `outreach verify --json` "
                                                                 "prints it"}}),
        "BacklinkEvent": obj({"id": INT, "kind": {"type": "string", "enum": list(EVENT_KINDS)}, "text": STR,
                              "reason": nullable(ref("Reason")), "created_at": TIME}),
        "BacklinkDetail": obj({**backlink, "latest_check": nullable(ref("BacklinkCheck")),
                               "checks": {"type": "array", "items": ref("BacklinkCheck"),
                                          "description": "the last 50 checks, newest first"},
                               "events": {"type": "array", "items": ref("BacklinkEvent"),
                                          "description": "the last 50 events, newest first"},
                               "reasons": {"type": "array", "items": ref("Reason"),
                                           "description": "why it is lost, missed, failing or worth less now"},
                               "value": {**ref("LinkValue"), "description": "its value signals; referral sessions "
                                                                            "of the last 12 months"},
                               "referral_months": {"type": "array", "items": obj({"month": STR, "sessions": INT}),
                                                   "description": "the last 12 months (empty without figures)"}}),
        "BacklinkInput": obj({"client_id": {**ID, "description": "default: the campaign's client"},
                              "campaign_id": nullable(ID), **backlink_fields}, required=["target_url"]),
        "BacklinkImport": obj({"client_id": {**ID, "description": "default: the campaign's client"},
                               "campaign_id": nullable(ID),
                               "csv": {**STR, "minLength": 1, "description": "the CSV file's text, header row first"}},
                              required=["csv"]),
        "BacklinksImported": obj({"created": {"type": "array", "items": ref("Backlink")}}),
        "BacklinkPatch": obj({**backlink_fields,
                              "paused": {**BOOL, "description": "true stops the checks; false resumes them"}},
                             required=[]),
        "Report": obj({
            "client_id": INT, "campaign_id": nullable(INT), "from": {**STR, "format": "date"},
            "to": {**STR, "format": "date"}, "generated_at": TIME,
            "won": {**INT, "description": "links first seen live in the range"},
            "live": {**INT, "description": "links live on the agreed terms at the end of the range"},
            "terms_not_met": {**INT, "description": "links on their pages at the end of the range but not on the "
                                                    "agreed anchor or rel (not counted in live)"},
            "lost": {**INT, "description": "losses in the range"},
            "pending": {**INT, "description": "links promised and not seen yet"},
            "series": {"type": "array", "items": obj({"date": {**STR, "format": "date"}, "live": INT})},
            "rel_split": {"type": "array", "items": obj({"rel": STR, "count": INT})},
            "anchors": {"type": "array", "items": obj({"anchor": STR, "count": INT})},
            "domains": {"type": "array", "items": obj({"domain": STR, "links": INT, "live": INT})},
            "referral_sessions": {**nullable(INT), "description": "sessions the links brought in the range (null "
                                                                  "without analytics figures)"},
            "referral_series": {"type": "array", "items": obj({"month": STR, "sessions": INT})},
            "top_links": {"type": "array", "items": obj({"backlink_id": INT, "page": STR, "sessions": INT})},
            "losses_by_reason": {"type": "array", "items": obj({"code": STR, "label": STR, "count": INT})},
            "costs": {**nullable({"type": "array", "items": ref("Cost")}),
                      "description": "per currency; null when prices are not shown to the caller"},
            "links": {"type": "array", "items": obj({
                "backlink_id": INT, "page": STR, "domain": STR, "target": STR, "status": STR, "status_label": STR,
                "http_status": STR,
                "rel": STR, "follow": STR, "indexable": STR, "anchor": STR, "last_checked": STR,
                "live_since": STR, "problems": STR,
                "reasons": {**STR, "description": "why it is lost or worth less, in plain words"},
                "referral_sessions": nullable(INT), "value": nullable(ref("LinkValue"))})},
        }, description="the figures of the web report"),
        **{f"{name}List": obj({"data": {"type": "array", "items": ref(name)}, "meta": ref("PageMeta"),
                               "links": ref("PageLinks")}) for name in LIST_NAMES},
    }


def _conflict_409(what: str) -> dict[str, Any]:
    return {"description": f"some {what} would contact a site twice or against the do-not-contact list; nothing "
                           "was added; error.refused lists them (send override_reason to add them anyway)",
            "content": {"application/json": {"schema": ref("Error")}}}


FINISHED_409 = {"description": "it has already finished", "content": {"application/json": {"schema": ref("Error")}}}


def paths() -> dict[str, Any]:
    campaign_id, client_id = _path_id("campaign_id", "campaign"), _path_id("client_id", "client")
    job_id, run_id = _path_id("job_id", "crawl job"), _path_id("run_id", "prospecting run")
    opportunity_id, backlink_id = _path_id("opportunity_id", "opportunity"), _path_id("backlink_id", "backlink")
    return {
        "/api/v1/campaigns/{campaign_id}/crawl-jobs": {
            "get": _op("List a campaign's broken-link crawls, newest first", "discovery",
                       {"200": _json("CrawlJobList", "a page of crawl jobs")},
                       params=[campaign_id], listing=True, lookup=True),
            "post": _op("Start a broken-link crawl (queued; a worker runs it)", "discovery",
                        {"201": _json("CrawlJob", "the queued crawl")},
                        params=[campaign_id], body="CrawlJobInput", write=True, lookup=True),
        },
        "/api/v1/crawl-jobs/{job_id}": {
            "get": _op("A crawl's status and progress counters", "discovery",
                       {"200": _json("CrawlJob", "the crawl job")}, params=[job_id], lookup=True),
        },
        "/api/v1/crawl-jobs/{job_id}/cancel": {
            "post": _op("Cancel a crawl (a running one stops at its next progress update)", "discovery",
                        {"200": _json("CrawlJob", "the crawl job"), "409": FINISHED_409},
                        params=[job_id], write=True, lookup=True),
        },
        "/api/v1/crawl-jobs/{job_id}/findings": {
            "get": _op("A crawl's dead URLs with the pages linking to each, most-linked first", "discovery",
                       {"200": _json("FindingList", "a page of findings")}, params=[job_id], listing=True,
                       lookup=True),
        },
        "/api/v1/crawl-jobs/{job_id}/prospects": {
            "post": _op("Add the sites linking to the chosen dead URLs as prospects", "discovery",
                        {"200": _json("FindingsAdded", "what was added"), "409": _conflict_409("sites")},
                        params=[job_id], body="FindingsToProspects", write=True, lookup=True),
        },
        "/api/v1/campaigns/{campaign_id}/prospecting-runs": {
            "get": _op("List a campaign's guest-post and mention runs, newest first", "discovery",
                       {"200": _json("ProspectingRunList", "a page of runs")},
                       params=[campaign_id], listing=True, lookup=True),
            "post": _op("Start a guest-post or mention run (queued; a worker runs it)", "discovery",
                        {"201": _json("ProspectingRun", "the queued run")},
                        params=[campaign_id], body="ProspectingRunInput", write=True, lookup=True),
        },
        "/api/v1/prospecting-runs/{run_id}": {
            "get": _op("A run's status and progress", "discovery", {"200": _json("ProspectingRun", "the run")},
                       params=[run_id], lookup=True),
        },
        "/api/v1/prospecting-runs/{run_id}/cancel": {
            "post": _op("Cancel a run", "discovery", {"200": _json("ProspectingRun", "the run"), "409": FINISHED_409},
                        params=[run_id], write=True, lookup=True),
        },
        "/api/v1/prospecting-runs/{run_id}/results": {
            "get": _op("What a run found, and the opportunities it made", "discovery",
                       {"200": _json("ProspectingResults", "the results")}, params=[run_id], lookup=True),
        },
        "/api/v1/clients/{client_id}/assets": {
            "get": _op("List a client's assets (infographics and brand names to find mentions of)", "discovery",
                       {"200": _json("AssetList", "a page of assets")}, params=[client_id], listing=True,
                       lookup=True),
            "post": {**_op("Create a brand asset, or an image asset from a URL (downloaded now) or base64 bytes",
                           "discovery", {"201": _json("Asset", "the new asset")}, params=[client_id],
                           body="AssetInput", write=True, lookup=True),
                     "x-fetches": True},
        },
        "/api/v1/campaigns/{campaign_id}/opportunities": {
            "get": _op("List a campaign's opportunities, best score first", "discovery",
                       {"200": _json("OpportunityList", "a page of opportunities")},
                       params=[campaign_id,
                               _param("kind", {"type": "string", "enum": list(OPPORTUNITY_KINDS)}, "only this kind"),
                               _param("status", {"type": "string", "enum": OPPORTUNITY_STATUSES}, "only this status")],
                       listing=True, lookup=True),
        },
        "/api/v1/campaigns/{campaign_id}/opportunities/prospects": {
            "post": _op("Add the chosen opportunities as prospects", "discovery",
                        {"200": _json("OpportunitiesAdded", "what was added"),
                         "409": _conflict_409("opportunities")},
                        params=[campaign_id], body="OpportunitiesToProspects", write=True, lookup=True),
        },
        "/api/v1/campaigns/{campaign_id}/search": {
            "post": _op("Queue a footprint search: the queries go through the configured search provider in the "
                        "background (the run's progress counts the queries done); when it is done, its results_url "
                        "gives the result URLs (SearchResults), seeds for a prospecting run", "discovery",
                        {"201": _json("ProspectingRun", "the queued search (kind search)"),
                         "409": {"description": "no search provider is configured (error.message says how to "
                                                "add one)",
                                 "content": {"application/json": {"schema": ref("Error")}}}},
                        params=[campaign_id], body="SearchInput", write=True, lookup=True),
        },
        "/api/v1/campaigns/{campaign_id}/contacts/find": {
            "post": {**_op("Find a site's contacts now: the page, the home page, their contact, about, team and "
                           "write-for-us pages and the pages those link to (at most 10 pages, 40 s), addresses "
                           "checked (syntax, MX) and saved with the names written beside them; the site's "
                           "prospect gets the best one",
                           "contacts", {"200": _json("ContactsFound", "what was found and saved")},
                           params=[campaign_id], body="ContactsFindInput", write=True, lookup=True),
                     "x-fetches": True},
        },
        "/api/v1/campaigns/{campaign_id}/contacts/find-runs": {
            "post": _op("Queue Find contacts as a run: the site's pages are read in the background (at most 10, no "
                        "waiting limit), the addresses checked and saved; the run shows its progress and its "
                        "results_url the addresses (none for a client viewer)", "contacts",
                        {"201": _json("ProspectingRun", "the queued run (kind contacts)")},
                        params=[campaign_id], body="ContactsRunInput", write=True, lookup=True),
        },
        "/api/v1/opportunities/{opportunity_id}/dismiss": {
            "post": _op("Dismiss an opportunity", "discovery",
                        {"200": _json("Opportunity", "the dismissed opportunity"),
                         "409": {"description": "it is already a prospect",
                                 "content": {"application/json": {"schema": ref("Error")}}}},
                        params=[opportunity_id], write=True, lookup=True),
        },
        "/api/v1/backlinks": {
            "get": _op("List backlinks, newest first", "backlinks", {"200": _json("BacklinkList", "a page of links")},
                       params=[_param("client_id", ID, "only this client's"),
                               _param("campaign_id", ID, "only this campaign's"),
                               _param("status", {"type": "string", "enum": list(BACKLINK_STATUSES)},
                                      "only this status"),
                               {"$ref": "#/components/parameters/search"}], listing=True),
            "post": _op("Add a backlink to the ledger (its first check is due at once)", "backlinks",
                        {"201": _json("BacklinkDetail", "the new backlink")}, body="BacklinkInput", write=True,
                        lookup=True),
        },
        "/api/v1/backlinks/import": {
            "post": _op("Import backlinks from CSV text (columns: " + ", ".join(CSV_COLUMNS) + "); a bad row and "
                        "nothing is created: error.refused names every bad line", "backlinks",
                        {"201": _json("BacklinksImported", "the created backlinks")}, body="BacklinkImport",
                        write=True, lookup=True),
        },
        "/api/v1/backlinks/{backlink_id}": {
            "get": _op("A backlink with its latest check's evidence, its check history and events", "backlinks",
                       {"200": _json("BacklinkDetail", "the backlink")}, params=[backlink_id], lookup=True),
            "patch": _op("Change what was agreed or where to look", "backlinks",
                         {"200": _json("BacklinkDetail", "the changed backlink")}, params=[backlink_id],
                         body="BacklinkPatch", write=True, lookup=True),
            "delete": _op("Remove a link from the ledger with its checks and events", "backlinks",
                          {"204": {"description": "deleted"},
                           "409": {"description": "the link belongs to a prospect at stage promised",
                                   "content": {"application/json": {"schema": ref("Error")}}}},
                          params=[backlink_id], write=True, lookup=True),
        },
        "/api/v1/backlinks/{backlink_id}/check": {
            "post": _op("Check now: the link becomes due and the next backlink tick checks it", "backlinks",
                        {"202": _json("BacklinkDetail", "the backlink, due now")}, params=[backlink_id], write=True,
                        lookup=True),
        },
        "/api/v1/clients/{client_id}/report": {
            "get": _op("A client's link report for a date range (the web report's figures)", "backlinks",
                       {"200": _json("Report", "the report")},
                       params=[client_id, _param("campaign_id", ID, "only this campaign's links"),
                               _param("from", {"type": "string", "format": "date"}, "first day (default: 90 days "
                                                                                     "before 'to')"),
                               _param("to", {"type": "string", "format": "date"}, "last day (default: today)")],
                       lookup=True),
        },
    }
