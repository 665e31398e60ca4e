"""Never contact a site or an address twice, nor one on the do-not-contact list, without a deliberate override.

The one home of the rules, for adding a prospect (by hand, import or findings), setting its contact,
enrolling it and the send-time claim, one at a time or in bulk through the same `ContactRules`:

- the site is in another active campaign;
- the address is the contact of a prospect on another site in an active campaign, or was already emailed
  from another campaign;
- the domain or the address is on the do-not-contact list (by hand, unsubscribed, bounced, complained);
- the address failed its check.

Each conflict has a stable key. An override (a reason, kept on the timeline) stores the keys it covers on
the prospect, so the decision made when a site was added holds at enrolment and at send time; a conflict
that arises later (the address unsubscribes) is not covered. Unsubscribes and complaints are never
overridden at enrolment or send time.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from outreach.accounts.service import audit
from outreach.campaigns.errors import CampaignError
from outreach.campaigns.prospect_query import like_pattern
from outreach.lib import addresses
from outreach.lib.urls import BadURL, ensure_http_url, registrable_domain
from outreach.models import Campaign, Contact, Prospect, Site, Suppression, User
from outreach.models.campaigns import ACTIVE_STAGES
from outreach.models.mail import Message

SUPPRESSION_REASONS = ("manual", "unsubscribed", "bounced", "complained")
#: do-not-contact reasons no override can set aside
NEVER_OVERRIDDEN = ("unsubscribed", "complained")
_WHY = {"manual": "is on the do-not-contact list", "unsubscribed": "unsubscribed", "bounced": "bounced",
        "complained": "complained"}
#: message statuses that mean an address was emailed
_EMAILED = ("sent", "sending", "unknown")
_CHUNK = 500


@dataclass(frozen=True)
class Conflict:
    """Why contacting a site or address now would contact it twice, or against a do-not-contact."""

    reason: str  # "active_campaign" | "do_not_contact" | "undeliverable" | "contacted"
    message: str
    campaign_id: int | None = None
    #: what the conflict is about ("site:example.com@12", "dnc:email:a@b.example"...): overrides name these
    key: str = ""
    is_overridable: bool = True


class ProspectConflict(CampaignError):
    def __init__(self, conflicts: list[Conflict]) -> None:
        super().__init__("; ".join(c.message for c in conflicts))
        self.conflicts = conflicts


#: an override recorded before overrides named their keys covers whatever could be overridden
COVERS_ALL = "*"


def not_overridden(conflicts: Iterable[Conflict], overridden: Iterable[str] | None) -> list[Conflict]:
    """The conflicts an override with these keys does not cover."""
    covered = set(overridden or ())
    return [c for c in conflicts if not (c.is_overridable and (c.key in covered or COVERS_ALL in covered))]


def check_override(conflicts: Sequence[Conflict], reason: str | None) -> str:
    """The override reason that lets these conflicts pass, or ProspectConflict listing them.

    A conflict that can never be overridden (an unsubscribe) lets the site on the board with a reason, but
    enrolment and sending still refuse that address.
    """
    reason = (reason or "").strip()
    if conflicts and not reason:
        raise ProspectConflict(list(conflicts))
    return reason[:500]


class ContactRules:
    """The rules' facts for some sites and addresses, read in a few queries, then asked per row.

    Each lookup is chunked, or reads its whole (smaller) table when the table holds fewer rows than there
    are values to look up: a 200,000-row import on a young database costs a handful of queries.
    """

    def __init__(self, session: Session, *, campaign_id: int | None = None) -> None:
        self.session = session
        self.campaign_id = campaign_id
        self._busy_sites: dict[int, list[tuple[int, str, str]]] = {}
        self._busy_emails: dict[str, list[tuple[int, int, str]]] = {}
        self._emailed: dict[str, list[tuple[int, str]]] = {}
        self._suppressed: dict[tuple[str, str], tuple[str, str]] = {}
        self._invalid: dict[str, str] = {}
        #: every value the facts name (site ids, domains, addresses): a row naming none has no conflict
        self._named: set[Any] = set()

    def load(self, sites: Iterable[Site | None], emails: Iterable[str | None] = ()) -> ContactRules:
        """Read the facts about these sites and addresses."""
        return self.load_domains({site.domain: site.id for site in sites if site is not None}, emails)

    def load_domains(self, site_ids: dict[str, int | None], emails: Iterable[str | None] = ()) -> ContactRules:
        """load() by domain: site id of each domain (None for a site not in the database yet)."""
        known = set(site_ids.values())
        known.discard(None)
        email_list = set(map(str.lower, filter(None, emails)))
        others = Campaign.id != (self.campaign_id or -1)
        live = and_(Prospect.stage.in_(ACTIVE_STAGES), Campaign.status != "archived", others)
        busy_sites = (select(Prospect.site_id, Campaign.id, Campaign.name, Prospect.stage)
                      .join(Campaign, Campaign.id == Prospect.campaign_id).where(live))
        for site_id, cid, name, stage in self._rows(busy_sites, Prospect.site_id, known):
            self._busy_sites.setdefault(site_id, []).append((cid, name, stage))
        self._load_suppressions(set(site_ids), email_list)
        busy_emails = (select(Contact.email, Prospect.site_id, Campaign.id, Campaign.name)
                       .join(Prospect, Prospect.contact_id == Contact.id)
                       .join(Campaign, Campaign.id == Prospect.campaign_id).where(live))
        for email, site_id, cid, name in self._rows(busy_emails, Contact.email, email_list):
            self._busy_emails.setdefault(email, []).append((site_id, cid, name))
        emailed = (select(Contact.email, Campaign.id, Campaign.name).distinct()
                   .join(Message, Message.contact_id == Contact.id)
                   .join(Campaign, Campaign.id == Message.campaign_id)
                   .where(Message.status.in_(_EMAILED), others))
        for email, cid, name in self._rows(emailed, Contact.email, email_list):
            self._emailed.setdefault(email, []).append((cid, name))
        invalid = select(Contact.email, Contact.status_reason).where(Contact.status == "invalid")
        for email, why in self._rows(invalid, Contact.email, email_list):
            self._invalid[email] = why or "invalid"
        self._named = {*self._busy_sites, *self._busy_emails, *self._emailed, *self._invalid,
                       *(value for _kind, value in self._suppressed)}
        return self

    def load_suppressions(self, emails: Iterable[str]) -> ContactRules:
        """Only the do-not-contact entries of these addresses and their domains: what send_block needs."""
        self._load_suppressions(set(), set(map(str.lower, filter(None, emails))))
        return self

    def _load_suppressions(self, domains: set[str], email_list: set[str]) -> None:
        email_domains = set(map(itemgetter(2), map(str.rpartition, email_list, repeat("@"))))
        wanted_by_kind = {"domain": domains | email_domains, "email": email_list}
        # both kinds in one query (a send asks this once per message); the (kind, value) index serves it
        query = select(Suppression.value, Suppression.kind, Suppression.reason, Suppression.note).where(
            Suppression.kind.in_(tuple(wanted_by_kind)))
        for value, kind, reason, note in self._rows(query, Suppression.value, set().union(*wanted_by_kind.values())):
            if value in wanted_by_kind[kind]:
                self._suppressed[(kind, value)] = (reason, note)

    def _rows(self, query: Select[Any], column: Any, values: Iterable[Any]) -> Iterable[Any]:
        """The query's rows whose column is one of values: chunked, or the whole result when it is smaller."""
        wanted = set(values)
        if not wanted:
            return []
        if len(wanted) > _CHUNK:
            total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
            if total < len(wanted):
                return [row for row in self.session.execute(query) if row[0] in wanted]
        return [row for chunk in _chunks(sorted(wanted))
                for row in self.session.execute(query.where(column.in_(chunk)))]

    def conflicts(self, site: Site | None, email: str | None, *, site_too: bool = True) -> list[Conflict]:
        """Every reason putting this site/address in the campaign would contact it twice or against a DNC.

        site_too=False leaves out the site's own conflicts (judged when its card was made).
        """
        return self.conflicts_at(site.id if site else None, site.domain if site else None, email, site_too=site_too)

    def conflicts_at(self, site_id: int | None, domain: str | None, email: str | None, *,
                     site_too: bool = True) -> list[Conflict]:
        """conflicts() by site id and domain (a site id of None: the site is not in the database yet)."""
        named = self._named
        if not named:
            return []
        if (domain is None or not site_too or (site_id not in named and domain.lower() not in named)) \
                and (not email or ((lowered := email.lower()) not in named
                                   and lowered.rsplit("@", 1)[-1] not in named)):
            return []  # most rows of a large import: nothing is known about them
        found: list[Conflict] = []
        if domain is not None and site_too:
            for cid, name, stage in self._busy_sites.get(site_id, []) if site_id is not None else []:
                message = f"{domain} is already in campaign “{name}” (stage {stage})"
                found.append(Conflict("active_campaign", message, cid, f"site:{domain}@{cid}"))
            suppressed = self.suppression(domain, kind="domain")
            if suppressed is not None:
                found.append(suppressed)
        if email:
            email = email.lower()
            suppressed = self.suppression(email)
            if suppressed is not None:
                found.append(suppressed)
            busy = {(cid, name) for other_site, cid, name in self._busy_emails.get(email, [])
                    if site_id is None or other_site != site_id}
            for cid, name in sorted(busy):
                found.append(Conflict("active_campaign", f"{email} is already contacted in “{name}”", cid,
                                      f"email:{email}@{cid}"))
            for cid, name in sorted(self._emailed.get(email, [])):
                if (cid, name) not in busy:
                    found.append(Conflict("contacted", f"{email} was already contacted in “{name}”", cid,
                                          f"emailed:{email}@{cid}"))
            if email in self._invalid:
                found.append(Conflict("undeliverable", f"{email} failed its check ({self._invalid[email]})",
                                      key=f"invalid:{email}"))
        return list({c.key: c for c in found}.values())

    def suppression(self, value: str, *, kind: str = "email") -> Conflict | None:
        """The do-not-contact entry that blocks this address (or its domain), or this domain."""
        value = value.lower()
        candidates = [(kind, value)] + ([("domain", value.rsplit("@", 1)[-1])] if kind == "email" else [])
        for key in candidates:
            if key in self._suppressed:
                reason, note = self._suppressed[key]
                extra = f" ({note})" if note else ""
                return Conflict("do_not_contact", f"{key[1]} {_WHY[reason]}{extra}", None, f"dnc:{key[0]}:{key[1]}",
                                is_overridable=reason not in NEVER_OVERRIDDEN)
        return None

    def send_block(self, email: str, overridden: Iterable[str] | None) -> str | None:
        """Why an email to this address must not leave now (a do-not-contact entry not overridden), or None."""
        conflict = self.suppression(email)
        if conflict is None or not_overridden([conflict], overridden) == []:
            return None
        return conflict.message


