"""Bad input to the campaign services is refused with a one-line reason, never a crash."""
from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from outreach.campaigns.service import CampaignError, create_client
from outreach.lib.urls import BadURL, ensure_http_url


@pytest.mark.parametrize("url", ["]", "https://[x/", "http://[::1", "https://exa mple.test/"])
def test_a_malformed_url_is_a_bad_url(url: str) -> None:
    with pytest.raises(BadURL):
        ensure_http_url(url)


def test_a_client_name_differing_only_in_non_ascii_case_is_refused_cleanly(db: Session) -> None:
    create_client(db, "ÀJ Média")
    db.commit()
    with pytest.raises(CampaignError, match="exists already"):
        create_client(db, "ÀJ Média")


def test_a_malformed_website_is_refused_naming_the_field(db: Session) -> None:
    with pytest.raises(CampaignError) as excinfo:
        create_client(db, "Acme", website="]")
    assert excinfo.value.field == "website"


@pytest.mark.parametrize("url", ["mailto:ed@site.test", "javascript:alert(1)", "tel:+123", "data:text/html,x"])
def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(BadURL, match="not an http"):
        ensure_http_url(url)


@pytest.mark.parametrize(("url", "expected"), [("site.test:8080/x", "https://site.test:8080/x"),
                                               ("localhost:5000", "https://localhost:5000")])
def test_a_host_with_a_port_is_not_taken_for_a_scheme(url: str, expected: str) -> None:
    assert ensure_http_url(url) == expected
