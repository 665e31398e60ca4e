"""Searching and filtering prospect lists: what matches (the queries behind it are tuned for size)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.campaigns import prospect_query, service
from outreach.models import User


def names(db: Session, **args: str) -> list[str]:
    staff = db.scalars(select(User).where(User.role == "admin")).first()
    assert staff is not None
    return [p.site.domain for p in prospect_query.page(db, staff, prospect_query.parse_filters(args)).items]


def test_it_finds_prospects_by_domain_address_or_name_in_any_case(team: dict[str, Any], db: Session,
                                                                 make_prospect: Any) -> None:
    campaign = team["campaign"]
    make_prospect(campaign, "https://gardening-tips.test/", email="olga@elsewhere.test", contact_name="Olga Berg")
    make_prospect(campaign, "https://cooking.test/", email="press@kitchenhub.test", contact_name="")
    make_prospect(campaign, "https://kitchenhub.test/", email="info@kitchenhub.test", contact_name="Kim")
    make_prospect(campaign, "https://unrelated.test/")
    db.commit()
    assert names(db, q="GARDENING") == ["gardening-tips.test"]
    assert names(db, q="berg") == ["gardening-tips.test"]
    # a domain match and an address match on the same site count once; the address alone finds cooking
    assert sorted(names(db, q="kitchenhub")) == ["cooking.test", "kitchenhub.test"]
    f = prospect_query.parse_filters({"q": "kitchenhub"})
    assert prospect_query.page(db, team["owner"], f).total == 2
    assert names(db, q="zzz") == []


def test_percent_and_underscore_in_a_search_are_plain_characters(team: dict[str, Any], db: Session,
                                                                  make_prospect: Any) -> None:
    make_prospect(team["campaign"], "https://my-site.test/", email="a_b@my-site.test")
    make_prospect(team["campaign"], "https://axb.test/", email="axb@axb.test")
    db.commit()
    assert names(db, q="a_b") == ["my-site.test"]
    assert names(db, q="%") == []


def test_search_stage_and_metric_filters_combine(team: dict[str, Any], db: Session, make_prospect: Any) -> None:
    campaign = team["campaign"]
    for i, (stage, dr) in enumerate([("contacted", 50), ("contacted", 10), ("new", 60), ("contacted", None)]):
        p = service.add_prospect(db, campaign, f"https://blog{i}.test/", metrics={"domain_rating": dr})
        service.move_prospect(db, p, stage)
    db.commit()
    assert names(db, stage="contacted", dr_min="30") == ["blog0.test"]
    assert names(db, q="blog", stage="contacted", sort="dr", dir="desc") == ["blog0.test", "blog1.test", "blog3.test"]
    assert names(db, q="blog", dr_min="5", dr_max="55", sort="dr", dir="asc") == ["blog1.test", "blog0.test"]


def test_a_piece_of_the_page_url_finds_its_prospect_as_the_page_changes(team: dict[str, Any], db: Session,
                                                                        make_prospect: Any) -> None:
    campaign = team["campaign"]
    resource = make_prospect(campaign, "https://garden.test/Resources/Best_Tools")
    make_prospect(campaign, "https://kitchen.test/recipes")
    db.commit()
    assert names(db, q="resources/best") == ["garden.test"]
    assert names(db, q="best_tools") == ["garden.test"]  # _ is a plain character here too
    assert names(db, q="recipes") == ["kitchen.test"]
    resource.page_url = "https://garden.test/links"
    db.commit()
    assert names(db, q="best_tools") == []
    assert names(db, q="/links") == ["garden.test"]
    db.delete(resource)
    db.commit()
    assert names(db, q="/links") == []
