"""Verification of pages that cannot be read whole: no verdict of "missing" on what was not read."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

from outreach.backlinks.jobs import Job, run_checks
from outreach.backlinks.verify import verify
from outreach.config import Settings
from tests.backlinks.conftest import TARGET
from tests.backlinks.test_verify import LINK, page, run_cli
from tests.lib.testweb import TestWeb, deep_nesting, drip


def job(backlink_id: int, url: str) -> Job:
    return Job(backlink_id=backlink_id, page_url=url, site_url="", target_url=TARGET, match_mode="exact",
               anchor="", render=False)


def test_a_hostile_page_is_unknown_while_a_page_checked_beside_it_is_live_in_time(
        web: TestWeb, settings: Settings) -> None:
    web.page("/hostile", deep_nesting(LINK))
    # in flight while the hostile page is read, for a second, in more reads than one (1 MB)
    web.routes["/healthy"] = drip(page(LINK + f"<p>{'words ' * 170_000}</p>"))
    outcomes = asyncio.run(run_checks([job(1, web.url("/hostile")), job(2, web.url("/healthy"))], settings))
    healthy, hostile = outcomes[2].result, outcomes[1].result
    assert healthy.status == "live" and healthy.error is None  # not a timeout
    assert hostile.status == "unknown" and hostile.http_status == 200 and hostile.links == []
    assert "too_complex" in hostile.problems and "link_missing" not in hostile.problems
    assert hostile.indexable is False


def test_a_page_nested_past_the_depth_limit_is_unknown(web: TestWeb, settings: Settings) -> None:
    web.page("/a", deep_nesting(LINK, depth=100))
    assert verify(web.url("/a"), TARGET, settings).status == "live"
    shallow = settings.with_(crawl={"max_parse_depth": 50})
    result = verify(web.url("/a"), TARGET, shallow)
    assert result.status == "unknown" and result.problems == ["too_complex"]


def test_over_the_size_cap_a_link_in_the_part_read_is_live_and_none_found_is_unknown(
        web: TestWeb, settings: Settings) -> None:
    filler = f"<p>{'words ' * 2000}</p>"
    web.page("/early", page(LINK + filler))
    web.page("/late", page(filler + LINK))
    capped = settings.with_(crawl={"max_page_bytes": 5_000})
    early = verify(web.url("/early"), TARGET, capped)
    assert early.status == "live" and "too_large" in early.problems
    late = verify(web.url("/late"), TARGET, capped)
    assert late.status == "unknown" and late.links == []
    assert "too_large" in late.problems and "link_missing" not in late.problems
    assert verify(web.url("/late"), TARGET, settings).status == "live"  # under the cap: read whole


def test_the_cli_says_unknown_and_why(web: TestWeb, config: Path) -> None:
    web.page("/a", deep_nesting(LINK, depth=1_000))
    done = run_cli("verify", web.url("/a"), "--target", TARGET, "--json", config=config)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["status"] == "unknown" and data["problems"] == ["too_complex"]
    text = run_cli("verify", web.url("/a"), "--target", TARGET, config=config)
    assert text.returncode == 0 and text.stdout.startswith("UNKNOWN") and "too_complex" in text.stdout
