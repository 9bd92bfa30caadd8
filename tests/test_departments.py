"""The department registry agrees with everything else that names a department, a flag or a field:
the store schemas, the catalogue IG officers read, and the analysis store. A flag declared in one
place but missing in another used to be dropped without an error; here it fails with its name."""

from __future__ import annotations

import pytest

from gateway.analysis import schema as analysis_schema
from gateway.catalogue import load_catalogue
from gateway.config import Settings
from gateway.departments import DEPARTMENTS, analysis_fields, flag_queries, flags, protection_markers
from gateway.stores.schema import STORE_NAMES, store_tables

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
