"""`policies/processing.yaml`: what the Article 30 record needs beside the agreements: the controller
and DPO contacts (Art 30(1)(a)), the security measures (Art 30(1)(g)), and the gateway's own processing
activities (the person index, the analysis store) with the rules that allow them."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PROCESSING_FILE = "processing.yaml"


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    contact: str


class Activity(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^PROC-[A-Z0-9-]+$")
    title: str
    rules: list[str] = Field(min_length=1)
    purposes: dict[str, str] = Field(min_length=1)
    legal_basis: list[str] = Field(min_length=1)
    data_subjects: str
    categories: str
    special_categories: str = "none"
    sources: list[str]
    recipients: str
    international_transfers: str = "none"
    retention: str


class ProcessingRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    controller: Contact
    dpo: Contact
    security_measures: list[str] = Field(min_length=1)
    activities: list[Activity] = Field(default_factory=list)


class ProcessingRecordError(ValueError):
    pass


def load_processing_record(policies_dir: Path) -> ProcessingRecord:
    path = Path(policies_dir) / PROCESSING_FILE
    try:
        return ProcessingRecord.model_validate(yaml.safe_load(path.read_text()))
    except FileNotFoundError as exc:
        raise ProcessingRecordError(f"{PROCESSING_FILE} is missing: the Article 30 record needs it") from exc
    except (yaml.YAMLError, ValidationError, OSError) as exc:
        raise ProcessingRecordError(f"{PROCESSING_FILE}: {' '.join(str(exc).split())[:500]}") from exc
