"""What made a site an opportunity, per prospect: the one home read by the prospect page, the board card,
the API, the CSV export and the email template context.

Discovery stores its evidence in `Opportunity.details` (one row per linking page and dead URL for broken
links, one per guidelines page, one per mention). This module turns a prospect's rows into one
`OpportunityContext`: every dead URL on the site with its anchors and linking pages, the guest-post
guidelines, the matched image or the sentence naming the brand.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.models import Opportunity, Prospect

WAYBACK = "https://web.archive.org/web/*/"
KIND_LABELS = {"broken_link": "Broken link", "guest_post": "Guest post", "image_mention": "Image mention",
               "brand_mention": "Brand mention"}
_PHASH = re.compile(r"^phash:(\d+)$")


def wayback_url(url: str) -> str:
    """The Wayback Machine's list of captures of a URL (where the old content can be found)."""
    return WAYBACK + quote(url, safe=":/?&=%#+,;@~")


@dataclass(frozen=True)
class DeadLink:
    """One dead URL the prospect's site links to, with every page of theirs that links to it."""

    url: str
    reason: str
    status: int | None
    anchors: tuple[str, ...]
    linking_pages: tuple[str, ...]
    first_seen_at: datetime | None

    @property
    def anchor(self) -> str:
        return next((a for a in self.anchors if a.strip()), "")

    @property
    def page_url(self) -> str:
        return self.linking_pages[0] if self.linking_pages else ""

    @property
    def wayback_url(self) -> str:
        return wayback_url(self.url)

    @property
    def status_text(self) -> str:
        return f"HTTP {self.status}" if self.status else self.reason.replace("_", " ")

    def as_json(self) -> dict[str, Any]:
        return {"url": self.url, "reason": self.reason, "status": self.status, "anchor": self.anchor,
                "anchors": list(self.anchors), "linking_pages": list(self.linking_pages),
                "first_seen_at": _iso(self.first_seen_at), "wayback_url": self.wayback_url}


@dataclass(frozen=True)
class GuestPost:
    """A site's guest-post guidelines page and what it asks for."""

    guidelines_url: str
    requirements: dict[str, list[str]]
    submission_emails: tuple[str, ...]
    form_urls: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def submission_email(self) -> str:
        return self.submission_emails[0] if self.submission_emails else ""

    @property
    def form_url(self) -> str:
        return self.form_urls[0] if self.form_urls else ""

    @property
    def requirements_text(self) -> str:
        return "; ".join(f"{name.replace('_', ' ')}: {', '.join(values)}"
                         for name, values in self.requirements.items() if values)

    def as_json(self, *, internal: bool = True) -> dict[str, Any]:
        return {"guidelines_url": self.guidelines_url, "requirements": self.requirements,
                "submission_emails": list(self.submission_emails) if internal else [],
                "form_urls": list(self.form_urls), "reasons": list(self.reasons)}


@dataclass(frozen=True)
class MentionEvidence:
    """A page that uses the client's image or names the brand without linking to the target."""

    kind: str  # image | brand
    page_url: str
    #: the matched image's URL (kind image), or the sentence naming the brand (kind brand)
    evidence: str
    #: how it matched: url, sha256 or phash (image); the brand name found (brand)
    match_method: str
    #: perceptual-hash distance in bits, for a phash match
    distance: int | None
    asset: str

    @property
    def image_url(self) -> str:
        return self.evidence if self.kind == "image" else ""

    @property
    def sentence(self) -> str:
        return self.evidence if self.kind == "brand" else ""

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "page_url": self.page_url, "image_url": self.image_url,
                "sentence": self.sentence, "match_method": self.match_method, "distance": self.distance,
                "asset": self.asset}


@dataclass
class OpportunityContext:
    """Everything discovery found that makes this prospect an opportunity, most useful first."""

    broken_links: list[DeadLink] = field(default_factory=list)
    guest_post: GuestPost | None = None
    mentions: list[MentionEvidence] = field(default_factory=list)
    #: the page the prospect was found on, by the strongest opportunity
    page_url: str = ""

    @property
    def kinds(self) -> list[str]:
        kinds = ["broken_link"] if self.broken_links else []
        kinds += ["guest_post"] if self.guest_post else []
        kinds += list(dict.fromkeys(f"{m.kind}_mention" for m in self.mentions))
        return kinds

    @property
    def kind(self) -> str:
        return self.kinds[0] if self.kinds else ""

    @property
    def is_empty(self) -> bool:
        return not self.kinds

    @property
    def summary(self) -> str:
        """One line for the board card: "3 dead links", "Guest post", "Image mention"."""
        parts = []
        if self.broken_links:
            count = len(self.broken_links)
            parts.append(f"{count} dead link{'s' if count != 1 else ''}")
        parts += [KIND_LABELS[kind] for kind in self.kinds if kind != "broken_link"]
        return " · ".join(parts)

    def as_json(self, *, internal: bool = True) -> dict[str, Any]:
        """The API's `opportunity` object of a prospect (internal=False: without submission addresses)."""
        return {"kinds": self.kinds, "page_url": self.page_url,
                "broken_links": [d.as_json() for d in self.broken_links],
                "guest_post": self.guest_post.as_json(internal=internal) if self.guest_post else None,
                "mentions": [m.as_json() for m in self.mentions]}

    def template_values(self) -> dict[str, Any]:
        """The `opportunity` namespace of the email template context (documented in mail.render.VARIABLES)."""
        first = self.broken_links[0] if self.broken_links else None
        image = next((m for m in self.mentions if m.kind == "image"), None)
        brand = next((m for m in self.mentions if m.kind == "brand"), None)
        mention = image or brand
        guest = self.guest_post
        return {
            "kind": self.kind,
            "page_url": self.page_url,
            "broken_url": first.url if first else "",
            "anchor": first.anchor if first else "",
            "linking_page": first.page_url if first else "",
            "wayback_url": first.wayback_url if first else "",
            "broken_links": [{"url": d.url, "anchor": d.anchor, "page_url": d.page_url, "status": d.status_text,
                              "wayback_url": d.wayback_url} for d in self.broken_links],
            "guidelines_url": guest.guidelines_url if guest else "",
            "submission_email": guest.submission_email if guest else "",
            "form_url": guest.form_url if guest else "",
            "requirements": guest.requirements_text if guest else "",
            "mention_page": mention.page_url if mention else "",
            "image_url": image.image_url if image else "",
            "mention_text": brand.sentence if brand else "",
        }

    def csv_values(self) -> tuple[str, ...]:
        """The export's opportunity columns (see CSV_HEADER)."""
        guest = self.guest_post
        return (" ".join(self.kinds),
                " ".join(d.url for d in self.broken_links),
                " | ".join(d.anchor for d in self.broken_links),
                " ".join(dict.fromkeys(p for d in self.broken_links for p in d.linking_pages)),
                guest.guidelines_url if guest else "",
                " ".join(m.image_url for m in self.mentions if m.image_url),
                " | ".join(m.sentence for m in self.mentions if m.sentence))