def find_conflicts(session: Session, site: Site | None, email: str | None, *, campaign_id: int | None = None,
                   site_too: bool = True) -> list[Conflict]:
    """ContactRules for one site and address."""
    return ContactRules(session, campaign_id=campaign_id).load([site] if site else [], [email]).conflicts(
        site, email, site_too=site_too)


def send_block(session: Session, email: str, overridden: Iterable[str] | None = None) -> str | None:
    """ContactRules.send_block for one address."""
    return ContactRules(session).load_suppressions([email]).send_block(email, overridden)


def enrolment_conflicts_of(session: Session, prospects: Iterable[Prospect]) -> dict[int, list[Conflict]]:
    """By prospect id: what stands between its contact and a first email, less what its overrides cover (read in
    a few queries per campaign, not a few per prospect)."""
    by_campaign: dict[int, list[Prospect]] = {}
    for prospect in prospects:
        by_campaign.setdefault(prospect.campaign_id, []).append(prospect)
    found: dict[int, list[Conflict]] = {}
    for campaign_id, group in by_campaign.items():
        emails = {p.id: p.contact.email if p.contact else None for p in group}
        rules = ContactRules(session, campaign_id=campaign_id).load([p.site for p in group], emails.values())
        for p in group:
            found[p.id] = not_overridden(rules.conflicts(p.site, emails[p.id]), p.overridden)
    return found


