"""Mailbox, template and campaign-settings forms."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from outreach.web.forms import options

SECURITY_CHOICES = options([("starttls", "STARTTLS"), ("ssl", "SSL/TLS"), ("none", "None (loopback only)")])


class MailboxForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    from_name = StringField("Sender name", validators=[Optional(), Length(max=200)])
    from_email = StringField("Sender address", validators=[DataRequired(), Length(max=320)])
    smtp_host = StringField("SMTP host", validators=[DataRequired(), Length(max=255)])
    smtp_port = IntegerField("SMTP port", default=587, validators=[InputRequired(), NumberRange(1, 65535)])
    smtp_security = SelectField("SMTP security", choices=SECURITY_CHOICES, default="starttls")
    smtp_username = StringField("SMTP user", validators=[Optional(), Length(max=320)])
    smtp_password = PasswordField("SMTP password", validators=[Optional(), Length(max=500)])
    imap_host = StringField("IMAP host", validators=[Optional(), Length(max=255)])
    imap_port = IntegerField("IMAP port", default=993, validators=[InputRequired(), NumberRange(1, 65535)])
    imap_security = SelectField("IMAP security", choices=SECURITY_CHOICES, default="ssl")
    imap_username = StringField("IMAP user", validators=[Optional(), Length(max=320)])
    imap_password = PasswordField("IMAP password", validators=[Optional(), Length(max=500)])
    imap_sent_folder = StringField("Sent folder", default="Sent", validators=[Optional(), Length(max=200)])
    sent_copy = SelectField("Copy of each sent email in the Sent folder", default="auto", choices=options([
        ("auto", "Find out after the first send"), ("always", "Outreach files it (the server does not)"),
        ("never", "The server files it (Gmail, Microsoft 365…)")]))
    daily_cap = IntegerField("Daily cap", default=50, validators=[InputRequired(), NumberRange(0, 10000)])
    min_spacing_seconds = IntegerField("Minimum spacing (seconds)", default=120,
                                       validators=[InputRequired(), NumberRange(0, 86400)])
    jitter_seconds = IntegerField("Random extra spacing (seconds)", default=60,
                                  validators=[InputRequired(), NumberRange(0, 86400)])
    #: optional (left out: no warm-up, the default threshold)
    warmup_start = IntegerField("Warm-up: emails on day 1", default=0, validators=[Optional(), NumberRange(0, 10000)])
    warmup_increment = IntegerField("Warm-up: more each day", default=0,
                                    validators=[Optional(), NumberRange(0, 10000)])
    bounce_pause_percent = IntegerField("Pause above this bounce rate (%)", default=5,
                                        validators=[Optional(), NumberRange(0, 100)])
    window_days = StringField("Sending days", default="1,2,3,4,5", validators=[DataRequired(), Length(max=20)])
    window_start_hour = IntegerField("From hour", default=9, validators=[InputRequired(), NumberRange(0, 23)])
    window_end_hour = IntegerField("To hour", default=17, validators=[InputRequired(), NumberRange(1, 24)])
    timezone = StringField("Time zone", default="UTC", validators=[DataRequired(), Length(max=64)])
    is_active = BooleanField("Active (may send)", default=True)
    dkim_selector = StringField("DKIM selector", validators=[Optional(), Length(max=63)])
    dkim_private_key = TextAreaField("DKIM private key (PEM)", validators=[Optional(), Length(max=10000)])


class TemplateForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    subject = StringField("Subject", validators=[DataRequired(), Length(max=500)])
    body_text = TextAreaField("Plain-text body", validators=[DataRequired(), Length(max=20000)])
    body_html = TextAreaField("HTML body (optional)", validators=[Optional(), Length(max=20000)])


class CampaignMailForm(FlaskForm):
    mailbox_id = SelectField("Send from", coerce=int, validate_choice=False)
    sequence_id = SelectField("Sequence", coerce=int, validate_choice=False)


class ReviewForm(FlaskForm):
    """A first email as a reviewer personalises it (variables may be used, as in a template)."""

    subject = StringField("Subject", validators=[DataRequired(), Length(max=500)])
    body_text = TextAreaField("Plain-text body", validators=[DataRequired(), Length(max=20000)])
    body_html = TextAreaField("HTML body", validators=[Optional(), Length(max=20000)])
