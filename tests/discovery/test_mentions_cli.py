"""`outreach discover mentions` keeps the CLI contract: images by file or URL, brands, bad input."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.discovery.images import chart, copies, encode
from tests.discovery.test_guest_posts_cli import outreach
from tests.lib.testweb import TestWeb


@pytest.fixture
def web() -> Iterator[TestWeb]:
    server = TestWeb("127.0.0.36")
    yield server
    server.close()


def test_it_finds_a_resized_copy_of_a_file_and_a_brand(web: TestWeb, tmp_path: Path) -> None:
    original = chart(3)
    (tmp_path / "chart.png").write_bytes(encode(original))
    web.page("/img/c.jpg", copies(original)["small.jpg"], content_type="image/jpeg")
    web.page("/", '<html><body><img src="/img/c.jpg"><p>Made by Acme Analytics.</p>'
             '<a href="https://target.test/">target</a></body></html>')
    run = outreach(["discover", "mentions", web.url("/"), "--target", "https://target.test/x",
                    "--image", str(tmp_path / "chart.png"), "--brand", "Acme Analytics", "--json"], tmp_path)
    assert run.returncode == 0, run.stderr
    mentions = json.loads(run.stdout)["mentions"]
    assert {(m["kind"], m["links_to_target"], m["links_to_exact_target"]) for m in mentions} == {
        ("image", True, False), ("brand", True, False)}
    assert {m["evidence"] for m in mentions if m["kind"] == "image"} == {web.url("/img/c.jpg")}


@pytest.mark.parametrize(("args", "message"), [
    (["--target", "https://t.test/"], "give at least one --image or --brand"),
    (["--target", "nope://t", "--brand", "Acme"], "is not an http(s) URL"),
    (["--target", "https://t.test/", "--image", "/nonexistent/chart.png"], "cannot read the image"),
])
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    run = outreach(["discover", "mentions", "http://127.0.0.36:9/", *args, "--json"], tmp_path)
    assert run.returncode == 2 and message in run.stderr and run.stderr.count("\n") == 1


def test_with_a_campaign_only_unlinked_mentions_become_opportunities(web: TestWeb, tmp_path: Path) -> None:
    from sqlalchemy import create_engine, text

    from tests.discovery.test_guest_posts_cli import make_campaign_db

    web.page("/", "<html><body><a href='/a'>a</a><a href='/b'>b</a></body></html>")
    web.page("/a", "<html><body><p>Acme Analytics rocks.</p></body></html>")
    web.page("/b", "<html><body><p>Acme Analytics, <a href='https://target.test/'>see</a>.</p></body></html>")
    db_url = make_campaign_db(tmp_path)
    missing = outreach(["discover", "mentions", web.url("/"), "--target", "https://target.test/", "--brand", "Acme",
                        "--campaign", "9"], tmp_path, db_url)
    assert missing.returncode == 2 and "campaign 9 does not exist" in missing.stderr and web.hits["/"] == 0
    run = outreach(["discover", "mentions", web.url("/"), "--target", "https://target.test/", "--brand",
                    "Acme Analytics", "--campaign", "1", "--json"], tmp_path, db_url)
    assert run.returncode == 0, run.stderr
    assert len(json.loads(run.stdout)["mentions"]) == 2
    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, page_url FROM opportunities")).all()
    engine.dispose()
    assert rows == [("brand_mention", web.url("/a"))]
