"""One generator per departmental store; each fills a `StoreBuilder` from the true `World`."""

from __future__ import annotations

from collections.abc import Callable

from gateway.synth.departments import (
    adult_social_care,
    benefits,
    childrens_social_care,
    community_safety,
    early_help,
    education,
    housing,
)
from gateway.synth.departments.common import StoreBuilder

BUILDERS: dict[str, Callable[[StoreBuilder], None]] = {
    "childrens_social_care": childrens_social_care.build,
    "early_help": early_help.build,
    "housing": housing.build,
    "education": education.build,
    "community_safety": community_safety.build,
    "adult_social_care": adult_social_care.build,
    "benefits": benefits.build,
}
