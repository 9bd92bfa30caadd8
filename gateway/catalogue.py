"""The dataset catalogue (`policies/catalogue.yaml`): datasets, fields and their classifications.

The file is policy data an IG officer reviews; this module only reads and validates it.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

from gateway.departments import DEPARTMENTS, analysis_fields


class Classification(StrEnum):
    direct_identifier = "direct_identifier"
    quasi_identifier = "quasi_identifier"
    special_category = "special_category"
    free_text = "free_text"
    attribute = "attribute"


class Dataset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Literal["source", "analysis", "extract", "exchange"]
    store: str | None = None
    table: str | None = None
    description: str
    special_category: bool = False
    fields: dict[str, Classification]
    # Extract datasets: the generalisation ladder of each field (gateway.privacy.generalise).
    hierarchies: dict[str, str] = {}

    @model_validator(mode="after")
    def _known_hierarchies(self) -> Dataset:
        from gateway.privacy.generalise import HIERARCHIES

        for name, kind in self.hierarchies.items():
            if name not in self.fields:
                raise ValueError(f"{self.name}: hierarchy for unknown field {name!r}")
            if kind not in HIERARCHIES:
                raise ValueError(f"{self.name}.{name}: unknown hierarchy {kind!r}")
        return self


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    classifications: dict[Classification, str]
    datasets: list[Dataset]

    @model_validator(mode="after")
    def _unique_names(self) -> Catalogue:
        seen: set[str] = set()
        for d in self.datasets:
            if d.name in seen:
                raise ValueError(f"dataset {d.name!r} is listed twice")
            seen.add(d.name)
        return self

    def dataset(self, name: str) -> Dataset | None:
        return next((d for d in self.datasets if d.name == name), None)


def load_catalogue(policies_dir: Path) -> Catalogue:
    path = Path(policies_dir) / "catalogue.yaml"
    return with_departments(Catalogue.model_validate(yaml.safe_load(path.read_text())))


def with_departments(catalogue: Catalogue) -> Catalogue:
    """The reviewed file, plus what the registered departments declare that it does not list yet.

    A department module may carry its own datasets' entries (a new service before its lines reach the
    reviewed file), and every dataset that carries the service flags carries them all, each an
    attribute: a flag the registry declares is never silently missing from the catalogue.
    """
    listed = {d.name for d in catalogue.datasets}
    datasets = list(catalogue.datasets)
    for department in DEPARTMENTS:
        for entry in department.catalogue:
            if entry["name"] not in listed:
                datasets.append(Dataset.model_validate({"kind": "source", "store": department.name, **entry}))
    flags = analysis_fields()
    for i, dataset in enumerate(datasets):
        if set(flags) & set(dataset.fields) and not set(flags) <= set(dataset.fields):
            extra = {f: Classification.attribute for f in flags if f not in dataset.fields}
            datasets[i] = dataset.model_copy(update={"fields": dataset.fields | extra})
    return catalogue.model_copy(update={"datasets": datasets})
