"""Report fixtures: a client's link history built through the real state machine, and the job context."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy.orm import Session

from outreach.backlinks import service as backlinks
from outreach.backlinks.evidence import CheckResult, FoundLink
from outreach.config import BacklinksSettings
from outreach.models import Backlink
from tests.backlinks.conftest import ctx

__all__ = ["ctx"]

TARGET = "https://acme.example/widgets"
OCTOBER = "from=2026-10-01&to=2026-10-31"
T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def live(page: str, anchor: str = "Acme widgets", rel: list[str] | None = None, **kwargs: Any) -> CheckResult:
    link = FoundLink(href=TARGET, anchor=anchor, rel=rel or [])
    return CheckResult(page=page, final_url=page, http_status=200, status="live", links=[link],
                       follow=link.is_followed, indexable=True, found_in="static",
                       problems=[t for t in link.rel if t in ("nofollow", "sponsored", "ugc")], **kwargs)


def missing(page: str) -> CheckResult:
    return CheckResult(page=page, final_url=page, http_status=404, status="missing", problems=["http_404"])


@pytest.fixture
def history(db: Session, team: dict[str, Any]) -> dict[str, Backlink]:
    """Three links of Acme: one live since Oct 2, one nofollow live since Oct 10 then lost Oct 20, one pending;
    and one link of another client that must never show."""
    settings = BacklinksSettings(pending_check_hours=24, live_check_days=7, lost_after_failures=1,
                                 lost_after_hours=0)
    made: dict[str, Backlink] = {}
    with time_machine.travel(T0, tick=False) as clock:
        for name, page in (("kept", "https://www.news.example/a"), ("lost", "https://blog.example/b"),
                           ("pending", "https://zine.example/c")):
            made[name] = backlinks.create_backlink(db, client_id=team["client"].id, campaign_id=team["campaign"].id,
                                                   target_url=TARGET, page_url=page,
                                                   agreed_rel="nofollow" if name == "lost" else "follow")
        made["other"] = backlinks.create_backlink(db, client_id=team["other_client"].id, target_url=TARGET,
                                                  page_url="https://secret-other.example/x")
        db.commit()
        clock.move_to(T0 + timedelta(days=1))
        backlinks.apply_check(db, made["kept"], live(made["kept"].page_url, anchor="=HYPERLINK(\"x\")"), settings)
        backlinks.apply_check(db, made["other"], live(made["other"].page_url), settings)
        clock.move_to(T0 + timedelta(days=9))
        backlinks.apply_check(db, made["lost"], live(made["lost"].page_url, anchor="Acme", rel=["nofollow"]),
                              settings)
        clock.move_to(T0 + timedelta(days=19))
        backlinks.apply_check(db, made["lost"], missing(made["lost"].page_url), settings)
        backlinks.apply_check(db, made["pending"], missing(made["pending"].page_url), settings)
        db.commit()
    return made
