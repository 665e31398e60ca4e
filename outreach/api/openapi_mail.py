"""The OpenAPI paths and schemas of email (mailboxes, templates, sequences, mail settings, enrolment, messages,
inbound mail), the do-not-contact list, bulk prospect creation and webhooks."""
from __future__ import annotations

from typing import Any

from outreach.api.inputs import MAX_ID
from outreach.api.openapi_blocks import (
    BOOL,
    ID,
    INT,
    STR,
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
from outreach.campaigns.bulk_prospects import MAX_ROWS
from outreach.campaigns.contact_rules import SUPPRESSION_REASONS, SUPPRESSION_SORTS
from outreach.models.mail import (
    ENROLLMENT_STATUSES,
    INBOUND_KINDS,
    MESSAGE_STATUSES,
    SECURITY,
    SENT_COPY_MODES,
    VARIANT_LETTERS,
)
from outreach.models.webhooks import DELIVERY_STATUSES, WEBHOOK_EVENTS
from outreach.webhooks.delivery import BACKOFF

OBJ = {"type": "object"}
SECURITY_ENUM = {"type": "string", "enum": list(SECURITY)}
STAFF_403 = {"description": "a client-viewer asked: email and the do-not-contact list are for admins and members",
             "content": {"application/json": {"schema": ref("Error")}}}
ADMIN_403 = {"description": "not an admin: webhooks are managed by admins",
             "content": {"application/json": {"schema": ref("Error")}}}
IN_USE_409 = {"description": "it is in use (sent from, used by a step, enrolled in); nothing was changed",
              "content": {"application/json": {"schema": ref("Error")}}}
NOT_PAUSED_409 = {"description": "the mailbox is not paused; nothing was changed",
                  "content": {"application/json": {"schema": ref("Error")}}}
LIST_NAMES = ("Mailbox", "Template", "Sequence", "Message", "InboundThread", "InboundMessage", "Suppression",
              "Webhook", "WebhookDelivery", "Review")
TAGS = ["mail", "enrolment", "review", "suppressions", "webhooks", "settings"]
SETTINGS_403 = {"description": "not an admin: workspace settings are changed by admins",
                "content": {"application/json": {"schema": ref("Error")}}}
REVIEW_403 = {"description": "a client-viewer asked: reviewing is for admins, members and personalisers",
              "content": {"application/json": {"schema": ref("Error")}}}
NOT_WAITING_409 = {"description": "the email no longer waits for review (approved by someone else, sent, cancelled); "
                                  "nothing was changed", "content": {"application/json": {"schema": ref("Error")}}}


def _staff(summary: str, tag: str, responses: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """An operation a client viewer is refused (403 on reads too)."""
    return _op(summary, tag, {**responses, "403": STAFF_403}, **kwargs)


def _reviewer(summary: str, responses: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """An operation of the review queue: staff and personalisers (the only thing a personaliser's token reaches)."""
    return _op(summary, "review", {**responses, "403": REVIEW_403}, **kwargs)


def _admin(summary: str, responses: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return _op(summary, "webhooks", {**responses, "403": ADMIN_403}, **kwargs)


def schemas() -> dict[str, Any]:
    mailbox_fields: dict[str, Any] = {
        "name": {**STR, "maxLength": 200}, "from_name": {**STR, "maxLength": 200},
        "from_email": {**STR, "maxLength": 320}, "smtp_host": {**STR, "maxLength": 255},
        "smtp_port": {"type": "integer", "minimum": 1, "maximum": 65535}, "smtp_security": SECURITY_ENUM,
        "smtp_username": {**STR, "maxLength": 320},
        "smtp_password": {**STR, "maxLength": 500, "writeOnly": True,
                          "description": "write-only: stored encrypted, never answered; empty or left out keeps "
                                         "the stored one"},
        "imap_host": {**STR, "maxLength": 255, "description": "empty: no IMAP (no reply detection)"},
        "imap_port": {"type": "integer", "minimum": 1, "maximum": 65535}, "imap_security": SECURITY_ENUM,
        "imap_username": {**STR, "maxLength": 320},
        "imap_password": {**STR, "maxLength": 500, "writeOnly": True,
                          "description": "write-only, as smtp_password"},
        "imap_sent_folder": {**STR, "maxLength": 200},
        "sent_copy": {"type": "string", "enum": list(SENT_COPY_MODES),
                      "description": "who files the sent copy in imap_sent_folder: auto (detected), always "
                                     "(Outreach appends it), never (the server does)"},
        "daily_cap": {"type": "integer", "minimum": 0, "maximum": 10000, "description": "0: no cap"},
        "min_spacing_seconds": {"type": "integer", "minimum": 0, "maximum": 86400},
        "jitter_seconds": {"type": "integer", "minimum": 0, "maximum": 86400},
        "window_days": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 7}, "minItems": 1,
                        "description": "ISO weekdays the mailbox sends on, 1 (Monday) to 7 (Sunday)"},
        "window_start_hour": {"type": "integer", "minimum": 0, "maximum": 23},
        "window_end_hour": {"type": "integer", "minimum": 1, "maximum": 24},
        "timezone": {**STR, "maxLength": 64, "description": "an IANA name, e.g. Europe/Paris"},
        "is_active": BOOL,
        "dkim_selector": {**STR, "maxLength": 63, "description": "the key is at <selector>._domainkey.<domain>"},
        "dkim_private_key": {**STR, "maxLength": 10000, "writeOnly": True,
                             "description": "PEM private key to sign with; write-only; \"-\" removes it"},
        "warmup_start": {"type": "integer", "minimum": 0, "maximum": 10000,
                         "description": "warm-up: emails allowed on its first day (below daily_cap); 0: no warm-up"},
        "warmup_increment": {"type": "integer", "minimum": 0, "maximum": 10000,
                             "description": "warm-up: this many more each day, up to daily_cap (1 or more)"},
        "bounce_pause_percent": {"type": "integer", "minimum": 0, "maximum": 100, "default": 5,
                                 "description": "pause the mailbox when more than this share of its last 100 sends "
                                                "bounced; 0: never"},
    }
    mailbox_out = {k: v for k, v in mailbox_fields.items() if not k.endswith(("_password", "_private_key"))}
    mailbox_out["window_days"] = {"type": "array", "items": INT}
    delay_fields = {
        "delay": {"type": "integer", "minimum": 0, "maximum": 1440,
                  "description": "how long after the previous step (ignored for the first step): 1 to 60 days "
                                 "or 1 to 1440 hours"},
        "delay_unit": {"type": "string", "enum": ["days", "hours"], "default": "days"},
        "business_days_only": {"type": "boolean", "default": True,
                               "description": "count Monday to Friday only (a delay ending on a weekend moves to "
                                              "Monday)"},
    }
    letter = {"type": "string", "enum": list(VARIANT_LETTERS[1:])}
    variants_doc = (f"a template test: variants {', '.join(VARIANT_LETTERS[1:])} in that order (the step's own "
                    "template is variant A); each prospect gets a letter at enrolment and keeps it for every step "
                    "(a step without that letter sends its own template). Every variant's template must pass the "
                    "template save-time check.")
    step = obj({"position": INT, "template_id": {**INT, "description": "variant A's template"}, "template_name": STR,
                **delay_fields,
                "variants": {"type": "array",
                             "items": obj({"letter": letter, "template_id": INT, "template_name": STR}),
                             "maxItems": len(VARIANT_LETTERS) - 1, "description": variants_doc},
                "url": URL})
    step_input = {"template_id": ID, **delay_fields,
                  "variants": {"type": "array", "maxItems": len(VARIANT_LETTERS) - 1,
                               "items": obj({"template_id": ID, "letter": letter}, required=["template_id"]),
                               "description": variants_doc + " Left out: a step keeps its variants (none when new)."}}
    any_letter = {"type": ["string", "null"], "enum": [*VARIANT_LETTERS, None],
                  "description": "the template test's letter given at enrolment; null: the sequence had no variants"}
    rate = {"type": ["number", "null"], "minimum": 0, "maximum": 1, "description": "replied / sent; null: none sent"}
    template_test = obj({
        "campaign_id": INT, "sequence_id": nullable(INT),
        "variants": {"type": "array", "description": "counts of prospects (enrolments) per letter, from what "
                                                     "happened: sent = at least one email left (a refusal at RCPT "
                                                     "TO is bounced, not sent)",
                     "items": obj({"letter": {"type": "string", "enum": list(VARIANT_LETTERS)}, "enrolled": INT,
                                   "sent": INT, "replied": INT, "bounced": INT, "unsubscribed": INT,
                                   "reply_rate": rate})},
        "note": {**STR, "description": "who leads, or why the numbers cannot tell the variants apart yet"},
        "test": {"type": "string", "enum": ["fisher_exact"],
                 "description": "two-sided Fisher's exact test of the leader's replies against each other variant "
                                "(Bonferroni-corrected at 0.05)"},
        "min_sent": {**INT, "description": "each variant needs this many sent before it is tested"},
        "p_value": {"type": ["number", "null"], "description": "the leader's largest p-value; null below min_sent"},
        "is_significant": BOOL, "leader": {**any_letter, "description": "the winner; null: none (yet)"}})
    message = {"id": INT, "campaign_id": INT, "prospect_id": INT, "enrollment_id": INT, "mailbox_id": nullable(INT),
               "step": {**INT, "description": "1 is the first email; 100 and up a reclaim email"},
               "message_id": STR, "in_reply_to": STR, "from_email": STR, "to_email": STR, "to_name": STR,
               "subject": STR, "status": {"type": "string", "enum": list(MESSAGE_STATUSES)},
               "status_label": {**STR, "description": "as the app shows it (a local message is 'written to the "
                                                      "local outbox', never 'sent')"},
               "status_reason": STR, "last_error": STR,
               "transport": {"type": "string", "enum": ["smtp", "local"]}, "attempts": INT, "send_at": TIME,
               "sent_at": nullable(TIME), "created_at": TIME, "url": URL}
    inbound = obj({"id": INT, "mailbox_id": INT, "kind": {"type": "string", "enum": list(INBOUND_KINDS)},
                   "from_email": STR, "subject": STR, "snippet": STR, "message_id": STR, "received_at": TIME,
                   "details": OBJ,
                   "in_reply_to": nullable(obj({"id": INT, "step": INT, "subject": STR, "url": URL}))})
    conflict = obj({"reason": STR, "message": STR, "campaign_id": nullable(INT)})
    row_error = obj({"index": {**INT, "description": "the item's position in `prospects`, from 0"},
                     "field": nullable(STR), "message": STR, "conflicts": {"type": "array", "items": conflict}})
    webhook = {"id": INT, "target_url": URL, "description": STR,
               "events": {"type": "array", "items": {"type": "string", "enum": list(WEBHOOK_EVENTS)}},
               "is_active": BOOL, "created_at": TIME, "updated_at": TIME, "url": URL, "deliveries_url": URL}
    found: dict[str, Any] = {
        "Mailbox": obj({"id": INT, **mailbox_out, "has_smtp_password": BOOL, "has_imap_password": BOOL,
                        "sent_today": INT, "last_poll_error": STR, "next_poll_at": nullable(TIME),
                        "has_dkim_private_key": BOOL, "domain_checked_at": nullable(TIME),
                        "domain_checks": {"type": "array", "items": obj({
                            "name": {"type": "string", "enum": ["mx", "spf", "dkim", "dmarc", "unsubscribe"]},
                            "status": {"type": "string", "enum": ["pass", "warn", "fail"]},
                            "detail": STR, "fix": STR})},
                        "warmup": nullable(obj({
                            "started_on": {"type": "string", "format": "date"}, "day": INT,
                            "today_allowance": {**INT, "description": "what it may send today"},
                            "cap_reached_on": {"type": "string", "format": "date"}, "is_done": BOOL},
                            description="null: no warm-up")),
                        "is_paused": BOOL, "paused_at": nullable(TIME),
                        "pause_reason": {**STR, "description": "why it was paused (a bounce rate, a block)"},
                        "created_at": TIME, "url": URL},
                       description="a mailbox; its passwords are never answered, only whether each is set"),
        "WorkspaceSettings": obj({
            "catch_all_probe": {**BOOL, "description": "contact checks ask a domain's mail server whether it "
                                                       "accepts a made-up address (one RCPT TO, never DATA)"},
            "catch_all_probe_from": {"type": "string", "enum": ["workspace", "config"],
                                     "description": "config: the default from [dns] catch_all_probe"}}),
        "WorkspaceSettingsPatch": obj({"catch_all_probe": BOOL}, required=[]),
        "MailboxInput": obj(mailbox_fields, required=["name", "from_email", "smtp_host"]),
        "MailboxPatch": obj(mailbox_fields, required=[]),
        "ConnectionCheck": obj({"ok": nullable(BOOL), "message": STR},
                               description="ok null: not configured (no IMAP account)"),
        "ConnectionTest": obj({"ok": {**BOOL, "description": "false when a configured protocol failed"},
                               "smtp": ref("ConnectionCheck"), "imap": ref("ConnectionCheck")}),
        "Template": obj({"id": INT, "name": STR, "subject": STR, "body_text": STR, "body_html": STR,
                         "created_at": TIME, "updated_at": TIME, "url": URL}),
        "TemplateInput": obj({"name": {**STR, "maxLength": 200}, "subject": {**STR, "maxLength": 500},
                              "body_text": {**STR, "maxLength": 20000}, "body_html": {**STR, "maxLength": 20000}},
                             required=["name", "subject", "body_text"],
                             description="checked when saved: a syntax error or an unknown variable is a 422 whose "
                                         "error names the line (`line`) and the likely variable (`suggestion`)"),
        "TemplatePatch": obj({"name": {**STR, "maxLength": 200}, "subject": {**STR, "maxLength": 500},
                              "body_text": {**STR, "maxLength": 20000}, "body_html": {**STR, "maxLength": 20000}},
                             required=[]),
        "SequenceStep": step,
        "TemplateTest": template_test,
        "SequenceStepList": obj({"data": {"type": "array", "items": ref("SequenceStep")}}),
        "Sequence": obj({"id": INT, "name": STR, "steps": {"type": "array", "items": ref("SequenceStep")},
                         "created_at": TIME, "url": URL}),
        "StepInput": obj(step_input, required=["template_id"]),
        "StepPatch": obj(step_input, required=[]),
        "NewStep": obj({**step_input, "position": {"type": "integer", "minimum": 1, "maximum": 7,
                                                   "description": "where to insert it (default: at the end)"}},
                       required=["template_id"]),
        "SequenceInput": obj({"name": {**STR, "maxLength": 200},
                              "steps": {"type": "array", "items": ref("StepInput"), "minItems": 1, "maxItems": 6}},
                             required=["name", "steps"]),
        "SequencePatch": obj({"name": {**STR, "maxLength": 200},
                              "steps": {"type": "array", "items": ref("StepInput"), "minItems": 1, "maxItems": 6,
                                        "description": "replaces every step"}}, required=[]),
        "MailSettings": obj({"campaign_id": INT, "mailbox_id": nullable(INT),
                             "mailbox": nullable(obj({"id": INT, "name": STR, "from_email": STR})),
                             "sequence_id": nullable(INT), "sequence": nullable(obj({"id": INT, "name": STR})),
                             "is_paused": BOOL,
                             "is_review_required": {**BOOL, "description": "each first email waits in the review "
                                                                          "queue until a teammate approves it"},
                             "awaiting_review": {**INT, "description": "first emails waiting for review"},
                             "sends_to_local_outbox": {**BOOL, "description": "no mailbox: emails are written to "
                                                                              "the local outbox, never sent"},
                             "url": URL}),
        "MailSettingsPatch": obj({"mailbox_id": {**nullable(ID), "description": "null: the local outbox"},
                                  "sequence_id": nullable(ID), "is_paused": BOOL,
                                  "is_review_required": {**BOOL, "description": "hold each first email for review; "
                                                                               "false lets the held ones go"}},
                                 required=[]),
        "Review": obj({"id": INT, "campaign_id": INT, "prospect_id": INT, "site": STR, "page_url": STR,
                       "to_email": STR, "to_name": STR, "from_email": STR, "subject": STR, "body_text": STR,
                       "body_html": {**STR, "description": "empty: plain text only"}, "send_at": TIME,
                       "status": {"type": "string", "enum": list(MESSAGE_STATUSES)},
                       "is_awaiting_review": {**BOOL, "description": "held: not sent until approved"},
                       "edited_at": {**nullable(TIME), "description": "when a reviewer last personalised it"},
                       "approved_at": nullable(TIME), "approved_by": nullable(STR), "url": URL},
                      description="a campaign's first email as a reviewer sees it"),
        "ReviewEdit": obj({"subject": {**STR, "maxLength": 500}, "body_text": {**STR, "maxLength": 20000},
                           "body_html": {**STR, "maxLength": 20000,
                                         "description": "left out: the HTML alternative is kept as it is"}},
                          required=[], description="checked like a template when saved (variables such as "
                                                   "{{ contact.first_name }} are filled for this prospect; a "
                                                   "placeholder like [FIRST NAME] is refused); used for this "
                                                   "prospect only and kept on its timeline"),
        "ReviewApproveInput": obj({"ids": {"type": "array", "items": ID, "minItems": 1, "maxItems": 500}}),
        "ReviewApproveResult": obj({"approved": {"type": "array", "items": INT},
                                    "refused": {"type": "array", "items": obj({"id": INT, "reason": STR}),
                                                "description": "each id left out and why (approved already, sent, "
                                                               "not a first email waiting for review)"}}),
        "EnrollInput": obj({"prospect_ids": {"type": "array", "items": ID, "minItems": 1, "maxItems": 1000},
                            "override_reason": {**STR, "maxLength": 300,
                                                "description": "required when the mailbox's domain checks fail"}},
                           required=["prospect_ids"]),
        "EnrollResult": obj({
            "enrolled": {"type": "array", "items": obj({"prospect_id": INT, "variant": any_letter,
                                                        "message": ref("Message")})},
            "refused": {"type": "array", "items": obj({"prospect_id": INT, "reason": STR}),
                        "description": "each prospect left out and why (no address, a later stage, already "
                                       "enrolled, contacted in another campaign, do-not-contact, ...); an override "
                                       "is given on the prospect (PATCH /prospects/{id} with override_reason)"}}),
        "Enrollment": obj({"id": INT, "prospect_id": INT, "campaign_id": INT, "sequence_id": INT,
                           "mailbox_id": nullable(INT),
                           "variant": any_letter,
                           "status": {"type": "string", "enum": list(ENROLLMENT_STATUSES)},
                           "stop_reason": STR, "stop_detail": STR, "paused_until": nullable(TIME),
                           "created_at": TIME, "stopped_at": nullable(TIME), "messages_url": URL}),
        "Message": obj(message),
        "HistoryEntry": obj({"at": TIME, "kind": {**STR, "description": "email_scheduled, email_sent, email_retry, "
                                                                        "email_unknown, email_bounced, inbound_reply"
                                                                        ", ..."},
                             "text": STR, "inbound_id": nullable(INT)}),
        "MessageDetail": obj({**message, "body_text": STR, "body_html": STR,
                              "history": {"type": "array", "items": ref("HistoryEntry")}}),
        "ResolveInput": obj({"action": {"type": "string", "enum": ["sent", "resend"],
                                        "description": "sent: it did go out; resend: send it again (same "
                                                       "Message-ID)"}}, required=["action"]),
        "InboundMessage": inbound,
        "InboundThread": obj({"prospect_id": INT, "campaign_id": INT, "last_received_at": TIME, "count": INT,
                              "messages": {"type": "array", "items": ref("InboundMessage")}, "prospect_url": URL}),
        "Suppression": obj({"id": INT, "kind": {"type": "string", "enum": ["domain", "email"]}, "value": STR,
                            "reason": {"type": "string", "enum": list(SUPPRESSION_REASONS)}, "note": STR,
                            "created_by": nullable(ref("UserRef")), "created_at": TIME, "url": URL}),
        "SuppressionInput": obj({"value": {**STR, "maxLength": 320, "description": "a domain or an address"},
                                 "kind": {"type": "string", "enum": ["domain", "email"],
                                          "description": "default: email when the value has an '@'"},
                                 "note": {**STR, "maxLength": 500}}, required=["value"]),
        "SuppressionPatch": obj({"note": {**STR, "maxLength": 500}}, required=[]),
        "BulkProspectsInput": obj({
            "prospects": {"type": "array", "minItems": 1, "maxItems": MAX_ROWS,
                          "items": obj({"url": {**STR, "maxLength": 2000}, "email": nullable({**STR, "maxLength": 320}),
                                        "contact_name": {**STR, "maxLength": 200},
                                        "metrics": obj({m.name: nullable({"type": "number", "minimum": 0,
                                                                          "maximum": m.high})
                                                        for m in metric_table.SITE_METRICS}, required=[]),
                                        "owner_id": nullable(ID),
                                        "override_reason": nullable({**STR, "maxLength": 500})},
                                       required=["url"])},
            "all_or_none": {**BOOL, "default": False,
                            "description": "true: any refused item creates nothing (422)"}},
            required=["prospects"]),
        "BulkRowError": row_error,
        "BulkProspectsResult": obj({
            "created": {"type": "array", "items": obj({"index": INT, "id": INT, "url": URL})},
            "errors": {"type": "array", "items": ref("BulkRowError")},
            "meta": obj({"received": INT, "created": INT, "refused": INT})}),
        "Webhook": obj(webhook),
        "WebhookWithSecret": obj({**webhook, "secret": {**STR, "description": "the signing secret, answered only "
                                                                             "now: keep it"}}),
        "WebhookInput": obj({"target_url": {**STR, "maxLength": 2000, "description": "an http(s) URL on a public "
                                                                                    "address"},
                             "events": {"type": "array", "minItems": 1,
                                        "items": {"type": "string", "enum": list(WEBHOOK_EVENTS)}},
                             "description": {**STR, "maxLength": 200}}, required=["target_url", "events"]),
        "WebhookPatch": obj({"target_url": {**STR, "maxLength": 2000},
                             "events": {"type": "array", "minItems": 1,
                                        "items": {"type": "string", "enum": list(WEBHOOK_EVENTS)}},
                             "description": {**STR, "maxLength": 200}, "is_active": BOOL}, required=[]),
        "WebhookAttempt": obj({"attempted_at": TIME, "status_code": nullable(INT),
                               "response_excerpt": {**STR, "description": "the first 500 characters answered"},
                               "error": STR, "duration_ms": INT}),
        "WebhookDelivery": obj({"id": INT, "webhook_id": INT,
                                "event": {"type": "string", "enum": list(WEBHOOK_EVENTS)},
                                "status": {"type": "string", "enum": list(DELIVERY_STATUSES)}, "attempts": INT,
                                "next_attempt_at": nullable(TIME), "last_status_code": nullable(INT),
                                "last_error": STR, "delivered_at": nullable(TIME), "created_at": TIME,
                                "payload": {**OBJ, "description": "the JSON body sent: {id, event, created_at, data}"},
                                "log": {"type": "array", "items": ref("WebhookAttempt")}}),
    }
    for name in LIST_NAMES:
        found[f"{name}List"] = obj({"data": {"type": "array", "items": ref(name)}, "meta": ref("PageMeta"),
                                    "links": ref("PageLinks")})
    return found


def paths() -> dict[str, Any]:
    mailbox_id, template_id = _path_id("mailbox_id", "mailbox"), _path_id("template_id", "template")
    sequence_id, campaign_id = _path_id("sequence_id", "sequence"), _path_id("campaign_id", "campaign")
    prospect_id, message_id = _path_id("prospect_id", "prospect"), _path_id("message_id", "message")
    suppression_id, webhook_id = _path_id("suppression_id", "do-not-contact entry"), _path_id("webhook_id", "webhook")
    delivery_id = _path_id("delivery_id", "delivery")
    position = _param("position", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "the step's position, from 1",
                      where="path")
    return {
        # --- mailboxes
        "/api/v1/mailboxes": {
            "get": _staff("List the mailboxes (passwords are never answered)", "mail",
                          {"200": _json("MailboxList", "a page of mailboxes")}, listing=True),
            "post": _staff("Add a mailbox (SMTP, and IMAP for replies and bounces)", "mail",
                           {"201": _json("Mailbox", "the mailbox")}, body="MailboxInput", write=True),
        },
        "/api/v1/mailboxes/{mailbox_id}": {
            "get": _staff("Get a mailbox", "mail", {"200": _json("Mailbox", "the mailbox")}, params=[mailbox_id],
                          lookup=True),
            "patch": _staff("Change a mailbox (a password left out or empty keeps the stored one)", "mail",
                            {"200": _json("Mailbox", "the mailbox")}, params=[mailbox_id], body="MailboxPatch",
                            write=True, lookup=True),
            "delete": _staff("Delete a mailbox nothing was sent from (else 409: make it inactive)", "mail",
                             {"204": {"description": "deleted"}, "409": IN_USE_409}, params=[mailbox_id],
                             write=True, lookup=True),
        },
        "/api/v1/mailboxes/{mailbox_id}/resume": {
            "post": _staff("Resume a mailbox paused for its bounce rate or a block (its queued emails go again)",
                           "mail", {"200": _json("Mailbox", "the mailbox"), "409": NOT_PAUSED_409},
                           params=[mailbox_id],
                           write=True, lookup=True),
        },
        "/api/v1/mailboxes/{mailbox_id}/test": {
            "post": {**_staff("Log in over SMTP and IMAP now (a failure is answered as a result, in one line)",
                              "mail", {"200": _json("ConnectionTest", "what each protocol answered")},
                              params=[mailbox_id], write=True, lookup=True),
                     "x-fetches": True},
        },
        # --- templates
        "/api/v1/templates": {
            "get": _staff("List the templates", "mail", {"200": _json("TemplateList", "a page of templates")},
                          listing=True),
            "post": _staff("Add a template (checked when saved: syntax and every variable)", "mail",
                           {"201": _json("Template", "the template")}, body="TemplateInput", write=True),
        },
        "/api/v1/templates/{template_id}": {
            "get": _staff("Get a template", "mail", {"200": _json("Template", "the template")},
                          params=[template_id], lookup=True),
            "patch": _staff("Change a template (checked again)", "mail", {"200": _json("Template", "the template")},
                            params=[template_id], body="TemplatePatch", write=True, lookup=True),
            "delete": _staff("Delete a template no step uses (else 409)", "mail",
                             {"204": {"description": "deleted"}, "409": IN_USE_409}, params=[template_id],
                             write=True, lookup=True),
        },
        # --- sequences and steps
        "/api/v1/sequences": {
            "get": _staff("List the sequences with their steps", "mail",
                          {"200": _json("SequenceList", "a page of sequences")}, listing=True),
            "post": _staff("Add a sequence: the first email and up to five follow-ups", "mail",
                           {"201": _json("Sequence", "the sequence")}, body="SequenceInput", write=True),
        },
        "/api/v1/sequences/{sequence_id}": {
            "get": _staff("Get a sequence", "mail", {"200": _json("Sequence", "the sequence")}, params=[sequence_id],
                          lookup=True),
            "patch": _staff("Rename a sequence or replace its steps", "mail",
                            {"200": _json("Sequence", "the sequence")}, params=[sequence_id], body="SequencePatch",
                            write=True, lookup=True),
            "delete": _staff("Delete a sequence nobody is enrolled in (else 409)", "mail",
                             {"204": {"description": "deleted"}, "409": IN_USE_409}, params=[sequence_id],
                             write=True, lookup=True),
        },
        "/api/v1/sequences/{sequence_id}/steps": {
            "get": _staff("A sequence's steps in order", "mail", {"200": _json("SequenceStepList", "the steps")},
                          params=[sequence_id], lookup=True),
            "post": _staff("Add a step (at the end, or at `position`)", "mail",
                           {"201": _json("SequenceStep", "the new step")}, params=[sequence_id], body="NewStep",
                           write=True, lookup=True),
        },
        "/api/v1/sequences/{sequence_id}/steps/{position}": {
            "patch": _staff("Change a step's template or delay", "mail", {"200": _json("SequenceStep", "the step")},
                            params=[sequence_id, position], body="StepPatch", write=True, lookup=True),
            "delete": _staff("Remove a step (the later ones move up)", "mail", {"204": {"description": "removed"}},
                             params=[sequence_id, position], write=True, lookup=True),
        },
        # --- a campaign's sending, enrolment, the queue
        "/api/v1/campaigns/{campaign_id}/mail-settings": {
            "get": _staff("A campaign's mailbox, sequence and whether sending is paused", "enrolment",
                          {"200": _json("MailSettings", "the settings")}, params=[campaign_id], lookup=True),
            "patch": _staff("Choose the mailbox (null: local outbox) and sequence, pause or resume sending",
                            "enrolment", {"200": _json("MailSettings", "the settings")}, params=[campaign_id],
                            body="MailSettingsPatch", write=True, lookup=True),
        },
        "/api/v1/campaigns/{campaign_id}/enrollments": {
            "post": _staff("Enrol prospects in the campaign's sequence; each refused one comes back with its reason "
                           "(a template that fails for anyone schedules nothing: 422)", "enrolment",
                           {"200": _json("EnrollResult", "who was enrolled (with the first email) and who not")},
                           params=[campaign_id], body="EnrollInput", write=True, lookup=True),
        },
        "/api/v1/campaigns/{campaign_id}/template-test": {
            "get": _staff("Per variant of the campaign's sequence: enrolled, sent, replied, bounced, unsubscribed and "
                          "reply rate, with the verdict of Fisher's exact test", "enrolment",
                          {"200": _json("TemplateTest", "the template test's results")}, params=[campaign_id],
                          lookup=True),
        },
        "/api/v1/prospects/{prospect_id}/enrollment": {
            "get": _staff("A prospect's place in its sequence (404 says why it is not enrolled)", "enrolment",
                          {"200": _json("Enrollment", "the enrolment")}, params=[prospect_id], lookup=True),
            "delete": _staff("Stop a prospect's sequence (its scheduled emails are cancelled)", "enrolment",
                             {"200": _json("Enrollment", "the stopped enrolment"),
                              "409": {"description": "no running sequence",
                                      "content": {"application/json": {"schema": ref("Error")}}}},
                             params=[prospect_id], write=True, lookup=True),
        },
        "/api/v1/campaigns/{campaign_id}/messages": {
            "get": _staff("A campaign's emails by due time (the queue: status=queue)", "enrolment",
                          {"200": _json("MessageList", "a page of messages")},
                          params=[campaign_id,
                                  _param("status", {"type": "string", "pattern": "^(queue|[a-z]+(,[a-z]+)*)$"},
                                         "'queue' (scheduled, sending, unknown) or comma-separated statuses: "
                                         f"{', '.join(MESSAGE_STATUSES)}"),
                                  _param("prospect_id", ID, "only this prospect's")],
                          listing=True, lookup=True),
        },
        "/api/v1/messages/{message_id}": {
            "get": _staff("A message, its bodies and its history (attempts, sent, bounced, replies)", "enrolment",
                          {"200": _json("MessageDetail", "the message")}, params=[message_id], lookup=True),
        },
        "/api/v1/messages/{message_id}/resolve": {
            "post": _staff("Say what became of a message whose delivery is unknown", "enrolment",
                           {"200": _json("Message", "the message, now sent or scheduled again")},
                           params=[message_id], body="ResolveInput", write=True, lookup=True),
        },
        # --- the review queue (personalise before sending)
        "/api/v1/review": {
            "get": _reviewer("First emails waiting for review, the soonest due first",
                             {"200": _json("ReviewList", "a page of first emails")},
                             params=[_param("campaign_id", ID, "only this campaign's")], listing=True),
        },
        "/api/v1/review/{message_id}": {
            "get": _reviewer("A first email to review (404 for any other message)",
                             {"200": _json("Review", "the first email")}, params=[message_id], lookup=True),
            "patch": _reviewer("Personalise a waiting first email for its prospect only",
                               {"200": _json("Review", "the edited email, still waiting"), "409": NOT_WAITING_409},
                               params=[message_id], body="ReviewEdit", write=True, lookup=True),
        },
        "/api/v1/review/{message_id}/approve": {
            "post": _reviewer("Approve a waiting first email: it goes at its time (409 if someone approved it first)",
                              {"200": _json("Review", "the approved email"), "409": NOT_WAITING_409},
                              params=[message_id], write=True, lookup=True),
        },
        "/api/v1/review/approve": {
            "post": _reviewer("Approve several waiting first emails; each one left out comes back with the reason",
                              {"200": _json("ReviewApproveResult", "what was approved and what was not")},
                              body="ReviewApproveInput", write=True),
        },
        "/api/v1/inbound-threads": {
            "get": _staff("Replies, auto-replies and bounces, by thread (one per prospect), latest first", "enrolment",
                          {"200": _json("InboundThreadList", "a page of threads")},
                          params=[_param("campaign_id", ID, "only this campaign's"),
                                  _param("kind", {"type": "string", "pattern": "^[a-z_]+(,[a-z_]+)*$"},
                                         "comma-separated kinds: "
                                         f"{', '.join(k for k in INBOUND_KINDS if k != 'unmatched')}")],
                          listing=True, lookup=True),
        },
        "/api/v1/inbound-unmatched": {
            "get": _staff("Inbound mail that names none of our messages (no thread), newest first", "enrolment",
                          {"200": _json("InboundMessageList", "a page of inbound messages")}, listing=True),
        },
        # --- do not contact
        "/api/v1/suppressions": {
            "get": _staff("The do-not-contact list", "suppressions",
                          {"200": _json("SuppressionList", "a page of entries")},
                          params=[_param("search", {"type": "string", "maxLength": 200},
                                         "case-insensitive substring of the value or the note"),
                                  _param("reason", {"type": "string", "enum": list(SUPPRESSION_REASONS)}, "why"),
                                  _param("kind", {"type": "string", "enum": ["domain", "email"]}, "domain or email"),
                                  _param("sort", {"type": "string", "enum": [s for k in SUPPRESSION_SORTS
                                                                             for s in (k, f"-{k}")],
                                                  "default": "-created"}, "a leading '-' sorts descending")],
                          listing=True),
            "post": _staff("Put a domain or an address on the do-not-contact list", "suppressions",
                           {"201": _json("Suppression", "the entry")}, body="SuppressionInput", write=True),
        },
        "/api/v1/suppressions/{suppression_id}": {
            "get": _staff("Get an entry", "suppressions", {"200": _json("Suppression", "the entry")},
                          params=[suppression_id], lookup=True),
            "patch": _staff("Change an entry's note", "suppressions", {"200": _json("Suppression", "the entry")},
                            params=[suppression_id], body="SuppressionPatch", write=True, lookup=True),
            "delete": _staff("Take an entry off the list (it may be contacted again)", "suppressions",
                             {"204": {"description": "removed"}}, params=[suppression_id], write=True, lookup=True),
        },
        # --- bulk prospects
        "/api/v1/campaigns/{campaign_id}/prospects/bulk": {
            "post": _op(f"Add up to {MAX_ROWS:,} prospects in one transaction; each refused item says why (422 when "
                        "none was created, with error.rows)", "prospects",
                        {"201": _json("BulkProspectsResult", "what was created and what was refused")},
                        params=[campaign_id], body="BulkProspectsInput", write=True, lookup=True),
        },
        # --- webhooks
        # --- workspace settings
        "/api/v1/settings": {
            "get": _op("The workspace settings, each with where its value comes from", "settings",
                       {"200": _json("WorkspaceSettings", "the settings"), "403": SETTINGS_403}),
            "patch": _op("Change workspace settings (as on the Settings page)", "settings",
                         {"200": _json("WorkspaceSettings", "the settings"), "403": SETTINGS_403},
                         body="WorkspaceSettingsPatch", write=True),
        },
        "/api/v1/webhooks": {
            "get": _admin("List the webhooks (their secrets are never answered)",
                          {"200": _json("WebhookList", "a page of webhooks")}, listing=True),
            "post": _admin("Register a URL for events; the answer carries its signing secret, this once",
                           {"201": _json("WebhookWithSecret", "the webhook and its secret")}, body="WebhookInput",
                           write=True),
        },
        "/api/v1/webhooks/{webhook_id}": {
            "get": _admin("Get a webhook", {"200": _json("Webhook", "the webhook")}, params=[webhook_id],
                          lookup=True),
            "patch": _admin("Change a webhook's URL, events, description, or turn it off",
                            {"200": _json("Webhook", "the webhook")}, params=[webhook_id], body="WebhookPatch",
                            write=True, lookup=True),
            "delete": _admin("Delete a webhook with its deliveries", {"204": {"description": "deleted"}},
                             params=[webhook_id], write=True, lookup=True),
        },
        "/api/v1/webhooks/{webhook_id}/rotate-secret": {
            "post": _admin("A new signing secret, answered this once",
                           {"200": _json("WebhookWithSecret", "the webhook and its new secret")},
                           params=[webhook_id], write=True, lookup=True),
        },
        "/api/v1/webhooks/{webhook_id}/deliveries": {
            "get": _admin("A webhook's deliveries, newest first, with each attempt's answer",
                          {"200": _json("WebhookDeliveryList", "a page of deliveries")},
                          params=[webhook_id, _param("status", {"type": "string", "enum": list(DELIVERY_STATUSES)},
                                                     "only these")], listing=True, lookup=True),
        },
        "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver": {
            "post": _admin("Send a delivery that failed for good once more",
                           {"200": _json("WebhookDelivery", "the delivery, queued again"),
                            "409": {"description": "it has not failed",
                                    "content": {"application/json": {"schema": ref("Error")}}}},
                           params=[webhook_id, delivery_id], write=True, lookup=True),
        },
    }


WEBHOOKS_DESCRIPTION = (
    "Webhooks: an admin registers a URL for some of: " + ", ".join(WEBHOOK_EVENTS) + ". Each event is POSTed as "
    "JSON {id, event, created_at, data} with the headers X-Outreach-Event, X-Outreach-Delivery (deduplicate on it: "
    "a delivery may arrive twice, never zero times) and X-Outreach-Signature: t=<unix seconds>,v1=<hex "
    "HMAC-SHA256 of '<t>.<body>' keyed by the secret>. A 2xx answer delivers it; anything else is retried after "
    + ", ".join(f"{s} s" for s in BACKOFF) + ", then the delivery has failed. No redirect is followed; private "
    "addresses are refused.")
