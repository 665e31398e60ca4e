"""Findings of the security review, each pinned by a test that fails without its fix."""
from __future__ import annotations

from typing import Any

import pytest

from outreach.web.redirects import safe_next

LEAVING = ["//evil.test/", "/\t/evil.test/", "/\n/evil.test/", "/\r\n/evil.test", "/\\evil.test",
           "https://evil.test/", "javascript:alert(1)", "/\x00/evil.test"]


@pytest.mark.parametrize("target", LEAVING)
def test_it_refuses_next_targets_a_browser_would_read_as_another_site(target: str) -> None:
    assert safe_next(target) is None


def test_it_keeps_a_same_site_path_with_its_query() -> None:
    assert safe_next("/campaigns/3?stage=new#board") == "/campaigns/3?stage=new#board"


@pytest.mark.parametrize("target", ["/\t/evil.test/", "/\n/evil.test/"])
def test_it_never_redirects_off_site_after_login(client: Any, team: dict[str, Any], target: str) -> None:

    response = client.post("/login", query_string={"next": target},
                           data={"email": team["owner"].email, "password": _password()})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_it_ignores_an_off_site_next_when_cancelling_a_sequence(login: Any, team: dict[str, Any],
                                                                 make_prospect: Any) -> None:
    prospect = make_prospect(team["campaign"])
    response = login(team["owner"]).post(f"/prospects/{prospect.id}/outreach/cancel",
                                         data={"next": "https://evil.test/"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/campaigns/{team['campaign'].id}/outreach"


def test_it_ignores_an_off_site_next_when_moving_a_prospect(login: Any, team: dict[str, Any],
                                                            make_prospect: Any) -> None:
    prospect = make_prospect(team["campaign"])
    response = login(team["owner"]).post(f"/prospects/{prospect.id}/stage",
                                         data={"stage": "qualified", "next": "/\t/evil.test/"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/prospects/{prospect.id}"


def _password() -> str:
    from tests.conftest import PASSWORD

    return PASSWORD
