"""Claims: the oldest queued row goes to exactly one claimer."""
from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from outreach.crawler.service import claim_next, start_crawl


def test_each_queued_job_is_claimed_once_oldest_first(app: Flask, db: Session) -> None:
    first = start_crawl(db, ["http://127.0.0.77/"], max_pages=5)
    second = start_crawl(db, ["http://127.0.0.78/"], max_pages=5)
    db.commit()
    other = app.extensions["outreach"].sessionmaker()
    try:
        got_a = claim_next(db, "a")
        db.commit()
        got_b = claim_next(other, "b")
        other.commit()
        assert claim_next(other, "b") is None
    finally:
        other.close()
    assert (got_a.id, got_a.worker, got_a.status) == (first.id, "a", "running")
    assert (got_b.id, got_b.worker) == (second.id, "b")
