"""The web list, the API list, the CSV export and the board answer a filter, search and sort alike.

They all go through outreach.campaigns.prospect_query; these tests fail when one of them drifts again.
"""
from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from outreach.accounts.service import create_api_token
from outreach.campaigns import prospect_query
from outreach.campaigns.service import move_prospect, set_tags
from outreach.models import User

#: the prospects, in creation order; zeta is another client's, which the viewer cannot see
ALL = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]


@pytest.fixture
def prospects(team: dict[str, Any], make_prospect: Any, db: Session) -> None:
    acme = team["campaign"]
    made = {
        "alpha": make_prospect(acme, "https://alpha.example/", email="ann@alpha.example", contact_name="Ann Lee",
                               metrics={"domain_rating": 70}),
        "beta": make_prospect(acme, "https://beta.example/", metrics={"domain_rating": 20},
                              owner_id=team["teammate"].id),
        "gamma": make_prospect(acme, "https://gamma.example/guest-post", owner_id=team["owner"].id),
        "delta": make_prospect(acme, "https://delta.example/blog/write-for-us", email="editor@delta.example",
                               contact_name="Guest Editor", metrics={"domain_rating": 45}),
        "epsilon": make_prospect(acme, "https://epsilon.example/resources", email="bob@guest-post.example",
                                 contact_name="Bob"),
        "zeta": make_prospect(team["other_campaign"], "https://zeta.example/guest-post",
                              metrics={"domain_rating": 90}),
    }
    move_prospect(db, made["beta"], "contacted")
    move_prospect(db, made["delta"], "contacted")
    move_prospect(db, made["gamma"], "live")
    set_tags(db, made["alpha"], ["vip"], None)
    set_tags(db, made["gamma"], ["vip", "edu"], None)
    db.commit()


def newest_first(*names: str) -> list[str]:
    return sorted(names, key=ALL.index, reverse=True)


