"""The webhook form (Flask-WTF: it carries a CSRF token)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from outreach.models.webhooks import WEBHOOK_EVENTS
from outreach.web.forms import options
from outreach.webhooks.service import EVENT_LABELS


class WebhookForm(FlaskForm):
    url = StringField("URL", validators=[DataRequired(), Length(max=2000)])
    events = SelectMultipleField("Events", choices=options([(e, EVENT_LABELS[e]) for e in WEBHOOK_EVENTS]),
                                 widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
                                 validate_choice=False)
    description = StringField("Description", validators=[Optional(), Length(max=200)])
    is_active = BooleanField("Active (deliveries are sent)", default=True)
