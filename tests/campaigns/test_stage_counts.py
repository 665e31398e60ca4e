"""Prospects per campaign and stage, kept by triggers and folded by a tick, always equal a count of the rows."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from outreach.campaigns import stage_counts
from outreach.campaigns.service import add_prospect, move_prospect
from outreach.lib.clock import utcnow
from outreach.models import Campaign, Prospect, Site
from outreach.models.stage_counts import CampaignStageCount, StageCountChange, ensure
from tests.race import together


def truth(db: Session) -> dict[int, dict[str, int]]:
    """What a GROUP BY over the prospects says."""
    db.commit()
    counts: dict[int, dict[str, int]] = {}
    for campaign_id, stage, n in db.execute(select(Prospect.campaign_id, Prospect.stage, func.count())
                                            .group_by(Prospect.campaign_id, Prospect.stage)):
        counts.setdefault(campaign_id, {})[stage] = n
    return counts


def kept(db: Session, campaigns: list[Campaign]) -> dict[int, dict[str, int]]:
    db.commit()
    return stage_counts.by_campaign(db, [c.id for c in campaigns])


def fold(app: Flask, db: Session) -> int:
    db.commit()  # the test's session ends its read: on SQLite its next write would start from a stale snapshot
    with app.extensions["outreach"].sessionmaker() as session:
        folded = stage_counts.fold(session)
        session.commit()
    return folded


def bulk_insert(db: Session, campaign: Campaign, n: int, stage: str = "new") -> None:
    """Prospects added in one statement, as a bulk import or a script would (no ORM)."""
    now = utcnow()
    site_ids = [db.scalar(insert(Site).values(domain=f"{uuid.uuid4().hex[:10]}.test", created_at=now)
                          .returning(Site.id)) for _ in range(n)]
    db.execute(insert(Prospect), [{"campaign_id": campaign.id, "site_id": s, "stage": stage, "page_url": "",
                                   "position": 0.0, "override_reason": "", "overridden": [], "page_title": "",
                                   "link_anchor": "", "link_target_url": "", "created_at": now, "updated_at": now,
                                   "stage_changed_at": now} for s in site_ids])
    db.commit()


def test_the_counts_follow_every_change_before_and_after_a_fold(
        app: Flask, db: Session, make_campaign: Callable[..., Campaign]) -> None:
    first, second, doomed = make_campaign(name="First"), make_campaign(name="Second"), make_campaign(name="Doomed")
    campaigns = [first, second, doomed]
    prospects = [add_prospect(db, first, f"https://{uuid.uuid4().hex[:8]}.test/") for _ in range(4)]
    add_prospect(db, doomed, "https://doomed.test/")
    db.commit()
    assert kept(db, campaigns) == truth(db) == {first.id: {"new": 4}, doomed.id: {"new": 1}}

    move_prospect(db, prospects[0], "contacted")
    move_prospect(db, prospects[1], "contacted")
    db.commit()
    assert fold(app, db) > 0
    assert kept(db, campaigns) == truth(db)
    bulk_insert(db, second, 5)
    db.execute(update(Prospect).where(Prospect.id == prospects[2].id).values(campaign_id=second.id, stage="replied"))
    db.execute(update(Prospect).where(Prospect.campaign_id == second.id, Prospect.stage == "new")
               .values(stage="qualified"))
    db.execute(update(Prospect).values(page_url="https://same.test/"))  # no stage moves: no change recorded
    db.execute(delete(Prospect).where(Prospect.id == prospects[3].id))
    db.commit()
    assert kept(db, campaigns) == truth(db) == {first.id: {"contacted": 2}, second.id: {"qualified": 5, "replied": 1},
                                                doomed.id: {"new": 1}}
    fold(app, db)
    db.execute(delete(Campaign).where(Campaign.id == doomed.id))  # its prospects go with it, and their changes
    db.commit()
    assert kept(db, campaigns) == truth(db)
    assert db.scalar(select(func.count()).select_from(StageCountChange)
                     .where(StageCountChange.campaign_id == doomed.id)) == 0
    fold(app, db)
    assert kept(db, campaigns) == truth(db)
    assert stage_counts.by_stage(db, select(Campaign.id)) == {"contacted": 2, "qualified": 5, "replied": 1}


def test_two_folds_at_once_fold_each_change_once(app: Flask, db: Session,
                                                 make_campaign: Callable[..., Campaign]) -> None:
    campaigns = [make_campaign(name=f"C{i}") for i in range(3)]
    factory = app.extensions["outreach"].sessionmaker
    for _ in range(8):
        for campaign in campaigns:
            bulk_insert(db, campaign, 2)
            move_prospect(db, db.scalars(select(Prospect).where(Prospect.campaign_id == campaign.id,
                                                                Prospect.stage == "new")).first(), "qualified")
        db.commit()
        pending = db.scalar(select(func.count()).select_from(StageCountChange))
        db.commit()

        def one(_: int) -> int:
            with factory() as session:
                folded = stage_counts.fold(session)
                session.commit()
            return folded

        assert sum(together(one)) == pending
        db.commit()
        assert db.scalar(select(func.count()).select_from(StageCountChange)) == 0
        assert kept(db, campaigns) == truth(db)


def test_a_missing_trigger_is_put_back_and_the_counts_read_anew(
        app: Flask, db: Session, make_campaign: Callable[..., Campaign]) -> None:
    """As after a batch migration rebuilt `prospects` on SQLite (it drops the table's triggers)."""
    campaign = make_campaign()
    add_prospect(db, campaign, "https://before.test/")
    db.commit()
    engine = app.extensions["outreach"].engine
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER stage_counts_ai" if engine.dialect.name == "sqlite"
                          else "DROP TRIGGER stage_counts_ai ON prospects"))
    add_prospect(db, campaign, "https://unseen.test/")
    db.commit()
    assert kept(db, [campaign]) == {campaign.id: {"new": 1}}  # the second went uncounted
    with engine.begin() as conn:
        ensure(conn)
    assert kept(db, [campaign]) == truth(db) == {campaign.id: {"new": 2}}
    add_prospect(db, campaign, "https://after.test/")
    db.commit()
    assert kept(db, [campaign]) == truth(db)
    assert db.scalar(select(func.sum(CampaignStageCount.prospects))) == 2  # the recount, then a pending change


def test_the_dashboard_reads_folded_and_pending_counts(app: Flask, login: Any, team: dict[str, Any],
                                                       db: Session) -> None:
    campaign = team["campaign"]
    bulk_insert(db, campaign, 3, stage="contacted")
    fold(app, db)
    bulk_insert(db, campaign, 2, stage="contacted")
    html = login(team["owner"]).get("/").get_data(as_text=True)
    assert "<title>Contacted: 5</title>" in html