#: the export's columns for an opportunity, in csv_values() order
CSV_HEADER = ("opportunity_kinds", "dead_urls", "dead_link_anchors", "linking_pages", "guidelines_url",
              "matched_images", "mention_sentences")


def for_prospect(session: Session, prospect: Prospect) -> OpportunityContext:
    """One prospect's opportunity context."""
    return for_prospects(session, [prospect])[prospect.id]


def for_prospects(session: Session, prospects: Sequence[Prospect]) -> dict[int, OpportunityContext]:
    """Opportunity contexts of many prospects in one query (per 500), by prospect id."""
    return for_keys(session, [(p.id, p.campaign_id, p.site_id) for p in prospects])


def for_keys(session: Session, keys: Sequence[tuple[int, int, int]]) -> dict[int, OpportunityContext]:
    """Contexts by prospect id, from (prospect id, campaign id, site id) triples, in one query per 500.

    A campaign has one card per site, so a prospect's opportunities are those found on its site in its
    campaign, whether discovery attached them to the card or they were found after it was added by hand.
    """
    rows: dict[int, list[Opportunity]] = {prospect_id: [] for prospect_id, _, _ in keys}
    for start in range(0, len(keys), 500):
        owner = {(campaign_id, site_id): prospect_id for prospect_id, campaign_id, site_id in keys[start:start + 500]}
        found = session.scalars(select(Opportunity).where(
            Opportunity.site_id.in_({site_id for _, site_id in owner}),
            Opportunity.campaign_id.in_({campaign_id for campaign_id, _ in owner}),
            Opportunity.status != "dismissed").order_by(Opportunity.score.desc(), Opportunity.id))
        for opportunity in found:
            prospect_id = owner.get((opportunity.campaign_id, opportunity.site_id))
            if prospect_id is not None:
                rows[prospect_id].append(opportunity)
    return {prospect_id: build(items) for prospect_id, items in rows.items()}


def build(opportunities: Iterable[Opportunity]) -> OpportunityContext:
    """Fold a prospect's opportunity rows (strongest first) into its context."""
    context = OpportunityContext()
    dead: dict[str, dict[str, Any]] = {}
    for opportunity in opportunities:
        details = opportunity.details or {}
        context.page_url = context.page_url or opportunity.page_url
        if opportunity.kind == "broken_link":
            url = details.get("dead_url") or ""
            if not url:
                continue
            entry = dead.setdefault(url, {"reason": details.get("reason") or "", "status": details.get("status"),
                                          "anchors": [], "pages": [], "first": opportunity.created_at,
                                          "linking": 0})
            entry["anchors"].extend(a for a in details.get("anchors") or [] if isinstance(a, str))
            entry["pages"].append(opportunity.page_url)
            entry["linking"] = max(entry["linking"], int(details.get("pages_linking") or 0))
            if opportunity.created_at and (entry["first"] is None or opportunity.created_at < entry["first"]):
                entry["first"] = opportunity.created_at
        elif opportunity.kind == "guest_post" and context.guest_post is None:
            context.guest_post = GuestPost(
                guidelines_url=details.get("guidelines_url") or opportunity.page_url,
                requirements={str(k): [str(v) for v in values] for k, values in
                              (details.get("requirements") or {}).items() if isinstance(values, list)},
                submission_emails=tuple(details.get("emails") or ()), form_urls=tuple(details.get("form_urls") or ()),
                reasons=tuple(details.get("reasons") or ()))
        elif opportunity.kind in ("image_mention", "brand_mention"):
            match = str(details.get("match") or "")
            phash = _PHASH.match(match)
            context.mentions.append(MentionEvidence(
                kind="image" if opportunity.kind == "image_mention" else "brand",
                page_url=details.get("page") or opportunity.page_url, evidence=str(details.get("evidence") or ""),
                match_method="phash" if phash else match, distance=int(phash.group(1)) if phash else None,
                asset=str(details.get("asset") or "")))
    context.broken_links = sorted(
        (DeadLink(url=url, reason=e["reason"], status=e["status"], anchors=tuple(dict.fromkeys(e["anchors"])),
                  linking_pages=tuple(dict.fromkeys(e["pages"])), first_seen_at=e["first"])
         for url, e in dead.items()),
        key=lambda d: (-len(d.linking_pages), d.first_seen_at.timestamp() if d.first_seen_at else float("inf"), d.url))
    return context


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
