"""Storing found contacts: one Contact per address across campaigns, guesses marked, prospect's contact set."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.contacts.extraction import FoundAddress
from outreach.contacts.finder import SiteContacts
from outreach.contacts.guessing import Guess
from outreach.contacts.service import save_site_contacts
from outreach.contacts.validation import Verdict
from outreach.models import Contact, Prospect


def found(url: str = "https://www.site.test/contact") -> SiteContacts:
    return SiteContacts(
        url=url,
        addresses=[FoundAddress("info@site.test", url, "mailto", is_role=True),
                   FoundAddress("ann.lee@site.test", url, "text", name="Ann Lee")],
        guesses=[Guess("tom.baker@site.test", "Tom Baker", "{first}.{last}", "pattern seen on this site")],
        verdicts={"info@site.test": Verdict("info@site.test", "valid", "MX mx.site.test", True),
                  "ann.lee@site.test": Verdict("ann.lee@site.test", "valid", "MX mx.site.test", False)})


def test_it_stores_found_and_guessed_contacts_on_the_site(db: Session) -> None:
    save_site_contacts(db, found())
    db.commit()
    rows = {c.email: c for c in db.scalars(select(Contact))}
    assert set(rows) == {"info@site.test", "ann.lee@site.test", "tom.baker@site.test"}
    assert rows["info@site.test"].is_role and rows["info@site.test"].status == "valid"
    assert rows["ann.lee@site.test"].name == "Ann Lee" and rows["ann.lee@site.test"].checked_at is not None
    assert rows["tom.baker@site.test"].is_guessed and rows["tom.baker@site.test"].status == "unchecked"
    assert not rows["ann.lee@site.test"].is_guessed
    assert {c.site.domain for c in rows.values()} == {"site.test"}


def test_the_same_address_is_one_contact_and_a_found_address_is_never_guessed(db: Session) -> None:
    first = found()
    first.addresses, first.verdicts = [], {}
    save_site_contacts(db, first)  # only the guess
    db.commit()
    second = found("https://blog.site.test/about")
    second.addresses.append(FoundAddress("tom.baker@site.test", second.url, "mailto", name="Tom Baker"))
    save_site_contacts(db, second)
    db.commit()
    (tom,) = db.scalars(select(Contact).where(Contact.email == "tom.baker@site.test"))
    assert not tom.is_guessed
    assert len(db.scalars(select(Contact)).all()) == 3


def test_a_prospect_without_a_contact_gets_the_best_found_address(db: Session,
                                                                   make_prospect: Callable[..., Prospect]) -> None:
    prospect = make_prospect(url="https://www.site.test/resources")
    save_site_contacts(db, found(), prospect=prospect)
    db.commit()
    assert prospect.contact.email == "ann.lee@site.test"  # a person before a role address, never a guess
