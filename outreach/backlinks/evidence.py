"""What one verification saw: the result of `outreach verify` and the evidence a BacklinkCheck keeps."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: rel tokens that weaken a link; each is also a problem name
WEAK_RELS = ("nofollow", "sponsored", "ugc")


@dataclass
class FoundLink:
    href: str
    anchor: str
    rel: list[str]
    is_image: bool = False
    #: "static" (the HTML as served) or "rendered" (the DOM after JavaScript ran)
    dom: str = "static"

    @property
    def is_followed(self) -> bool:
        return not any(token in WEAK_RELS for token in self.rel)


@dataclass
class CheckResult:
    page: str
    final_url: str | None
    http_status: int | None
    #: live: the page answers and links to the target; missing: it answers without the link; error: no usable page;
    #: unknown: it answers but could not be read whole, and the part read has no link (problems say why)
    status: str
    links: list[FoundLink] = field(default_factory=list)
    follow: bool = False
    indexable: bool = False
    problems: list[str] = field(default_factory=list)
    redirects: list[tuple[str, int]] = field(default_factory=list)
    #: the fetcher's reason code when there was no HTTP answer
    error: str | None = None
    meta_robots: list[str] = field(default_factory=list)
    x_robots_tag: str = ""
    robots_allowed_googlebot: bool | None = None
    robots_allowed_agent: bool | None = None
    canonical: str | None = None
    anchor_expected: str | None = None
    anchor_matches: bool | None = None
    #: "static", "rendered" or "" when no link was found
    found_in: str = ""
    rendered: bool = False
    render_error: str | None = None

    @property
    def is_live(self) -> bool:
        return self.status == "live"

    @property
    def rel_tokens(self) -> list[str]:
        """The weakening rel tokens of the best link (a followed one when there is one)."""
        best = self.best_link
        return sorted({t for t in best.rel if t in WEAK_RELS}) if best else []

    @property
    def best_link(self) -> FoundLink | None:
        for link in self.links:
            if link.is_followed:
                return link
        return self.links[0] if self.links else None

    def to_json(self) -> dict[str, Any]:
        """The `outreach verify --json` object (the contract's fields first, then the details)."""
        data = asdict(self)
        data["redirects"] = [{"url": url, "status": status} for url, status in self.redirects]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CheckResult:
        values = dict(data)
        values["links"] = [FoundLink(**link) for link in data.get("links", [])]
        values["redirects"] = [(r["url"], r["status"]) for r in data.get("redirects", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in values.items() if k in known})
