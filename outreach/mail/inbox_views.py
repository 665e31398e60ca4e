"""Mail → Inbox: the team's replies, auto-replies and bounces, a thread per prospect, answering and "remove me".

A blueprint nested in the mail blueprint (its endpoints are mail.inbox.*); staff only, every record checked.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from outreach.db import write_transaction
from outreach.lib.ids import chosen_id
from outreach.mail import inbox
from outreach.mail.mailboxes import MailError
from outreach.models import Prospect
from outreach.models.mail import InboundMessage
from outreach.web.auth import record_or_404, staff_required
from outreach.web.state import db_session, settings

bp = Blueprint("inbox", __name__)

#: how the inbox names each kind of inbound message, and the badge tone
KINDS = {"reply": ("reply", "ok"), "auto_reply": ("auto-reply", ""), "bounce": ("bounce", "bad"),
         "soft_bounce": ("soft bounce", "warn"), "unsubscribe": ("unsubscribed", "bad"),
         "unmatched": ("no prospect", "")}


def _inbound_or_404(inbound_id: int, *, edit: bool = False) -> tuple[InboundMessage, Prospect]:
    """The inbound message and its prospect, if the current user may see (and change) that prospect."""
    found = db_session().get(InboundMessage, inbound_id)
    if found is None or found.reply_to is None:
        abort(404)
    return found, record_or_404(found.reply_to.prospect, edit=edit)


@bp.route("/mail/inbox")
@staff_required
def index() -> str:
    session = db_session()
    status = request.args.get("status", "unread")
    status = status if status in inbox.STATUSES else "unread"
    owner = request.args.get("owner", "")
    owner_id = current_user.id if owner == "me" else chosen_id(owner)
    filters = inbox.InboxFilter(status=status, campaign_id=chosen_id(request.args.get("campaign_id")),
                                owner_id=owner_id)
    owners = inbox.team(session)
    return render_template("mail/inbox.html", items=inbox.inbox(session, filters), filters=filters, owner=owner,
                           campaigns=inbox.campaigns_with_mail(session), owners=owners, kinds=KINDS,
                           inbox_unread=inbox.unread_count(session), unmatched=inbox.unmatched_count(session))


@bp.route("/mail/inbox/<int:inbound_id>")
@staff_required
def thread(inbound_id: int) -> str:
    session = db_session()
    inbound, prospect = _inbound_or_404(inbound_id)
    if inbound.read_at is None:
        write_transaction(session)  # a page that writes: opening it marks the message read for the team
        inbox.mark_read(session, inbound, current_user)
        session.commit()
    return _thread_page(inbound, prospect, "")


def _thread_page(inbound: InboundMessage, prospect: Prospect, body: str) -> str:
    session = db_session()
    return render_template("mail/thread.html", inbound=inbound, prospect=prospect, kinds=KINDS,
                           items=inbox.thread(session, prospect), refusal=inbox.answer_refusal(session, inbound),
                           removal_done=inbox.removal_done(session, inbound), body=body)


@bp.route("/mail/inbox/<int:inbound_id>/answer", methods=["POST"])
@staff_required
def answer(inbound_id: int) -> tuple[str, int] | Response:
    session = db_session()
    inbound, prospect = _inbound_or_404(inbound_id, edit=True)
    text = request.form.get("body", "")
    try:
        message = inbox.schedule_answer(session, inbound, text, current_user)
    except MailError as exc:
        session.rollback()
        flash(str(exc), "error")
        return _thread_page(inbound, prospect, text), 422
    session.commit()
    tick = settings().scheduler.send_tick_seconds
    flash(f"Your answer to {message.to_email} is in the queue: it goes out within {tick} s, as the mailbox's "
          "sending window and cap allow.", "success")
    return redirect(url_for("mail.inbox.thread", inbound_id=inbound.id))


@bp.route("/mail/inbox/<int:inbound_id>/read", methods=["POST"])
@staff_required
def read(inbound_id: int) -> Response:
    session = db_session()
    inbound, _prospect = _inbound_or_404(inbound_id, edit=True)
    inbox.mark_read(session, inbound, current_user, read=request.form.get("read") != "0")
    session.commit()
    return redirect(url_for("mail.inbox.index", **_filters_of(request.form)))


@bp.route("/mail/inbox/<int:inbound_id>/do-not-contact", methods=["POST"])
@staff_required
def do_not_contact(inbound_id: int) -> Response:
    session = db_session()
    inbound, _prospect = _inbound_or_404(inbound_id, edit=True)
    try:
        inbox.honour_removal(session, inbound, current_user)
    except MailError as exc:
        session.rollback()
        flash(str(exc), "error")
    else:
        session.commit()
        flash(f"{inbound.from_email} is on the do-not-contact list; every sequence to them has stopped.", "success")
    return redirect(url_for("mail.inbox.thread", inbound_id=inbound.id))


def _filters_of(form: Any) -> dict[str, str]:
    return {k: form[k] for k in ("status", "campaign_id", "owner") if form.get(k)}


@bp.app_template_global()
def mail_conversation(prospect: Prospect) -> list[inbox.ThreadItem]:
    """The prospect's emails, ours and theirs, for the prospect page (staff only: the page checks)."""
    return inbox.thread(db_session(), prospect)


@bp.app_template_global()
def inbox_preview(inbound: InboundMessage) -> str:
    return inbox.preview(inbound)


@bp.app_template_global()
def unread_replies() -> int:
    return inbox.unread_count(db_session())
