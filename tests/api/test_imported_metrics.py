"""An export's metrics, imported through the web, reach the web list, the API list and the prospect page."""
from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from outreach.campaigns import prospect_query
from outreach.campaigns.metrics import METRICS

FORMATS = Path(__file__).resolve().parents[1] / "campaigns" / "fixtures"


def import_file(client: FlaskClient, campaign_id: int, name: str) -> None:
    response = client.post(f"/campaigns/{campaign_id}/import",
                           data={"file": (io.BytesIO((FORMATS / name).read_bytes()), name)},
                           content_type="multipart/form-data")
    preview_url = response.headers["Location"]
    html = client.post(preview_url, data={"action": "import", **_mapping(client, preview_url)}).get_data(as_text=True)
    assert "Imported 10 prospects" in html, html


def _mapping(client: FlaskClient, preview_url: str) -> dict[str, str]:
    """The mapping the preview offers, as its form would post it."""
    html = client.get(preview_url).get_data(as_text=True)
    selects = re.findall(r'<select name="(col-\d+)".*?</select>', html, re.S)
    chosen = re.findall(r'<select name="col-\d+".*?(?:<option value="([^"]*)" selected>|</select>)', html, re.S)
    return dict(zip(selects, chosen, strict=True))


def domains_in_web_list(client: FlaskClient, campaign_id: int, **query: str) -> list[str]:
    html = client.get(f"/campaigns/{campaign_id}/prospects", query_string=query).get_data(as_text=True)
    table = html.split('data-testid="prospects"', 1)[1] if 'data-testid="prospects"' in html else ""
    return re.findall(r'class="strong">([^<]+)</a>', table)


def domains_in_api(api: Any, campaign_id: int, **query: str) -> list[str]:
    response = api.get(f"/campaigns/{campaign_id}/prospects", per_page="100", **query)
    assert response.status_code == 200, response.get_json()
    return [p["site"]["domain"] for p in response.get_json()["data"]]


def test_moz_metrics_sort_and_filter_the_web_list_and_the_api_alike(login: Any, api_as: Any,
                                                                   team: dict[str, Any]) -> None:
    client = login(team["owner"])
    campaign = team["campaign"]
    import_file(client, campaign.id, "moz-inbound-links.csv")
    api = api_as(team["owner"])

    # page-level (Prospect.page_authority): the highest PA first, in both stacks, by the same name
    by_pa = ["cityherald.example", "dailygadget.example", "toolreviews.test"]
    assert domains_in_web_list(client, campaign.id, sort="page_authority", dir="desc")[:3] == by_pa
    assert domains_in_api(api, campaign.id, sort="-page_authority")[:3] == by_pa
    # site-level (Site.spam_score): only the spammy directory
    assert domains_in_web_list(client, campaign.id, spam_score_min="50") == ["links-4u.test"]
    assert domains_in_api(api, campaign.id, min_spam_score="50") == ["links-4u.test"]
    # both levels at once
    web = domains_in_web_list(client, campaign.id, page_authority_min="15", referring_domains_max="3200")
    assert sorted(web) == sorted(domains_in_api(api, campaign.id, min_page_authority="15",
                                                max_referring_domains="3200")) == [
        "gardenblog.example", "technik-blog.example", "toolreviews.test"]


def test_every_metric_has_one_sort_name_and_the_short_ones_stay_aliases() -> None:
    for metric in METRICS:
        assert prospect_query.SORTS[metric.name] is metric.column
        if metric.short:
            assert prospect_query.SORT_ALIASES[metric.short] == metric.name


def test_majestic_flows_and_the_link_reach_the_prospect_page_and_the_api(login: Any, api_as: Any,
                                                                         team: dict[str, Any]) -> None:
    client = login(team["owner"])
    campaign = team["campaign"]
    import_file(client, campaign.id, "majestic-backlinks.csv")
    api = api_as(team["owner"])
    found = api.get(f"/campaigns/{campaign.id}/prospects", search="toolreviews").get_json()["data"]
    assert len(found) == 1
    prospect = api.get(f"/prospects/{found[0]['id']}").get_json()
    assert (prospect["page_trust_flow"], prospect["page_citation_flow"]) == (46.0, 61.0)
    assert (prospect["link_anchor"], prospect["link_target_url"], prospect["link_is_nofollow"]) == (
        "Acme Widgets", "https://acme-widgets.example/", False)

    html = client.get(f"/prospects/{prospect['id']}").get_data(as_text=True)
    page_metrics = html.split('data-testid="page-metrics">', 1)[1].split("</dd>", 1)[0]
    assert "Page TF 46" in page_metrics and "Page CF 61" in page_metrics
    link = html.split('data-testid="imported-link">', 1)[1].split("</dd>", 1)[0]
    assert "“Acme Widgets”" in link and "https://acme-widgets.example/" in link and "follow" in link


def test_ahrefs_site_metrics_reach_the_prospect_pages_site_card(login: Any, api_as: Any,
                                                                team: dict[str, Any]) -> None:
    client = login(team["owner"])
    campaign = team["campaign"]
    import_file(client, campaign.id, "ahrefs-backlinks.csv")
    found = api_as(team["owner"]).get(f"/campaigns/{campaign.id}/prospects", search="toolreviews"
                                      ).get_json()["data"][0]
    assert (found["site"]["domain_rating"], found["site"]["referring_domains"], found["url_rating"]) == (
        71.0, 3120, 24.0)
    html = client.get(f"/prospects/{found['id']}").get_data(as_text=True)
    site_metrics = html.split('data-testid="site-metrics">', 1)[1].split("</dd>", 1)[0]
    assert "DR 71" in site_metrics and "RD 3,120" in site_metrics and "Traffic 48,210" in site_metrics
    assert "The 12 best widget tools for 2025" in html.split('data-testid="page-title">', 1)[1][:200]
