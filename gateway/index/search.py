"""Find a person in the index from what a requester gives (name and date of birth, or NHS number), as
the linkage itself would: the record is scored against every indexed record with the last link run's
model, and the candidates come back best first for an officer to choose from. Used for subject access
requests, where the requester knows their name, not the gateway's person id."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from gateway.datadir import DataDir
from gateway.index.match import PARTNER, score_against_index
from gateway.index.store import IndexStore
from gateway.linkage.standardise import standardise_record

NHS_NUMBER = re.compile(r"^[0-9]{10}$")


class SearchInputError(ValueError):
    """What was given cannot identify anyone; the message says what is needed."""


@dataclass(frozen=True)
class SubjectQuery:
    name: str | None = None
    date_of_birth: dt.date | None = None
    nhs_number: str | None = None
    # An address: the first line and the postcode, standardised as the stores' addresses are.
    address_line: str | None = None
    postcode: str | None = None

    def given(self) -> list[str]:
        """Which details were given, never their values: what an audit event may keep of a search."""
        return [
            name
            for name in ("name", "date_of_birth", "nhs_number", "address_line", "postcode")
            if getattr(self, name)
        ]

    def record(self) -> dict[str, object]:
        """The query as a record of an outside source, standardised as the stores' records are.

        Enough to identify someone: an NHS number; or a full name with a date of birth, or with an
        address (first line and postcode, for someone whose birthday the requester does not know)."""
        words = (self.name or "").split()
        nhs = (self.nhs_number or "").replace(" ", "") or None
        if nhs is not None and not NHS_NUMBER.match(nhs):
            raise SearchInputError("nhs_number must be 10 digits")
        address = bool(
            self.address_line and self.address_line.strip() and self.postcode and self.postcode.strip()
        )
        if not nhs and (len(words) < 2 or (self.date_of_birth is None and not address)):
            raise SearchInputError(
                "give a full name (first and last) with date_of_birth or with an address (address_line "
                "and postcode), or an nhs_number"
            )
        return standardise_record(
            PARTNER,
            {
                "local_id": "query",
                "first_name": words[0] if words else None,
                "last_name": words[-1] if len(words) > 1 else None,
                "dob": self.date_of_birth.isoformat() if self.date_of_birth else None,
                "nhs_number": nhs,
                "address_line": self.address_line or None,
                "postcode": self.postcode or None,
            },
        )


@dataclass(frozen=True)
class Candidate:
    person_id: str
    match_probability: float
    match_weight: float


def find_candidates(dd: DataDir, query: SubjectQuery, limit: int = 10) -> list[Candidate]:
    store = IndexStore(dd.index_url())
    store.require()
    record = query.record()
    found = score_against_index(dd, store, [record], every_candidate=True).get(str(record["unique_id"]), [])
    return [Candidate(p, round(prob, 6), round(weight, 2)) for p, prob, weight in found[:limit]]
