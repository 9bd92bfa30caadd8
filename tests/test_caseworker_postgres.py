"""A departmental store on PostgreSQL that becomes unreachable: its service reads `unavailable`, the
rest are still served."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.config import Settings
from gateway.datadir import DataDir
from gateway.index.build import build_index
from gateway.index.store import IndexStore
from gateway.seed import seed
from tests.conftest import TcpProxy, bearer

pytestmark = pytest.mark.postgres
GLASS = {"X-Break-Glass-Reason": "Testing the behaviour of a store that went down mid-request"}


def test_one_store_down_marks_only_that_service_unavailable(tmp_path: Path, pg_prefix: str) -> None:
    seed(tmp_path, people=2500, dsn_prefix=pg_prefix)
    build_index(DataDir(tmp_path))
    rows = list(IndexStore(DataDir(tmp_path).index_url()).export_rows())
    sources: dict[str, set[str]] = {}
    for r in rows:
        sources.setdefault(r["person_id"], set()).add(r["source"])
    # Someone the stores do not mark as protected (person ids are random: the first in order could be).
    marked = set()
    urls = DataDir(tmp_path).store_urls()
    for store, sql in (
        ("childrens_social_care", "SELECT pers_person_id FROM ssd_person WHERE pers_restricted = 'Y'"),
        ("housing", "SELECT tp_person_ref FROM hsg_tenancy_persons WHERE tp_sensitive = 'Y'"),
    ):
        engine = sa.create_engine(urls[store])
        with engine.connect() as conn:
            marked |= {(store, local) for (local,) in conn.execute(sa.text(sql))}
        engine.dispose()
    protected = {r["person_id"] for r in rows if (r["source"], r["local_id"]) in marked}
    person = next(
        p for p, s in sorted(sources.items()) if {"housing", "education"} <= s and p not in protected
    )

    proxy = TcpProxy(("127.0.0.1", 5432))
    manifest_path = DataDir(tmp_path).manifest_path
    manifest = json.loads(manifest_path.read_text())
    manifest["stores"]["housing"] = manifest["stores"]["housing"].replace(
        "127.0.0.1:5432", f"127.0.0.1:{proxy.port}"
    )
    manifest_path.write_text(json.dumps(manifest))

    with TestClient(create_app(Settings(data_dir=tmp_path))) as c:
        headers = {**bearer(tmp_path, "cw.alice"), **GLASS}
        url, params = f"/v1/persons/{person}/flags", {"purpose": "child_in_need_assessment"}
        before = c.get(url, params=params, headers=headers).json()
        assert before["services"]["housing"] == "ok" and before["services"]["education"] == "ok"
        proxy.cut()
        after = c.get(url, params=params, headers=headers)
        assert after.status_code == 200
        body = after.json()
        assert body["services"]["housing"] == "unavailable"
        assert body["services"]["education"] == "ok"
        # Housing also holds the protection marker: with it unreachable, the gateway cannot know the
        # person is not protected, so it fails closed and shows involvement and contact routes only.
        assert body["protected"] is True and not before["protected"]
        assert {f["service"] for f in body["flags"]} == {f["service"] for f in before["flags"]} - {"housing"}
        assert all(f["flag"] == "involved" for f in body["flags"])
        assert c.get("/readyz").json()["stores"]["housing"] == "unavailable"