def record_override(prospect: Prospect, conflicts: Iterable[Conflict], reason: str) -> None:
    """Remember that these conflicts were set aside for this prospect (the caller records the timeline entry)."""
    prospect.override_reason, prospect.overridden = override_columns(
        [c.key for c in conflicts], reason, already=prospect.overridden)


def override_columns(keys: Iterable[str], reason: str, *,
                     already: Iterable[str] | None = None) -> tuple[str, list[str]]:
    """What a prospect's `override_reason` and `overridden` hold once conflicts with these keys are set aside
    for this reason (on top of the keys `already` overridden); prospect creation writes them in bulk."""
    return reason.strip()[:500], sorted(set(already or ()) | {k for k in keys if k})


# --- the do-not-contact list ----------------------------------------------------------------------

SUPPRESSION_SORTS = ("value", "created")


def suppressions_query(*, search: str | None = None, reason: str | None = None, kind: str | None = None,
                       sort: str = "created", descending: bool = True) -> Select[tuple[Suppression]]:
    """The do-not-contact list, filtered (search looks at the value and the note) and sorted, ties by id."""
    query = select(Suppression)
    if search:
        pattern = like_pattern(search)
        query = query.where(or_(func.lower(Suppression.value).like(pattern, escape="\\"),
                                func.lower(Suppression.note).like(pattern, escape="\\")))
    if reason:
        query = query.where(Suppression.reason == reason)
    if kind:
        query = query.where(Suppression.kind == kind)
    column = Suppression.value if sort == "value" else Suppression.created_at
    return query.order_by(column.desc() if descending else column.asc(), Suppression.id)


