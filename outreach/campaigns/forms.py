"""Client, campaign and prospect forms."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from outreach.models.campaigns import CAMPAIGN_KINDS
from outreach.web.forms import options

KIND_LABELS = {"broken_links": "Broken link building", "guest_posts": "Guest posts",
               "mentions": "Unlinked mentions & infographics", "custom": "Custom"}


class ClientForm(FlaskForm):
    name = StringField("Client name", validators=[DataRequired(), Length(max=200)])
    website = StringField("Website", validators=[Optional(), Length(max=500)])
    report_emails = StringField("Report recipients", validators=[Optional(), Length(max=1000)])
    notes = TextAreaField("Notes", validators=[Optional()])


class CampaignForm(FlaskForm):
    client_id = SelectField("Client", coerce=int, validate_choice=False)
    name = StringField("Campaign name", validators=[DataRequired(), Length(max=200)])
    kind = SelectField("Kind", choices=options([(k, KIND_LABELS[k]) for k in CAMPAIGN_KINDS]))
    target_urls = TextAreaField("Target URLs", validators=[Optional()])
    keywords = TextAreaField("Keywords", validators=[Optional()])
    owner_id = SelectField("Owner", coerce=int, validate_choice=False)
    status = SelectField("Status", choices=options([("active", "Active"), ("paused", "Paused"),
                                            ("archived", "Archived")]))


class ProspectForm(FlaskForm):
    url = StringField("Page or site URL", validators=[DataRequired(), Length(max=2000)])
    email = StringField("Contact email", validators=[Optional(), Length(max=320)])
    contact_name = StringField("Contact name", validators=[Optional(), Length(max=200)])
    override_reason = StringField("Override reason", validators=[Optional(), Length(max=500)])


class NoteForm(FlaskForm):
    text = TextAreaField("Note", validators=[DataRequired(), Length(max=10000)])


class ContactForm(FlaskForm):
    email = StringField("Email address", validators=[DataRequired("Give an address."), Length(max=320)])
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    override_reason = StringField("Override reason", validators=[Optional(), Length(max=500)])
