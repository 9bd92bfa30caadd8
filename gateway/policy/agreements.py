"""The legal-gateway registry: data-sharing agreements in `policies/agreements/*.yaml`.

An agreement names who provides and who receives, the purposes, the legal basis, the datasets and
fields, the form the data may take (`view`), disclosure settings, and when it is in force. The access
model (`model.conf`) is generated from these files, so an IG officer changes access by changing an
agreement, not code.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

View = Literal["flags", "records", "aggregate", "extract", "exchange"]
AGREEMENTS_DIR = "agreements"


class Owner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    contact: str


class Recipient(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str
    department: str = "*"


class Disclosure(BaseModel):
    """Statistical disclosure control an agreement requires of what it releases."""

    model_config = ConfigDict(extra="forbid")
    threshold: int | None = Field(default=None, ge=1, description="cells below this are suppressed")
    rounding_base: int | None = Field(default=None, ge=1, description="counts rounded to this base")
    k: int | None = Field(default=None, ge=2, description="k-anonymity for extracts")
    # Aggregate tables (gateway.privacy.rules holds the defaults and their sources): differential
    # privacy (zCDP) per table, and the budget a project and each analyst may spend under this agreement.
    query_rho: float | None = Field(default=None, gt=0, le=1, description="zCDP cost of one table")
    project_rho: float | None = Field(default=None, gt=0, le=100, description="budget per project")
    analyst_rho: float | None = Field(default=None, gt=0, le=100, description="budget per analyst")
    agreement_rho: float | None = Field(default=None, gt=0, le=1000, description="budget for everyone in all")
    max_cells: int | None = Field(default=None, ge=1, le=20000, description="largest table released")
    # Extracts: the level each generalised field starts at, and how many records may be suppressed.
    generalise: dict[str, str] = Field(default_factory=dict, description="field -> starting level")
    max_suppression: float | None = Field(default=None, ge=0, le=0.5, description="share of records")
    # Extracts: people the stores protect (refuge, adoption) are left out unless this says otherwise.
    include_protected: bool = Field(default=False, description="include people the stores protect")
    # Extracts: l-diversity of these fields (default: every special-category field released) within
    # each class of records that share their quasi-identifiers.
    sensitive: list[str] = Field(default_factory=list, description="fields that must be l-diverse")
    l_diversity: int | None = Field(
        default=None, ge=2, le=10, description="distinct values per class (default 2)"
    )


class Agreement(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^AGR-[A-Z0-9-]+$")
    title: str
    owner: Owner
    providers: list[str]
    recipients: list[Recipient] = Field(min_length=1)
    purposes: dict[str, str] = Field(min_length=1)
    legal_basis: list[str] = Field(default_factory=list)
    data_subjects: str
    view: View
    datasets: dict[str, list[str]] = Field(min_length=1)
    disclosure: Disclosure = Field(default_factory=Disclosure)
    # Extracts: one-way pseudonyms (HMAC) unless the agreement allows re-identification (AES-SIV).
    pseudonyms: Literal["one_way", "reversible"] = "one_way"
    extract_days: int = Field(default=30, ge=1, le=730, description="days a released extract is kept")
    # Transfers to a third country or international organisation (Art 30(1)(e)), with the safeguard.
    international_transfers: str = "none"
    retention: str
    start: dt.date
    end: dt.date
    review: dt.date

    @model_validator(mode="after")
    def _dates(self) -> Agreement:
        if self.end < self.start:
            raise ValueError(f"ends ({self.end}) before it starts ({self.start})")
        return self

    def in_force(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    def status(self, day: dt.date) -> str:
        return "in_force" if self.in_force(day) else ("expired" if day > self.end else "not_started")

    def public(self, day: dt.date) -> dict:
        data = self.model_dump(mode="json")
        data["status"] = self.status(day)
        return data


class RegistryError(ValueError):
    """An agreement file could not be read; `problems` lists each file's error."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def agreement_files(policies_dir: Path) -> list[Path]:
    return sorted((Path(policies_dir) / AGREEMENTS_DIR).glob("*.yaml"))


def load_registry(policies_dir: Path) -> dict[str, Agreement]:
    registry: dict[str, Agreement] = {}
    problems: list[str] = []
    for path in agreement_files(policies_dir):
        try:
            agreement = Agreement.model_validate(yaml.safe_load(path.read_text()))
        except (yaml.YAMLError, ValidationError, OSError) as exc:
            problems.append(f"{path.name}: {_first_lines(exc)}")
            continue
        if agreement.id in registry:
            problems.append(f"{path.name}: agreement id {agreement.id} is used twice")
            continue
        registry[agreement.id] = agreement
    if problems:
        raise RegistryError(problems)
    return registry


def _first_lines(exc: Exception) -> str:
    return " ".join(str(exc).split())[:500]
