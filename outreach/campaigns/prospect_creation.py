"""The one way a prospect is created: by hand, by the API, by an import and from discovery findings.

`create_prospects` takes prospects that are already checked (their URL, address, duplicates and the
contact rules: see `service.add_prospect` for one, `importer.plan_import` for a file) and writes their
sites, contacts, cards and timeline entries in a few statements, whatever their number:

- **site**: the registrable domain's Site, created when new; site-level metrics overwrite what it had,
  a missing (None) metric keeps it;
- **contact**: the one Contact of the address, created when new (linked to the site, `found_on` the page
  the prospect was added with); an existing contact gets the name and the site it lacked, never loses one;
- **card**: stage "new", at the bottom of the campaign's "new" column, in the order given (the column's
  highest position + 1, + 2, ...); page-level imported fields on the card; `override_reason` and
  `overridden` as `contact_rules.override_columns` says when it was allowed despite conflicts;
- **timeline**: one "created" entry, "Added <domain> (<source>)" (with the row's warnings after a colon),
  and an "override" entry "Added despite: <conflicts>. Reason: <reason>" when conflicts were set aside.

Flask-free; it flushes, the caller commits.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from outreach.campaigns import metrics as metric_table
from outreach.campaigns.contact_rules import override_columns
from outreach.lib.clock import utcnow
from outreach.models import Activity, Campaign, Contact, Prospect, Site, User

#: the Site's metric columns (all of them on a new site: a new site has no older values to keep)
_SITE_LEVEL = tuple(m.name for m in metric_table.SITE_METRICS)
#: the card's page-level fields when the new prospect does not bring them
PAGE_DEFAULTS: dict[str, Any] = {"page_title": "", "link_anchor": "", "link_target_url": "", "link_is_nofollow": None,
                                 **{m.name: None for m in metric_table.PAGE_METRICS}}
#: bind-parameter batch size for IN (...) lookups
_CHUNK = 900
#: the timeline source of a prospect added one at a time (web form, API)
BY_HAND = "by hand"


@dataclass(slots=True)
class NewProspect:
    """A prospect to create, already checked: its URL is an http(s) URL, `domain` its registrable domain,
    `email` a normalised address (or None), `name` stripped; `metrics` the site-level ones (typed, None:
    keep what the site has) and `page` the card's page-level fields (see PAGE_DEFAULTS)."""

    url: str
    domain: str
    email: str | None = None
    name: str = ""
    metrics: Mapping[str, float | int | None] = field(default_factory=dict)
    page: Mapping[str, Any] = field(default_factory=dict)
    owner_id: int | None = None
    #: the conflicts it is created despite (their messages) and their keys (contact_rules.Conflict)
    conflicts: Sequence[str] = ()
    conflict_keys: Sequence[str] = ()
    #: why those conflicts were set aside (required when there are conflicts)
    override_reason: str = ""
    #: where it came from, for the timeline: "by hand", "import of list.csv, line 2", "broken-link findings"
    source: str = BY_HAND
    #: problems it was created despite (an unusable email), appended to the timeline entry
    warnings: Sequence[str] = ()
    #: the line of the imported file it came from
    line: int | None = None


def created_text(domain: str, source: str, warnings: Sequence[str] = ()) -> str:
    """The timeline text of a new prospect, whichever way it came."""
    return f"Added {domain} ({source})" + (": " + "; ".join(warnings) if warnings else "")


def override_text(conflicts: Sequence[str], reason: str) -> str:
    return f"Added despite: {'; '.join(conflicts)}. Reason: {reason}"


def create_prospects(session: Session, campaign: Campaign, new: Sequence[NewProspect], *,
                     actor: User | None = None) -> list[int]:
    """Write these prospects (sites, contacts, cards, timeline) in bulk; their ids, in the order given.

    Each domain appears once and none is already in the campaign (the callers' checks): the unique
    constraint on (campaign, site) refuses the batch otherwise.
    """
    if not new:
        return []
    if any(p.conflicts and not p.override_reason.strip() for p in new):
        raise ValueError("a prospect created despite conflicts needs an override reason")
    session.flush()  # pending ORM changes first: what follows reads and writes the tables directly
    now = utcnow()
    site_ids = _write_sites(session, new, now)
    contact_ids = _write_contacts(session, new, site_ids, now)
    top = session.scalar(select(func.max(Prospect.position))
                         .where(Prospect.campaign_id == campaign.id, Prospect.stage == "new")) or 0.0
    cards = []
    for offset, p in enumerate(new, start=1):
        reason, overridden = override_columns(p.conflict_keys, p.override_reason) if p.conflicts else ("", [])
        cards.append({"campaign_id": campaign.id, "site_id": site_ids[p.domain],
                      "contact_id": contact_ids[p.email] if p.email else None, "page_url": p.url[:2000],
                      "stage": "new", "position": top + offset, "owner_id": p.owner_id,
                      "override_reason": reason, "overridden": overridden,
                      "created_at": now, "updated_at": now, "stage_changed_at": now, **PAGE_DEFAULTS, **p.page})
    session.execute(insert(Prospect), cards)
    prospect_ids: dict[int, int] = {}
    for chunk in _chunks([site_ids[p.domain] for p in new]):
        prospect_ids.update(session.execute(select(Prospect.site_id, Prospect.id).where(
            Prospect.campaign_id == campaign.id, Prospect.site_id.in_(chunk))).all())
    ids = [prospect_ids[site_ids[p.domain]] for p in new]

    actor_id = actor.id if actor else None
    entries: list[dict[str, Any]] = []
    for p, prospect_id in zip(new, ids, strict=True):
        details: dict[str, Any] = {"source": p.source}
        if p.line is not None:
            details["line"] = p.line
        entries.append({"prospect_id": prospect_id, "user_id": actor_id, "kind": "created",
                        "text": created_text(p.domain, p.source, p.warnings), "details": details, "created_at": now})
        if p.conflicts:
            reason = override_columns(p.conflict_keys, p.override_reason)[0]
            entries.append({"prospect_id": prospect_id, "user_id": actor_id, "kind": "override",
                            "text": override_text(p.conflicts, reason),
                            "details": {"conflicts": list(p.conflicts), "keys": list(p.conflict_keys)},
                            "created_at": now})
    session.execute(insert(Activity), entries)
    session.flush()
    _expire(session, set(site_ids.values()), set(contact_ids.values()))
    return ids


