"""Children's social care: caseworkers see its records in their own system, so it shares no flags
through the gateway; the analysis store reads it directly (`analysis/facts.py`). Restricted records
are protected."""

from __future__ import annotations

from gateway.departments.flags import Department

DEPARTMENT = Department(
    name="childrens_social_care",
    label="Children's social care",
    protection_marker=("ssd_person", "pers_person_id", "pers_restricted"),
    analysis_fields=("known_to_csc", "cp_plan", "looked_after"),
)
