"""Load the linkage profile (`policies/linkage.yaml`) into a validated `Profile`."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.linkage.model import Profile

PROFILE_FILE = "linkage.yaml"


class _DisagreementM(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date_of_birth: float | None = Field(default=0.002, gt=0, lt=1)
    first_name: float | None = Field(default=0.003, gt=0, lt=1)
    sex: float | None = Field(default=0.005, gt=0, lt=1)


class _ProfileFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    match_threshold: float = Field(default=0.99, gt=0.5, lt=1)
    review_band_weight: float = Field(default=4.0, ge=0, le=20)
    disagreement_m: _DisagreementM = _DisagreementM()
    attach_without_dob: bool = True
    join_only_candidates: bool = False


class ProfileError(ValueError):
    pass


def load_profile(path: Path) -> Profile:
    """Read a profile file (or a policies directory holding `linkage.yaml`); absent file -> defaults."""
    if path.is_dir():
        path = path / PROFILE_FILE
    if not path.exists():
        return Profile()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
        parsed = _ProfileFile.model_validate(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        raise ProfileError(f"{path}: {exc}") from exc
    return Profile(
        match_threshold=parsed.match_threshold,
        review_band_weight=parsed.review_band_weight,
        dob_disagree_m=parsed.disagreement_m.date_of_birth,
        first_name_disagree_m=parsed.disagreement_m.first_name,
        sex_disagree_m=parsed.disagreement_m.sex,
        attach_without_dob=parsed.attach_without_dob,
        join_only_candidates=parsed.join_only_candidates,
    )