def _write_sites(session: Session, new: Sequence[NewProspect], now: Any) -> dict[str, int]:
    """The site id of every domain: new sites inserted with their metrics, known ones' metrics overwritten."""
    domains = list(dict.fromkeys(p.domain for p in new))
    site_ids = _ids(session, Site.domain, Site.id, domains)
    metrics = {p.domain: {k: v for k, v in p.metrics.items() if v is not None} for p in new}
    fresh = [d for d in domains if d not in site_ids]
    if fresh:
        session.execute(insert(Site), [{"domain": d, "created_at": now, **dict.fromkeys(_SITE_LEVEL), **metrics[d]}
                                       for d in fresh])
        site_ids.update(_ids(session, Site.domain, Site.id, fresh))
    # one executemany per combination of metrics present
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    known = set(domains) - set(fresh)
    for domain in domains:
        if domain in known and (values := metrics[domain]):
            groups.setdefault(tuple(sorted(values)), []).append(
                {"b_id": site_ids[domain], **{f"b_{k}": v for k, v in values.items()}})
    for keys, params in groups.items():
        statement = update(Site).where(Site.id == bindparam("b_id")).values({k: bindparam(f"b_{k}") for k in keys})
        session.connection().execute(statement, params)
    return site_ids


def _write_contacts(session: Session, new: Sequence[NewProspect], site_ids: Mapping[str, int],
                    now: Any) -> dict[str, int]:
    """The contact id of every address: new contacts inserted, known ones given the name and site they lacked."""
    emails = list(dict.fromkeys(p.email for p in new if p.email))
    if not emails:
        return {}
    known: dict[str, tuple[int, str, int | None]] = {}
    for chunk in _chunks(emails):
        known.update((e, (i, n, s)) for e, i, n, s in session.execute(
            select(Contact.email, Contact.id, Contact.name, Contact.site_id).where(Contact.email.in_(chunk))))
    fresh: dict[str, dict[str, Any]] = {}
    completed: dict[int, dict[str, Any]] = {}
    for p in new:
        if not p.email:
            continue
        if p.email in known:
            contact_id, name, site_id = known[p.email]
            change = completed.get(contact_id) or {"b_id": contact_id, "b_name": name, "b_site_id": site_id}
            if p.name and not change["b_name"]:
                change["b_name"] = p.name
            if change["b_site_id"] is None:
                change["b_site_id"] = site_ids[p.domain]
            if (change["b_name"], change["b_site_id"]) != (name, site_id):
                completed[contact_id] = change
        elif p.email not in fresh:
            fresh[p.email] = {"email": p.email, "name": p.name, "site_id": site_ids[p.domain], "found_on": p.url[:2000],
                              "created_at": now}
    if fresh:
        session.execute(insert(Contact), list(fresh.values()))
    if completed:
        session.connection().execute(
            update(Contact).where(Contact.id == bindparam("b_id"))
            .values(name=bindparam("b_name"), site_id=bindparam("b_site_id")), list(completed.values()))
    contact_ids = {e: i for e, (i, _n, _s) in known.items()}
    if fresh:
        contact_ids.update(_ids(session, Contact.email, Contact.id, list(fresh)))
    return contact_ids


def _ids(session: Session, key: Any, id_column: Any, values: Sequence[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for chunk in _chunks(values):
        ids.update(session.execute(select(key, id_column).where(key.in_(chunk))).all())
    return ids


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def _expire(session: Session, site_ids: set[int], contact_ids: set[int]) -> None:
    """Loaded sites and contacts that were written behind the ORM's back read their new values again."""
    for obj in list(session.identity_map.values()):
        if (isinstance(obj, Site) and obj.id in site_ids) or (isinstance(obj, Contact) and obj.id in contact_ids):
            session.expire(obj)
