"""A client's assets page: upload an infographic or give brand names; roles; the image is served safely."""
from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.models.prospecting import Asset
from tests.discovery.images import chart, encode


def test_staff_upload_an_infographic_and_add_brand_names(
        client: FlaskClient, db: Session, login: Callable[..., FlaskClient], team: dict[str, Any]) -> None:
    login(team["owner"])
    path = f"/clients/{team['client'].id}/assets"
    page = client.get(path).get_data(as_text=True)
    assert "No assets yet." in page
    response = client.post(path, data={"which": "image", "image-name": "", "image-target_url": "https://acme.test/c",
                                       "image-image": (io.BytesIO(encode(chart(2))), "chart.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    response = client.post(path, data={"which": "brand", "brand-name": "Acme", "brand-target_url": "https://acme.test/",
                                       "brand-brand_names": "Acme Widgets\nAcmeCo"})
    assert response.status_code == 302
    image, brand = sorted(db.scalars(select(Asset)), key=lambda a: a.kind != "image")
    assert image.name == "chart.png" and len(image.image_phash) == 16 and image.image_type == "image/png"
    assert brand.brand_list == ["Acme Widgets", "AcmeCo"]
    served = client.get(f"/assets/{image.id}/image")
    assert served.status_code == 200 and served.mimetype == "image/png" and "sandbox" in served.headers[
        "Content-Security-Policy"]
    tab = client.get(f"/campaigns/{team['campaign'].id}/prospecting").get_data(as_text=True)
    assert "chart.png (image)" in tab and "Acme (brand)" in tab


def test_a_file_that_is_not_an_image_is_refused_next_to_the_field(
        client: FlaskClient, db: Session, login: Callable[..., FlaskClient], team: dict[str, Any]) -> None:
    login(team["owner"])
    page = client.post(f"/clients/{team['client'].id}/assets",
                       data={"which": "image", "image-target_url": "https://acme.test/",
                             "image-image": (io.BytesIO(b"%PDF-1.4"), "chart.pdf")},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert "the file is not a readable image" in page
    assert db.scalars(select(Asset)).all() == []


def test_viewers_read_only_and_outsiders_not_at_all(client: FlaskClient, db: Session,
                                                    login: Callable[..., FlaskClient], team: dict[str, Any]) -> None:
    from outreach.discovery.prospecting.service import create_image_asset

    asset = create_image_asset(db, team["client"], name="c", target_url="https://acme.test/", data=encode(chart(2)))
    db.commit()
    path = f"/clients/{team['client'].id}/assets"
    login(team["viewer"])
    page = client.get(path).get_data(as_text=True)
    assert "Save infographic" not in page and client.get(f"/assets/{asset.id}/image").status_code == 200
    assert client.post(path, data={"which": "brand"}).status_code == 403
    assert client.post(f"/assets/{asset.id}/delete").status_code == 403
    client.post("/logout")
    login(team["outsider"])
    assert client.get(path).status_code == 404
    assert client.get(f"/assets/{asset.id}/image").status_code == 404


def test_the_run_form_looks_for_all_the_clients_assets_until_told_otherwise(
        client: FlaskClient, db: Session, login: Callable[..., FlaskClient], team: dict[str, Any]) -> None:
    from outreach.discovery.prospecting.service import create_brand_asset

    a = create_brand_asset(db, team["client"], name="Acme", brand_names="Acme Widgets", target_url="https://acme.test/")
    b = create_brand_asset(db, team["client"], name="Widgets", brand_names="AcmeCo", target_url="https://acme.test/")
    db.commit()
    login(team["owner"])
    tab = client.get(f"/campaigns/{team['campaign'].id}/prospecting").get_data(as_text=True)
    for asset in (a, b):
        assert f'selected value="{asset.id}"' in tab or f'value="{asset.id}" selected' in tab
