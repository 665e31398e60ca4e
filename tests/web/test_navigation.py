"""The main navigation marks where the user is."""
from __future__ import annotations

import re
from typing import Any


def active_nav(html: str) -> list[str]:
    nav = html.split("<nav", 1)[1].split("</nav>", 1)[0]
    return re.findall(r'class="active">([^<]+)</a>', nav)


def test_it_marks_campaigns_on_every_tab_of_a_campaign(login: Any, team: dict[str, Any]) -> None:
    client = login(team["owner"])
    campaign = team["campaign"]
    for path in ("", "/prospects", "/links", "/broken-links", "/prospecting"):
        response = client.get(f"/campaigns/{campaign.id}{path}")
        if response.status_code == 404:  # a part that is not installed
            continue
        assert response.status_code == 200, path
        assert active_nav(response.get_data(as_text=True)) == ["Campaigns"], path


def test_it_still_marks_the_section_outside_a_campaign(login: Any, team: dict[str, Any]) -> None:
    client = login(team["owner"])
    assert active_nav(client.get("/backlinks").get_data(as_text=True)) == ["Backlinks"]
    assert active_nav(client.get("/prospects").get_data(as_text=True)) == ["Prospects"]


def active_tab(html: str) -> list[str]:
    tabs = html.split('<nav class="tabs">', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'class="active">([^<]+)</a>', tabs)


def test_it_marks_the_campaign_tab_a_page_belongs_to(login: Any, team: dict[str, Any], db: Any) -> None:
    from outreach.discovery.prospecting.service import start_run

    campaign = team["campaign"]
    run = start_run(db, campaign, "guest_posts", ["https://blog.example/"], max_pages=5)
    db.commit()
    client = login(team["owner"])
    assert active_tab(client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)) == ["Board"]
    html = client.get(f"/campaigns/{campaign.id}/prospecting/runs/{run.id}").get_data(as_text=True)
    assert active_tab(html) == ["Prospecting"]


def test_a_client_viewer_sees_no_tab_it_cannot_open(login: Any, team: dict[str, Any], client: Any) -> None:
    campaign = team["campaign"]
    login(team["viewer"])
    html = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    tabs = html.split('<nav class="tabs">', 1)[1].split("</nav>", 1)[0]
    for href in re.findall(r'href="([^"]+)"', tabs):
        assert client.get(href).status_code == 200, href
    assert "Import" not in tabs and "Board" in tabs
