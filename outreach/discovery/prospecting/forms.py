"""Forms of the Prospecting tab and of a client's assets."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from outreach.web.forms import options

#: what a discovery run over seed sites finds
WALK_KIND_LABELS = {"guest_posts": "Guest-post targets", "mentions": "Infographic & brand mentions"}
RUN_KIND_LABELS = {**WALK_KIND_LABELS, "search": "Footprint search", "contacts": "Find contacts"}


class RunForm(FlaskForm):
    kind = SelectField("Find", choices=options(WALK_KIND_LABELS.items()))
    seeds = TextAreaField("Seed URLs", validators=[Optional(), Length(max=200_000)],
                          render_kw={"rows": 5, "placeholder": "https://blog.example/\nhttps://news.example/"})
    url_file = FileField("…or a CSV / text file of URLs")
    sitemap = StringField("…or a sitemap URL", validators=[Optional(), Length(max=2000)])
    max_pages = IntegerField("Pages per site", default=20, validators=[NumberRange(1, 500)])
    keywords = TextAreaField("Keywords for the relevance score", validators=[Optional(), Length(max=5000)],
                             render_kw={"rows": 2})
    asset_ids = SelectMultipleField("Assets to look for", coerce=int, validate_choice=False)


class SearchForm(FlaskForm):
    kind = SelectField("Find", choices=options(WALK_KIND_LABELS.items()))
    queries = TextAreaField("Footprint queries", validators=[Optional(), Length(max=5000)], render_kw={"rows": 5})
    per_query = IntegerField("Results per query", default=10, validators=[NumberRange(1, 20)])


class ContactsForm(FlaskForm):
    url = StringField("Site or page URL", validators=[DataRequired(), Length(max=2000)])


class AddForm(FlaskForm):
    override_reason = StringField("Override reason (to add despite a conflict)",
                                  validators=[Optional(), Length(max=500)])


class ImageAssetForm(FlaskForm):
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    target_url = StringField("Target URL (where the credit link should point)",
                             validators=[DataRequired(), Length(max=2000)])
    image = FileField("Upload the infographic")
    image_url = StringField("…or its URL", validators=[Optional(), Length(max=2000)])


class BrandAssetForm(FlaskForm):
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    brand_names = TextAreaField("Brand names (one per line)", validators=[DataRequired(), Length(max=2000)],
                                render_kw={"rows": 3})
    target_url = StringField("Target URL", validators=[DataRequired(), Length(max=2000)])
