"""Webhooks in the app: admins register URLs for alerts and read each delivery's log."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from outreach.lib.pages import paginate
from outreach.models.webhooks import Webhook, WebhookDelivery
from outreach.web.auth import admin_required
from outreach.web.forms import error_next_to_field
from outreach.web.state import app_state, db_session, settings
from outreach.webhooks import service
from outreach.webhooks.delivery import SIGNATURE_HEADER, fetch_settings
from outreach.webhooks.forms import WebhookForm

bp = Blueprint("webhooks", __name__)

#: deliveries shown on a webhook's page
LOG_SIZE = 50


def _webhook_or_404(webhook_id: int) -> Webhook:
    webhook = db_session().get(Webhook, webhook_id)
    if webhook is None:
        abort(404)
    return webhook


@bp.route("/settings/webhooks", methods=["GET", "POST"])
@admin_required
def index() -> str:
    session = db_session()
    form = WebhookForm()
    secret = created = None
    if form.validate_on_submit():
        try:
            created, secret = service.create_webhook(session, app_state().secret_box, fetch_settings(settings()),
                                                     url=form.url.data or "", events=form.events.data or [],
                                                     description=form.description.data or "", actor=current_user)
        except service.WebhookError as exc:
            session.rollback()
            error_next_to_field(form, exc, "url")
        else:
            session.commit()
            form = WebhookForm(formdata=None)
    hooks = session.scalars(service.webhooks_query()).all()
    return render_template("webhooks/index.html", form=form, webhooks=hooks, created=created, secret=secret,
                           labels=service.EVENT_LABELS, header=SIGNATURE_HEADER)


@bp.route("/settings/webhooks/<int:webhook_id>", methods=["GET", "POST"])
@admin_required
def detail(webhook_id: int) -> str | Response:
    session = db_session()
    webhook = _webhook_or_404(webhook_id)
    form = WebhookForm(obj=webhook)
    if form.validate_on_submit():
        try:
            service.update_webhook(session, webhook, fetch_settings(settings()), url=form.url.data or "",
                                   events=form.events.data or [], description=form.description.data or "",
                                   is_active=bool(form.is_active.data), actor=current_user)
        except service.WebhookError as exc:
            session.rollback()
            error_next_to_field(form, exc, "url")
        else:
            session.commit()
            flash("Webhook saved.", "success")
            return redirect(url_for("webhooks.detail", webhook_id=webhook.id))
    return _detail_page(webhook, form)


def _detail_page(webhook: Webhook, form: WebhookForm, secret: str | None = None) -> str:
    session = db_session()
    page = paginate(session, service.deliveries_query(webhook.id), 1, LOG_SIZE)
    return render_template("webhooks/detail.html", webhook=webhook, form=form, deliveries=page.items,
                           total=page.total, attempts=service.attempts_of(session, [d.id for d in page.items]),
                           labels=service.EVENT_LABELS, secret=secret, header=SIGNATURE_HEADER)


@bp.post("/settings/webhooks/<int:webhook_id>/rotate")
@admin_required
def rotate(webhook_id: int) -> str:
    """A new signing secret, shown on this page once (never put in a cookie or a later page)."""
    webhook = _webhook_or_404(webhook_id)
    secret = service.rotate_secret(db_session(), app_state().secret_box, webhook, current_user)
    db_session().commit()
    return _detail_page(webhook, WebhookForm(obj=webhook), secret)


@bp.post("/settings/webhooks/<int:webhook_id>/delete")
@admin_required
def delete(webhook_id: int) -> Response:
    webhook = _webhook_or_404(webhook_id)
    url = webhook.url
    service.delete_webhook(db_session(), webhook, current_user)
    db_session().commit()
    flash(f"Webhook to {url} deleted with its deliveries.", "success")
    return redirect(url_for("webhooks.index"))


@bp.post("/settings/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/redeliver")
@admin_required
def redeliver(webhook_id: int, delivery_id: int) -> Response:
    webhook = _webhook_or_404(webhook_id)
    delivery = db_session().get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.webhook_id != webhook.id:
        abort(404)
    try:
        service.redeliver(db_session(), delivery)
    except service.WebhookError as exc:
        flash(str(exc), "error")
    else:
        db_session().commit()
        flash("The delivery will be sent again on the next tick.", "success")
    return redirect(url_for("webhooks.detail", webhook_id=webhook.id))
