"""Forms of the referral traffic page: import an export, connect a Plausible or Matomo."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import PasswordField, SelectField, StringField

from outreach.web.forms import options

SOURCE_CHOICES = [("", "Recognise it"), ("ga4", "Google Analytics 4 (CSV)"), ("plausible", "Plausible (zip or CSV)"),
                  ("matomo", "Matomo (CSV)")]
KIND_CHOICES = [("plausible", "Plausible"), ("matomo", "Matomo")]


class ImportTrafficForm(FlaskForm):
    file = FileField("Export file")
    source = SelectField("Tool", choices=options(SOURCE_CHOICES), default="")
    month = StringField("Month", description="Only for a file that does not say which month it covers: 2026-10.")


class ConnectionForm(FlaskForm):
    kind = SelectField("Tool", choices=options(KIND_CHOICES))
    base_url = StringField("Address", description="https://plausible.io, or your own instance's address.")
    site_id = StringField("Site", description="Plausible: the site's domain as Plausible shows it. Matomo: the "
                                              "site's id (idSite).")
    token = PasswordField("API token", description="Plausible: an API key (Settings › API keys). Matomo: a "
                                                   "token_auth (Personal › Security); it is stored encrypted.")


class EditConnectionForm(FlaskForm):
    base_url = StringField("Address")
    site_id = StringField("Site")
    token = PasswordField("New API token", description="Leave empty to keep the stored one.")
