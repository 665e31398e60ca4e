"""CSV import of prospects: parse any SEO tool's export, map its columns, check rows, insert in bulk.

Flask-free so the web, the API and the CLI share it. `parse_csv` reads bytes (UTF-8, UTF-16 with a
BOM, cp1252), sniffs the delimiter and finds the header row by its content; `guess_mapping` maps
columns by name (trimmed, case-insensitive, with the aliases of Ahrefs, Semrush, Moz, Majestic and
Search Console); `check_rows` validates rows without touching the database; `plan_import` adds what
the database knows (duplicates in the campaign, other campaigns, do-not-contact) with a fixed number
of queries whatever the row count; `import_rows` writes the good rows (one transaction: the caller
commits).
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from outreach.lib import addresses
from outreach.lib.clock import utcnow
from outreach.lib.urls import BadURL, ensure_http_url, registrable_domain
from outreach.models import Activity, Campaign, Contact, Prospect, Site, Suppression, User
from outreach.models.campaigns import ACTIVE_STAGES

#: what a column can be mapped to, in the order the preview offers them
FIELDS = ("url", "email", "name", "domain_rating", "domain_authority", "authority_score", "organic_traffic")
FIELD_LABELS = {
    "": "— ignore —", "url": "Page or site URL", "email": "Contact email", "name": "Contact name",
    "domain_rating": "DR (Ahrefs)", "domain_authority": "DA (Moz)", "authority_score": "AS (Semrush)",
    "organic_traffic": "Organic traffic",
}
#: header names per field, best first (compared trimmed, lower-cased, spaces collapsed)
ALIASES: dict[str, tuple[str, ...]] = {
    "url": ("referring page url", "source url", "linking page", "page url", "url", "referring page",
            "source page", "website", "domain", "referring domain", "site", "source", "host"),
    "email": ("email", "e-mail", "email address", "e-mail address", "contact email", "emails", "mail"),
    "name": ("contact name", "name", "full name", "contact", "author"),
    "domain_rating": ("domain rating", "dr", "domain rating (dr)"),
    "domain_authority": ("domain authority", "da", "moz da"),
    "authority_score": ("authority score", "domain ascore", "ascore", "as", "page ascore"),
    "organic_traffic": ("organic traffic", "domain traffic", "traffic", "est. traffic", "monthly traffic",
                        "estimated traffic"),
}
#: metric fields and their allowed range
METRIC_RANGES: dict[str, tuple[float, float]] = {
    "domain_rating": (0, 100), "domain_authority": (0, 100), "authority_score": (0, 100),
    "organic_traffic": (0, 10**15),
}
SHORT = {"domain_rating": "DR", "domain_authority": "DA", "authority_score": "AS", "organic_traffic": "traffic"}
#: bind-parameter batch size for IN (...) lookups
CHUNK = 900
MAX_HEADER_SCAN = 30


class BadImport(ValueError):
    """The file cannot be read as a prospect list; the message says why in one line."""


@dataclass
class ParsedFile:
    headers: list[str]
    #: data rows as (line number in the file, cells)
    rows: list[tuple[int, list[str]]]
    header_line: int
    delimiter: str
    encoding: str

    def sample(self, n: int = 8) -> list[tuple[int, list[str]]]:
        return self.rows[:n]


@dataclass
class RowError:
    line: int
    reason: str
    value: str = ""


@dataclass
class ImportRow:
    line: int
    url: str
    domain: str
    email: str | None
    name: str
    metrics: dict[str, float | int]
    #: filled by plan_import: why adding it would contact a site or address twice
    conflicts: list[str] = field(default_factory=list)


@dataclass
class ImportPlan:
    rows: list[ImportRow]
    errors: list[RowError]

    @property
    def conflicted(self) -> list[ImportRow]:
        return [r for r in self.rows if r.conflicts]

    @property
    def clean(self) -> list[ImportRow]:
        return [r for r in self.rows if not r.conflicts]


@dataclass
class ImportResult:
    imported: int
    overridden: int
    errors: list[RowError]


# --- reading the file ---------------------------------------------------------------------------

def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was in: BOMs first, then UTF-8, then cp1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    head = data[:200]
    if len(head) >= 4 and head[1::2].count(0) > len(head) // 4:
        return data.decode("utf-16-le", errors="replace"), "utf-16-le"
    if len(head) >= 4 and head[0::2].count(0) > len(head) // 4:
        return data.decode("utf-16-be", errors="replace"), "utf-16-be"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def normalise_header(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").strip().strip('"').lower().split())


_ALIAS_INDEX = {alias: fld for fld, names in ALIASES.items() for alias in names}


def parse_csv(data: bytes) -> ParsedFile:
    """Rows and headers of an export; BadImport when it has no usable header row."""
    if not data.strip():
        raise BadImport("the file is empty")
    text, encoding = decode(data)
    if "\0" in text[:4096]:
        raise BadImport("this is not a CSV file (it contains binary data)")
    lines = text.splitlines()
    delimiter = _sniff_delimiter(lines[:MAX_HEADER_SCAN])
    header_index = _find_header(lines[:MAX_HEADER_SCAN], delimiter)
    if header_index is None:
        raise BadImport("no header row found: the first line should name the columns (e.g. URL, Email, DR)")
    reader = csv.reader(io.StringIO("\n".join(lines[header_index:])), delimiter=delimiter)
    try:
        headers = [h.replace("\ufeff", "").strip() for h in next(reader)]
        rows: list[tuple[int, list[str]]] = []
        last = reader.line_num
        for cells in reader:
            start = header_index + last + 1
            last = reader.line_num
            if any(c.strip() for c in cells):
                rows.append((start, cells))
    except csv.Error as exc:
        raise BadImport(f"line {header_index + reader.line_num}: {exc}") from None
    return ParsedFile(headers=headers, rows=rows, header_line=header_index + 1, delimiter=delimiter,
                      encoding=encoding)


def _sniff_delimiter(lines: Sequence[str]) -> str:
    best, best_score = ",", 0
    for delimiter in ("\t", ",", ";", "|"):
        score = max((len(_split(line, delimiter)) for line in lines if line.strip()), default=0)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _split(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter))
    except (csv.Error, StopIteration):
        return [line]


def _find_header(lines: Sequence[str], delimiter: str) -> int | None:
    """The first line naming a known column; else the first line with several cells."""
    fallback = None
    for index, line in enumerate(lines):
        cells = _split(line, delimiter)
        if any(normalise_header(c) in _ALIAS_INDEX for c in cells):
            return index
        if fallback is None and len([c for c in cells if c.strip()]) >= 2:
            fallback = index
    return fallback


def guess_mapping(headers: Sequence[str]) -> list[str]:
    """The field each column maps to ('' = ignored): every field taken by its best-named column."""
    normalised = [normalise_header(h) for h in headers]
    mapping = [""] * len(headers)
    for fld, names in ALIASES.items():
        for alias in names:
            if alias in normalised:
                index = normalised.index(alias)
                if not mapping[index]:
                    mapping[index] = fld
                    break
    return mapping


def mapping_from_form(values: Mapping[str, str], column_count: int) -> list[str]:
    """The mapping posted by the preview form (`col-0`, `col-1`, ...); unknown fields are ignored."""
    return [v if (v := values.get(f"col-{i}", "")) in FIELDS else "" for i in range(column_count)]


def mapping_problems(mapping: Sequence[str]) -> list[str]:
    problems = []
    if "url" not in mapping:
        problems.append("map one column to “Page or site URL”: every prospect needs a site")
    for fld in FIELDS:
        if mapping.count(fld) > 1:
            problems.append(f"“{FIELD_LABELS[fld]}” is mapped to {mapping.count(fld)} columns; keep one")
    return problems


# --- checking rows ------------------------------------------------------------------------------

_NUMBER = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")


def parse_number(text: str) -> float | None:
    """'1,240' -> 1240.0, '48.5' -> 48.5, '' / '-' / 'n/a' -> None; ValueError otherwise."""
    value = text.strip().replace("\u00a0", "").replace(" ", "")
    if value in ("", "-", "—", "–", "n/a", "N/A", "na", "null", "None"):
        return None
    if not _NUMBER.match(value):
        raise ValueError(value)
    return float(value.replace(",", ""))


def check_rows(parsed: ParsedFile, mapping: Sequence[str]) -> ImportPlan:
    """Every row checked on its own and against the rows above it; no database needed."""
    columns = {fld: mapping.index(fld) for fld in FIELDS if fld in mapping}
    rows: list[ImportRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for line, cells in parsed.rows:
        def cell(fld: str, cells: list[str] = cells) -> str:
            index = columns.get(fld)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        raw_url = cell("url")
        if not raw_url:
            errors.append(RowError(line, "no URL"))
            continue
        try:
            url = ensure_http_url(raw_url)
            domain = registrable_domain(url)
        except BadURL as exc:
            reason = str(exc).replace(repr("https://" + raw_url.lstrip("/")), repr(raw_url))
            errors.append(RowError(line, f"bad URL: {reason}", raw_url))
            continue
        email = None
        if raw_email := cell("email"):
            try:
                email = addresses.normalise_address(raw_email)
            except addresses.BadAddress as exc:
                errors.append(RowError(line, f"bad email: {exc}", raw_email))
                continue
        metrics: dict[str, float | int] = {}
        bad_metric = None
        for fld, (low, high) in METRIC_RANGES.items():
            raw = cell(fld)
            try:
                number = parse_number(raw)
            except ValueError:
                bad_metric = f"{SHORT[fld]} {raw!r} is not a number"
                break
            if number is None:
                continue
            if not low <= number <= high:
                bad_metric = f"{SHORT[fld]} {raw} is out of range ({low:g}–{high:g})"
                break
            metrics[fld] = int(number) if fld == "organic_traffic" else number
        if bad_metric:
            errors.append(RowError(line, bad_metric, raw_url))
            continue
        if domain in seen:
            errors.append(RowError(line, f"duplicate in file: {domain} is already on line {seen[domain]}", raw_url))
            continue
        seen[domain] = line
        rows.append(ImportRow(line=line, url=url[:2000], domain=domain, email=email, name=cell("name")[:200],
                              metrics=metrics))
    return ImportPlan(rows=rows, errors=errors)


# --- what the database knows ----------------------------------------------------------------------

def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    items = list(values)
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def plan_import(session: Session, campaign: Campaign, parsed: ParsedFile, mapping: Sequence[str]) -> ImportPlan:
    """check_rows plus duplicates in the campaign and conflicts, in a few queries per 900 rows."""
    plan = check_rows(parsed, mapping)
    rows = plan.rows
    domains = {r.domain for r in rows}
    emails = {r.email for r in rows if r.email}
    sites: dict[str, Site] = {}
    for chunk in _chunks(domains):
        sites.update((s.domain, s) for s in session.scalars(select(Site).where(Site.domain.in_(chunk))))
    site_ids = {s.id: d for d, s in sites.items()}

    in_campaign: set[int] = set()
    busy: dict[int, list[str]] = {}
    for chunk in _chunks(site_ids):
        in_campaign.update(session.scalars(select(Prospect.site_id).where(
            Prospect.campaign_id == campaign.id, Prospect.site_id.in_(chunk))))
        for site_id, name, stage in session.execute(
                select(Prospect.site_id, Campaign.name, Prospect.stage)
                .join(Campaign, Campaign.id == Prospect.campaign_id)
                .where(Prospect.site_id.in_(chunk), Prospect.stage.in_(ACTIVE_STAGES),
                       Campaign.status != "archived", Campaign.id != campaign.id)):
            busy.setdefault(site_id, []).append(
                f"{site_ids[site_id]} is already in campaign “{name}” (stage {stage})")

    suppressed: dict[tuple[str, str], str] = {}
    wanted = {("domain", d) for d in domains} | {("domain", e.rsplit("@", 1)[1]) for e in emails} | \
        {("email", e) for e in emails}
    for kind in ("domain", "email"):
        values = [v for k, v in wanted if k == kind]
        for chunk in _chunks(values):
            for s in session.scalars(select(Suppression).where(Suppression.kind == kind,
                                                               Suppression.value.in_(chunk))):
                why = {"manual": "is on the do-not-contact list"}.get(s.reason, s.reason)
                suppressed[(kind, s.value)] = f"{s.value} {why}" + (f" ({s.note})" if s.note else "")

    email_busy: dict[str, list[tuple[int, str]]] = {}
    for chunk in _chunks(emails):
        for email, site_id, name in session.execute(
                select(Contact.email, Prospect.site_id, Campaign.name)
                .join(Prospect, Prospect.contact_id == Contact.id)
                .join(Campaign, Campaign.id == Prospect.campaign_id)
                .where(Contact.email.in_(chunk), Prospect.stage.in_(ACTIVE_STAGES),
                       Campaign.status != "archived", Campaign.id != campaign.id)):
            email_busy.setdefault(email, []).append((site_id, name))

    kept: list[ImportRow] = []
    for row in rows:
        site = sites.get(row.domain)
        if site is not None and site.id in in_campaign:
            plan.errors.append(RowError(row.line, f"duplicate in campaign: {row.domain} is already on this board",
                                        row.url))
            continue
        if site is not None:
            row.conflicts.extend(busy.get(site.id, []))
        keys = [("domain", row.domain)]
        if row.email:
            keys += [("domain", row.email.rsplit("@", 1)[1]), ("email", row.email)]
        row.conflicts.extend(dict.fromkeys(suppressed[k] for k in keys if k in suppressed))
        if row.email:
            row.conflicts.extend(f"{row.email} is already contacted in “{name}”"
                                 for site_id, name in email_busy.get(row.email, [])
                                 if site is None or site_id != site.id)
        kept.append(row)
    plan.rows = kept
    plan.errors.sort(key=lambda e: e.line)
    return plan


def import_rows(session: Session, campaign: Campaign, plan: ImportPlan, *, actor: User | None = None,
                override_reason: str = "", source: str = "CSV") -> ImportResult:
    """Insert the plan's rows; conflicted rows only with an override reason (else reported as errors)."""
    reason = override_reason.strip()[:500]
    errors = list(plan.errors)
    rows: list[ImportRow] = []
    for row in plan.rows:
        if row.conflicts and not reason:
            errors.append(RowError(row.line, "conflict: " + "; ".join(row.conflicts), row.url))
        else:
            rows.append(row)
    errors.sort(key=lambda e: e.line)

    if not rows:
        return ImportResult(imported=0, overridden=0, errors=errors)
    now = utcnow()
    domains = list(dict.fromkeys(r.domain for r in rows))
    site_ids = _site_ids(session, domains)
    metrics: dict[str, dict[str, float | int]] = {}
    for row in rows:
        metrics.setdefault(row.domain, {}).update(row.metrics)
    new_domains = [d for d in domains if d not in site_ids]
    if new_domains:
        session.execute(insert(Site), [{"domain": d, "created_at": now, **dict.fromkeys(METRIC_RANGES),
                                        **metrics[d]} for d in new_domains])
        site_ids.update(_site_ids(session, new_domains))
    fresh = set(new_domains)
    # imported metrics overwrite older ones: one executemany per combination of metrics present
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for domain in domains:
        if domain not in fresh and metrics[domain]:
            values = metrics[domain]
            groups.setdefault(tuple(sorted(values)), []).append(
                {"b_id": site_ids[domain], **{f"b_{k}": v for k, v in values.items()}})
    for keys, params in groups.items():
        statement = (update(Site).where(Site.id == bindparam("b_id"))
                     .values({k: bindparam(f"b_{k}") for k in keys}))
        session.connection().execute(statement, params)

    contacts: dict[str, tuple[int, str]] = {}
    emails = list(dict.fromkeys(r.email for r in rows if r.email))
    for chunk in _chunks(emails):
        contacts.update((e, (i, n)) for e, i, n in session.execute(
            select(Contact.email, Contact.id, Contact.name).where(Contact.email.in_(chunk))))
    new_contacts: dict[str, dict[str, Any]] = {}
    named: dict[int, str] = {}
    for row in rows:
        if not row.email:
            continue
        if row.email in contacts:
            contact_id, name = contacts[row.email]
            if row.name and not name and contact_id not in named:
                named[contact_id] = row.name
        elif row.email not in new_contacts:
            new_contacts[row.email] = {"email": row.email, "name": row.name, "site_id": site_ids[row.domain],
                                       "found_on": row.url, "created_at": now}
    if new_contacts:
        session.execute(insert(Contact), list(new_contacts.values()))
        for chunk in _chunks(new_contacts):
            contacts.update((e, (i, n)) for e, i, n in session.execute(
                select(Contact.email, Contact.id, Contact.name).where(Contact.email.in_(chunk))))
    if named:
        session.connection().execute(
            update(Contact).where(Contact.id == bindparam("b_id")).values(name=bindparam("b_name")),
            [{"b_id": i, "b_name": n} for i, n in named.items()])

    top = session.scalar(select(func.max(Prospect.position))
                         .where(Prospect.campaign_id == campaign.id, Prospect.stage == "new")) or 0.0
    session.execute(insert(Prospect), [
        {"campaign_id": campaign.id, "site_id": site_ids[row.domain],
         "contact_id": contacts[row.email][0] if row.email else None, "page_url": row.url, "stage": "new",
         "position": top + offset, "override_reason": reason if row.conflicts else "", "owner_id": None,
         "created_at": now, "updated_at": now, "stage_changed_at": now}
        for offset, row in enumerate(rows, start=1)])
    prospect_ids: dict[int, int] = {}
    for chunk in _chunks(site_ids[r.domain] for r in rows):
        prospect_ids.update(session.execute(select(Prospect.site_id, Prospect.id).where(
            Prospect.campaign_id == campaign.id, Prospect.site_id.in_(chunk))).all())
    actor_id = actor.id if actor else None
    activities: list[dict[str, Any]] = []
    for row in rows:
        prospect_id = prospect_ids[site_ids[row.domain]]
        activities.append({"prospect_id": prospect_id, "user_id": actor_id, "kind": "created",
                           "text": f"Imported {row.domain} from {source} (line {row.line})",
                           "details": {"line": row.line}, "created_at": now})
        if row.conflicts:
            activities.append({"prospect_id": prospect_id, "user_id": actor_id, "kind": "override",
                               "text": f"Added despite: {'; '.join(row.conflicts)}. Reason: {reason}",
                               "details": {"conflicts": row.conflicts}, "created_at": now})
    session.execute(insert(Activity), activities)
    session.flush()
    session.expire_all()  # sites and contacts were updated behind the ORM's back
    return ImportResult(imported=len(rows), overridden=sum(1 for r in rows if r.conflicts), errors=errors)


def _site_ids(session: Session, domains: Iterable[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for chunk in _chunks(domains):
        ids.update(session.execute(select(Site.domain, Site.id).where(Site.domain.in_(chunk))).all())
    return ids
