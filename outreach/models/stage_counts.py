"""Prospects per campaign and stage, kept by the database: the dashboard reads them without counting prospects.

Triggers on `prospects` append each change (+1, -1 per campaign and stage) to `stage_count_changes`, so
no writer ever waits for another to update a shared counter; outreach.campaigns.stage_counts folds the
changes into `campaign_stage_counts` (a tick) and reads the sum of both. On SQLite the triggers are per
row; on PostgreSQL per statement, over the statement's transition tables (a bulk insert adds one change
per campaign and stage). A deleted campaign takes its changes with it (its id may be used again on SQLite).

A batch migration that rebuilds `prospects` on SQLite drops its triggers with the old table, so `ensure`
(run after every upgrade and by `create_all`) puts back what is missing and counts anew when one had gone.
The triggers and the PostgreSQL function are not in `Base.metadata`; the two tables are.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Index, String, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from outreach.db import Base


class CampaignStageCount(Base):
    """How many prospects a campaign had in a stage when the changes were last folded in."""

    __tablename__ = "campaign_stage_counts"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(20), primary_key=True)
    prospects: Mapped[int] = mapped_column(default=0)


class StageCountChange(Base):
    """Prospects added to (delta > 0) or taken from a campaign's stage since the last fold."""

    __tablename__ = "stage_count_changes"
    __table_args__ = (Index("ix_stage_count_changes_campaign", "campaign_id", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: no foreign key: a campaign's deletion removes its changes (a trigger), after its prospects' changes
    campaign_id: Mapped[int]
    stage: Mapped[str] = mapped_column(String(20))
    delta: Mapped[int]


_CHANGE = "INSERT INTO stage_count_changes (campaign_id, stage, delta)"
SQLITE_TRIGGERS = {
    "stage_counts_ai": f"""CREATE TRIGGER IF NOT EXISTS stage_counts_ai AFTER INSERT ON prospects BEGIN
        {_CHANGE} VALUES (new.campaign_id, new.stage, 1); END""",
    "stage_counts_ad": f"""CREATE TRIGGER IF NOT EXISTS stage_counts_ad AFTER DELETE ON prospects BEGIN
        {_CHANGE} VALUES (old.campaign_id, old.stage, -1); END""",
    "stage_counts_au": f"""CREATE TRIGGER IF NOT EXISTS stage_counts_au AFTER UPDATE OF campaign_id, stage ON prospects
        WHEN old.campaign_id IS NOT new.campaign_id OR old.stage IS NOT new.stage BEGIN
        {_CHANGE} VALUES (old.campaign_id, old.stage, -1), (new.campaign_id, new.stage, 1);
        END""",
    "stage_counts_campaign_ad": """CREATE TRIGGER IF NOT EXISTS stage_counts_campaign_ad AFTER DELETE ON campaigns
        BEGIN DELETE FROM stage_count_changes WHERE campaign_id = old.id; END""",
}
PG_FUNCTION = f"""CREATE OR REPLACE FUNCTION stage_counts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_CHANGE} SELECT campaign_id, stage, count(*) FROM new_rows GROUP BY campaign_id, stage;
    ELSIF TG_OP = 'DELETE' THEN
        -- not for a campaign being deleted (its cascade runs this trigger after the campaign's own)
        {_CHANGE} SELECT campaign_id, stage, -count(*) FROM old_rows
            WHERE EXISTS (SELECT 1 FROM campaigns WHERE campaigns.id = old_rows.campaign_id)
            GROUP BY campaign_id, stage;
    ELSE
        {_CHANGE} SELECT campaign_id, stage, sum(d) FROM (
            SELECT campaign_id, stage, -1 AS d FROM old_rows UNION ALL SELECT campaign_id, stage, 1 FROM new_rows
        ) AS moved GROUP BY campaign_id, stage HAVING sum(d) <> 0;
    END IF;
    RETURN NULL;
END $$"""
PG_CAMPAIGN_FUNCTION = """CREATE OR REPLACE FUNCTION stage_counts_campaign_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM stage_count_changes WHERE campaign_id = OLD.id;
    RETURN NULL;
END $$"""
# a deleted campaign's trigger removes the changes pending for it; the changes of its prospects, which the
# foreign key's cascade deletes after it, are not recorded (the function's EXISTS)
PG_TRIGGERS = {
    "stage_counts_ai": "CREATE TRIGGER stage_counts_ai AFTER INSERT ON prospects REFERENCING NEW TABLE AS new_rows "
                       "FOR EACH STATEMENT EXECUTE FUNCTION stage_counts_changed()",
    "stage_counts_ad": "CREATE TRIGGER stage_counts_ad AFTER DELETE ON prospects REFERENCING OLD TABLE AS old_rows "
                       "FOR EACH STATEMENT EXECUTE FUNCTION stage_counts_changed()",
    "stage_counts_au": "CREATE TRIGGER stage_counts_au AFTER UPDATE ON prospects "
                       "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
                       "FOR EACH STATEMENT EXECUTE FUNCTION stage_counts_changed()",
    "stage_counts_campaign_ad": "CREATE TRIGGER stage_counts_campaign_ad AFTER DELETE ON campaigns "
                                "FOR EACH ROW EXECUTE FUNCTION stage_counts_campaign_deleted()",
}


def ensure(connection: Connection) -> None:
    """Create the triggers where they are missing and then count anew; a no-op when they are all there."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        if connection.scalar(text("SELECT to_regclass('prospects')")) is None:
            return
        present = set(connection.scalars(text(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'stage_counts_%'")))
        missing = [name for name in PG_TRIGGERS if name not in present]
        if not missing:
            return
        connection.execute(text(PG_FUNCTION))
        connection.execute(text(PG_CAMPAIGN_FUNCTION))
        triggers = PG_TRIGGERS
    elif dialect == "sqlite":
        names = set(connection.scalars(text("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")))
        if "prospects" not in names or "stage_count_changes" not in names:
            return
        missing = [name for name in SQLITE_TRIGGERS if name not in names]
        if not missing:
            return
        triggers = SQLITE_TRIGGERS
    else:
        return
    for name in missing:
        connection.execute(text(triggers[name]))
    recount(connection)


def recount(connection: Connection) -> None:
    """Count every campaign's prospects per stage from the table (after a trigger had gone missing)."""
    connection.execute(text("DELETE FROM stage_count_changes"))
    connection.execute(text("DELETE FROM campaign_stage_counts"))
    connection.execute(text("INSERT INTO campaign_stage_counts (campaign_id, stage, prospects) "
                            "SELECT campaign_id, stage, count(*) FROM prospects GROUP BY campaign_id, stage"))


def drop(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        for name, table in (("stage_counts_ai", "prospects"), ("stage_counts_ad", "prospects"),
                            ("stage_counts_au", "prospects"), ("stage_counts_campaign_ad", "campaigns")):
            connection.execute(text(f"DROP TRIGGER IF EXISTS {name} ON {table}"))
        connection.execute(text("DROP FUNCTION IF EXISTS stage_counts_changed()"))
        connection.execute(text("DROP FUNCTION IF EXISTS stage_counts_campaign_deleted()"))
    elif connection.dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))


def _after_create(target: Any, connection: Connection, **_kw: Any) -> None:
    ensure(connection)


event.listen(Base.metadata, "after_create", _after_create)
