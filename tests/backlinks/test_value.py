"""A link's worth on its page: price, currency and payment (the team's only), value signals side by side, and its
referral sessions month by month."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from outreach.analytics import service as analytics
from outreach.analytics.rows import Parsed, Sessions
from outreach.backlinks import service
from outreach.backlinks.evidence import CheckResult, FoundLink
from outreach.config import BacklinksSettings
from outreach.lib.clock import utcnow
from outreach.models import Backlink, Opportunity, Site, User
from tests.backlinks.conftest import TARGET


def test_the_team_edits_price_currency_and_payment_and_a_viewer_sees_no_price(
        db: Session, login: Callable[[User], FlaskClient], team: dict[str, Any]) -> None:
    backlink = service.create_backlink(db, client_id=team["client"].id, target_url=TARGET,
                                       page_url="https://blog.example/post")
    db.commit()
    staff = login(team["owner"])
    response = staff.post(f"/backlinks/{backlink.id}/edit", data={
        "page_url": backlink.page_url, "site_url": "", "target_url": TARGET, "match_mode": "exact",
        "agreed_anchor": "", "agreed_rel": "follow", "price": "1,250.5", "currency": "gbp", "payment_status": "paid",
        "notes": ""})
    assert response.status_code == 302
    db.expire_all()
    saved = db.get(Backlink, backlink.id)
    assert (saved.price, saved.currency, saved.payment_status) == (1250.5, "GBP", "paid")
    html = staff.get(f"/backlinks/{backlink.id}").get_data(as_text=True)
    assert 'data-testid="price"><strong>Price</strong><br>£1,250.50 · paid' in html
    bad = staff.post(f"/backlinks/{backlink.id}/edit", data={
        "page_url": backlink.page_url, "target_url": TARGET, "match_mode": "exact", "agreed_rel": "follow",
        "currency": "12$", "payment_status": ""})
    assert bad.status_code == 400 and "currency &#39;12$&#39; is not a three-letter code" in bad.get_data(as_text=True)
    staff.post("/logout")
    seen = login(team["viewer"]).get(f"/backlinks/{backlink.id}").get_data(as_text=True)
    assert "1,250" not in seen and 'data-testid="price"' not in seen


def test_the_link_page_puts_its_value_signals_side_by_side(db: Session, login: Callable[[User], FlaskClient],
                                                           team: dict[str, Any], make_prospect: Any) -> None:
    prospect = make_prospect(team["campaign"], "https://www.news.example/a")
    site = db.get(Site, prospect.site_id)
    site.domain_rating, site.organic_traffic = 61.0, 12000
    db.add(Opportunity(campaign_id=team["campaign"].id, site_id=site.id, page_url=prospect.page_url,
                       kind="broken_link", score=72.4, prospect_id=prospect.id))
    backlink = service.create_backlink(db, client_id=team["client"].id, campaign_id=team["campaign"].id,
                                       prospect_id=prospect.id, target_url=TARGET, page_url=prospect.page_url)
    link = FoundLink(href=TARGET, anchor="Acme", rel=[])
    service.apply_check(db, backlink, CheckResult(page=backlink.page_url, final_url=backlink.page_url,
                                                  http_status=200, status="live", links=[link], follow=True,
                                                  indexable=True, found_in="static"), BacklinksSettings())
    today = utcnow().date().replace(day=1)
    analytics.store(db, team["client"].id, Parsed("ga4", [Sessions(today, "https://news.example/a/", 17)], {today}))
    db.commit()
    html = login(team["viewer"]).get(f"/backlinks/{backlink.id}").get_data(as_text=True)
    value = html[html.index('data-testid="value"'):]
    assert "<th>Followed</th><td>yes</td>" in value and "<th>Indexable</th><td>yes</td>" in value
    assert "<th>Relevance</th><td>72" in value and "DR 61, Traffic 12,000" in value
    assert 'data-testid="referral-sessions">17 <span class="muted small">in the last 12 months' in value
    assert 'class="sparkline"' in value
    ledger = login(team["owner"]).get("/backlinks").get_data(as_text=True)
    assert 'data-testid="link-referrals"><svg' in ledger
    tab = login(team["owner"]).get(f"/campaigns/{team['campaign'].id}/links").get_data(as_text=True)
    assert "Referral sessions from its links in the last 12 months: <strong>17</strong>" in tab


def test_the_value_of_many_links_takes_a_fixed_number_of_queries(db: Session, team: dict[str, Any]) -> None:
    from sqlalchemy import event

    from outreach.backlinks.value import signals

    links = [service.create_backlink(db, client_id=team["client"].id, target_url=TARGET,
                                     page_url=f"https://p{i}.example/x") for i in range(30)]
    db.commit()
    statements: list[str] = []
    engine = db.get_bind()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        found = signals(db, links)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert len(found) == 30 and len(statements) <= 3
