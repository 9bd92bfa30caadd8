"""The department registry agrees with everything else that names a department, a flag or a field:
the store schemas, the catalogue IG officers read, and the analysis store. A flag declared in one
place but missing in another used to be dropped without an error; here it fails with its name."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.analysis import schema as analysis_schema
from gateway.catalogue import load_catalogue
from gateway.config import Settings
from gateway.departments import (
    DEPARTMENTS,
    STORE_NAMES,
    analysis_fields,
    flag_queries,
    flags,
    protection_markers,
    store_tables,
)

CATALOGUE = load_catalogue(Settings().policies_dir)


def test_every_store_is_a_department_and_every_department_a_store() -> None:
    assert [d.name for d in DEPARTMENTS] and {d.name for d in DEPARTMENTS} == set(STORE_NAMES)
    assert len({d.name for d in DEPARTMENTS}) == len(DEPARTMENTS)
    assert all(d.label for d in DEPARTMENTS)


@pytest.mark.parametrize("spec", flags(), ids=lambda s: s.flag)
def test_each_flag_names_catalogue_fields_that_exist(spec) -> None:
    dataset = CATALOGUE.dataset(spec.dataset)
    assert dataset is not None, f"{spec.flag}: no dataset {spec.dataset} in the catalogue"
    assert spec.dataset.startswith(spec.service + "."), spec
    assert set(spec.fields) <= set(dataset.fields), (spec.flag, set(spec.fields) - set(dataset.fields))
    if spec.contact_dataset:
        contact = CATALOGUE.dataset(spec.contact_dataset)
        assert contact is not None and set(spec.contact_fields) <= set(contact.fields), spec.flag
    assert spec.analysis_field, f"{spec.flag} sets no analysis-store field"


def test_flags_are_unique_and_each_service_with_flags_computes_them() -> None:
    names = [f.flag for f in flags()]
    assert len(names) == len(set(names))
    assert {f.service for f in flags()} == set(flag_queries())


def test_analysis_fields_are_columns_of_the_analysis_store_and_fields_of_person_records() -> None:
    persons = CATALOGUE.dataset("person_records")
    assert persons is not None
    columns = set(analysis_schema.persons.columns.keys())
    for field in analysis_fields():
        assert field in columns, f"{field} is not a column of the analysis store's persons table"
        assert field in persons.fields, f"{field} is not a field of person_records in the catalogue"


def test_protection_markers_name_real_columns() -> None:
    assert set(protection_markers()) >= {"childrens_social_care", "housing"}
    for store, (table, id_column, marker) in protection_markers().items():
        columns = store_tables(store)[table].columns
        assert id_column in columns and marker in columns, (store, table)


TOY = "tests.toy_department.youth_service"
TOY_AGREEMENT = """\
id: AGR-TOY-001
title: Youth service membership flags for children's social care
owner: {name: Head of Information Governance, contact: ig@northbridge.gov.example}
providers: [youth_service]
recipients:
  - {role: caseworker, department: childrens_social_care}
purposes:
  child_protection_enquiry: Enquiries where a child is suspected to be suffering significant harm (s47)
legal_basis:
  - Children Act 1989 s47 (duty to make enquiries)
  - UK GDPR Art 6(1)(e) (public task)
data_subjects: Children on the recipient's caseload and members of their families
view: flags
datasets:
  youth_service.ys_memberships: [ysp_start_date]
  youth_service.ys_workers: [ysw_name, ysw_role, ysw_team, ysw_phone]
retention: Flags are shown, never copied; access records kept 6 years.
start: 2024-04-01
end: 2099-03-31
review: 2099-03-31
"""


def test_a_toy_department_is_one_module_and_its_flag_reaches_every_part(tmp_path) -> None:
    """The toy module (`tests/toy_department/youth_service.py`) plus its agreement lines, and nothing
    else: the flag must appear in caseworker views, the analysis store and the catalogue. The truth
    comes from the toy store and the person index read with plain SQL here, not from the gateway."""
    policies = tmp_path / "policies"
    shutil.copytree(Settings().policies_dir, policies)
    (policies / "agreements" / "AGR-TOY-001-youth-service.yaml").write_text(TOY_AGREEMENT)
    data = tmp_path / "data"
    env = {**os.environ, "GATEWAY_DEPARTMENTS": f"{TOY}:DEPARTMENT"}
    run = subprocess.run(
        [sys.executable, "-m", "tests.toy_department.run", str(data), str(policies)],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])

    with sqlite3.connect(data / "stores" / "youth_service.db") as con:
        open_members = {
            r[0] for r in con.execute("SELECT ysp_member_id FROM ys_memberships WHERE ysp_end_date IS NULL")
        }
    with sqlite3.connect(data / "gateway.db") as con:
        linked = {
            person
            for person, local in con.execute(
                "SELECT person_id, local_id FROM index_xref WHERE source = 'youth_service'"
            )
            if local in open_members
        }
    assert open_members and linked

    # Caseworker views: exactly the caseload's members have the flag, with the youth worker as contact.
    caseload = seen["flags"]
    expected = {p for p in caseload if p in linked}
    shown = {p for p, flags in caseload.items() if "youth_service.youth_club_member:contact" in flags}
    assert expected and set(caseload) - expected, "the caseload should hold members and non-members"
    assert shown == expected

    # The analysis store: a column of its own, true for each linked member.
    assert "youth_club_member" in seen["analysis_columns"]
    assert seen["analysis_members"] == len(linked)

    # The catalogue: the toy's datasets, and the flag among the fields of every flag-carrying dataset.
    datasets = {d["name"]: d for d in seen["catalogue"]["datasets"]}
    assert datasets["youth_service.ys_memberships"]["store"] == "youth_service"
    for name in ("persons", "families", "person_records"):
        assert datasets[name]["fields"]["youth_club_member"] == "attribute", name