def add_suppression(session: Session, value: str, *, kind: str = "", reason: str = "manual", note: str = "",
                    actor: User | None = None) -> Suppression:
    """Put a domain or an address on the do-not-contact list by hand (kind guessed from an '@')."""
    value = value.strip()
    if not value:
        raise CampaignError("type a domain or an email address", field="value")
    kind = kind or ("email" if "@" in value else "domain")
    if kind == "email":
        try:
            value = addresses.normalise_address(value)
        except addresses.BadAddress as exc:
            raise CampaignError(str(exc), field="value") from None
    elif kind == "domain":
        try:
            value = registrable_domain(ensure_http_url(value))
        except BadURL as exc:
            raise CampaignError(f"not a domain: {exc}", field="value") from None
    else:
        raise CampaignError(f"unknown kind {kind!r}", field="kind")
    if reason not in SUPPRESSION_REASONS:
        raise CampaignError(f"unknown reason {reason!r}", field="reason")
    found = session.scalar(select(Suppression).where(Suppression.kind == kind, Suppression.value == value))
    if found is not None:
        raise CampaignError(f"{value} is already on the do-not-contact list ({found.reason})", field="value")
    suppression = _insert(session, kind, value, reason, note, actor)
    audit(session, actor, "suppression.add", "suppression", suppression.id, {"kind": kind, "value": value})
    return suppression


def suppress(session: Session, email: str, reason: str, note: str) -> None:
    """Put an address on the do-not-contact list because it unsubscribed, bounced or complained (once)."""
    email = email.lower()
    if session.scalar(select(Suppression.id).where(Suppression.kind == "email", Suppression.value == email)) is None:
        _insert(session, "email", email, reason, note, None)


def _insert(session: Session, kind: str, value: str, reason: str, note: str, actor: User | None) -> Suppression:
    suppression = Suppression(kind=kind, value=value, reason=reason, note=note.strip()[:500],
                              created_by_id=actor.id if actor else None)
    session.add(suppression)
    session.flush()
    return suppression


def update_suppression(session: Session, suppression: Suppression, *, note: str,
                       actor: User | None = None) -> None:
    suppression.note = note.strip()[:500]
    session.flush()
    audit(session, actor, "suppression.update", "suppression", suppression.id, {"value": suppression.value})


def remove_suppression(session: Session, suppression: Suppression, actor: User | None = None) -> None:
    audit(session, actor, "suppression.remove", "suppression", suppression.id,
          {"kind": suppression.kind, "value": suppression.value, "reason": suppression.reason})
    session.delete(suppression)
    session.flush()


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]