def web_list(client: FlaskClient, args: dict[str, str]) -> list[str]:
    response = client.get("/prospects", query_string={**args, "per_page": "200"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    table = body[body.index("<tbody>"):] if "<tbody>" in body else ""
    return [d.removesuffix(".example") for d in re.findall(r'class="strong">([^<]+)</a>', table)]


def api_list(client: FlaskClient, token: str, args: dict[str, str]) -> list[str]:
    response = client.get("/api/v1/prospects", query_string={**args, "per_page": "200"},
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_json()
    return [row["site"]["domain"].removesuffix(".example") for row in response.get_json()["data"]]


def csv_export(client: FlaskClient, args: dict[str, str]) -> list[str]:
    response = client.get("/prospects/export.csv", query_string=args)
    try:
        rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    finally:
        response.close()
    return [row["domain"].removesuffix(".example") for row in rows]


#: (query string, what staff get, what the client viewer gets); the web's older spellings are in there too
CASES: list[tuple[dict[str, str], list[str], list[str]]] = [
    ({}, newest_first(*ALL), newest_first(*ALL[:5])),
    # the case: a page URL is searched (the web list did not find it, the API did)
    ({"search": "write-for-us"}, ["delta"], ["delta"]),
    # page URLs for everyone; a contact's address only for staff
    ({"search": "GUEST-post"}, ["zeta", "epsilon", "gamma"], ["gamma"]),
    ({"q": "ann lee"}, ["alpha"], []),
    ({"search": "guest editor"}, ["delta"], []),
    ({"search": "%"}, [], []),
    ({"stage": "contacted", "sort": "domain"}, ["beta", "delta"], ["beta", "delta"]),
    ({"stage": "contacted,live", "sort": "-domain"}, ["gamma", "delta", "beta"], ["gamma", "delta", "beta"]),
    ({"stage": "active", "sort": "domain"}, ["alpha", "beta", "delta", "epsilon", "zeta"],
     ["alpha", "beta", "delta", "epsilon"]),
    # tags are internal: a viewer's tag filter is ignored
    ({"tag": "VIP", "sort": "domain"}, ["alpha", "gamma"], ["alpha", "beta", "delta", "epsilon", "gamma"]),
    ({"owner": "none", "sort": "domain"}, ["alpha", "delta", "epsilon", "zeta"], ["alpha", "delta", "epsilon"]),
    ({"min_domain_rating": "30", "sort": "-domain_rating"}, ["zeta", "alpha", "delta"], ["alpha", "delta"]),
    ({"dr_min": "30", "dr_max": "80", "sort": "dr", "dir": "desc"}, ["alpha", "delta"], ["alpha", "delta"]),
    # missing metrics last, ties by id in the sort's direction
    ({"sort": "domain_rating"}, ["beta", "delta", "alpha", "zeta", "gamma", "epsilon"],
     ["beta", "delta", "alpha", "gamma", "epsilon"]),
    ({"sort": "-domain_rating"}, ["zeta", "alpha", "delta", "beta", "epsilon", "gamma"],
     ["alpha", "delta", "beta", "epsilon", "gamma"]),
    ({"sort": "stage"}, ["beta", "delta", "gamma", "alpha", "epsilon", "zeta"],
     ["beta", "delta", "gamma", "alpha", "epsilon"]),
    ({"sort": "created", "dir": "asc"}, ALL, ALL[:5]),
    # a viewer's sort on contacts falls back to the default order
    ({"sort": "contact"}, ["alpha", "epsilon", "delta", "beta", "gamma", "zeta"], newest_first(*ALL[:5])),
    ({"search": "example", "stage": "new", "sort": "-domain"}, ["zeta", "epsilon", "alpha"], ["epsilon", "alpha"]),
]


@pytest.mark.parametrize("who", ["admin", "viewer"])
@pytest.mark.parametrize(("args", "staff_sees", "viewer_sees"), CASES,
                         ids=[("&".join(f"{k}={v}" for k, v in c[0].items()) or "default") for c in CASES])
def test_the_web_list_the_api_and_the_export_return_the_same_prospects_in_the_same_order(
        client: FlaskClient, login: Any, team: dict[str, Any], db: Session, prospects: None, who: str,
        args: dict[str, str], staff_sees: list[str], viewer_sees: list[str]) -> None:
    user: User = team[who]
    _token, secret = create_api_token(db, user, "tests")
    db.commit()
    login(user)
    expected = staff_sees if who == "admin" else viewer_sees
    assert web_list(client, args) == expected
    assert api_list(client, secret, args) == expected
    assert csv_export(client, args) == expected


@pytest.mark.parametrize("who", ["admin", "viewer"])
@pytest.mark.parametrize("args", [{"search": "guest-post"}, {"q": "ann"}, {"tag": "vip"}, {"owner": "none"}, {}])
def test_the_board_shows_the_cards_the_campaign_list_shows(client: FlaskClient, login: Any, team: dict[str, Any],
                                                          prospects: None, who: str, args: dict[str, str]) -> None:
    login(team[who])
    campaign = team["campaign"].id
    board = client.get(f"/campaigns/{campaign}", query_string=args).get_data(as_text=True)
    listed = client.get(f"/campaigns/{campaign}/prospects", query_string=args).get_data(as_text=True)
    listed = listed[listed.index("<tbody>"):] if "<tbody>" in listed else ""
    on_board = {name for name in ALL if f"{name}.example" in board}
    assert on_board == {name for name in ALL if f"{name}.example" in listed}


def test_the_canonical_names_and_their_aliases_parse_to_the_same_filters() -> None:
    old = prospect_query.parse_filters({"q": "x", "dr_min": "1", "traffic_max": "9", "sort": "dr", "dir": "desc"})
    new = prospect_query.parse_filters({"search": "x", "min_domain_rating": "1", "max_organic_traffic": "9",
                                        "sort": "-domain_rating"})
    assert old == new and not new.errors
    assert new.args() == {"search": "x", "min_domain_rating": "1", "max_organic_traffic": "9",
                          "sort": "-domain_rating"}
    assert prospect_query.parse_filters(new.args()) == new


@pytest.mark.parametrize(("args", "name"), [
    ({"dr_min": "lots"}, "dr_min"), ({"min_domain_rating": "5", "max_domain_rating": "1"}, "min_domain_rating"),
    ({"stage": "flying"}, "stage"), ({"owner": "someone"}, "owner"), ({"sort": "random"}, "sort"),
    ({"q": "x" * 201}, "q"), ({"page": "0"}, "page"), ({"per_page": "201"}, "per_page"),
])
def test_a_bad_value_is_named_and_ignored(args: dict[str, str], name: str) -> None:
    f = prospect_query.parse_filters(args)
    assert list(f.errors) == [name]
    assert f == prospect_query.ProspectFilters(errors=f.errors)
