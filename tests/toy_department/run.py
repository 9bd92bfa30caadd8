"""Run the gateway with the toy department registered (`GATEWAY_DEPARTMENTS` names it) on a small
borough, and print what each part made of it as JSON. `tests/test_departments.py` runs this in a
process of its own, so the registry is read with the toy in it, and checks the output against the
toy store and the person index read directly.

    python -m tests.toy_department.run <data dir> <policies dir>
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text

from gateway.analysis import schema as analysis_schema
from gateway.analysis.build import build_analysis
from gateway.api.app import create_app
from gateway.config import Settings
from gateway.datadir import DataDir
from gateway.identity.dev_issuer import sign_token
from gateway.identity.users import load_demo_users
from gateway.index.build import build_index
from gateway.seed import seed

PEOPLE = 3_000
PURPOSE = "child_protection_enquiry"


def main(data_dir: Path, policies: Path) -> dict:
    seed(data_dir, people=PEOPLE)
    dd = DataDir(data_dir)
    build_index(dd)
    build_analysis(dd)
    engine = create_engine(dd.analysis_url())
    with engine.connect() as conn:
        persons = analysis_schema.persons
        members = conn.execute(select(persons.c.youth_club_member)).scalars().all()
        columns = list(conn.execute(text("SELECT * FROM persons LIMIT 1")).keys())
    engine.dispose()
    settings = Settings(data_dir=data_dir, policies_dir=policies)
    user = load_demo_users(settings.policies_dir).get("cw.alice")
    headers = {"Authorization": f"Bearer {sign_token(data_dir, user)}"}
    flags: dict[str, list[str]] = {}
    with TestClient(create_app(settings)) as client:
        catalogue = client.get("/v1/catalogue", headers=headers).json()
        for item in client.get("/v1/caseload", headers=headers).json():
            body = client.get(
                f"/v1/persons/{item['person_id']}/flags", params={"purpose": PURPOSE}, headers=headers
            ).json()
            flags[item["person_id"]] = [
                f"{f['service']}.{f['flag']}" + (":contact" if f.get("contact") else "")
                for f in body["flags"]
            ]
    return {
        "analysis_columns": columns,
        "analysis_members": sum(bool(m) for m in members),
        "analysis_people": len(members),
        "catalogue": catalogue,
        "flags": flags,
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]))))
