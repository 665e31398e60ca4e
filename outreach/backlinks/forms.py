"""Forms for the link ledger."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from outreach.web.forms import options

MATCH_LABELS = [("exact", "Exactly this URL"), ("site", "Any URL on the target's site")]
REL_LABELS = [("follow", "Followed"), ("nofollow", "nofollow"), ("sponsored", "sponsored"), ("ugc", "ugc"),
              ("any", "Any")]
PAYMENT_LABELS = [("", "—"), ("unpaid", "Unpaid"), ("invoiced", "Invoiced"), ("paid", "Paid"),
                  ("refunded", "Refunded")]


class EditBacklinkForm(FlaskForm):
    page_url = StringField("Page URL", description="The article or page carrying the link. Leave empty if not "
                                                   "published yet: the site URL is then searched.")
    site_url = StringField("Site URL", description="Where to look for the page while its URL is unknown.")
    target_url = StringField("Target URL", description="Your client's page the link should point to.")
    match_mode = SelectField("Match", choices=options(MATCH_LABELS))
    agreed_anchor = StringField("Agreed anchor text", description="Checked without regard to case or spacing. "
                                                                  "Leave empty to accept any anchor.")
    agreed_rel = SelectField("Agreed link type", choices=options(REL_LABELS),
                             description="Followed: a nofollow, sponsored or ugc link is “live, terms not met”.")
    price = StringField("Price")
    currency = StringField("Currency", description="Three letters: USD, EUR, GBP…")
    payment_status = SelectField("Payment", choices=options(PAYMENT_LABELS), default="")
    deadline = DateField("Live by", validators=[Optional()])
    notes = TextAreaField("Notes")
    render_js = BooleanField("Also check the page after JavaScript runs (headless Chromium)")


class BacklinkForm(EditBacklinkForm):
    client_id = SelectField("Client", coerce=int)
    campaign_id = SelectField("Campaign", coerce=int)
    #: set when the form was opened from a prospect's page: the link then belongs to that prospect
    prospect_id = HiddenField()


class ImportForm(FlaskForm):
    client_id = SelectField("Client", coerce=int)
    campaign_id = SelectField("Campaign", coerce=int)
    file = FileField("CSV file")
    text = TextAreaField("…or paste CSV")
