"""Query-set size restriction (Denning): refuse a query about too few people, or about all but a few."""

from __future__ import annotations


class QuerySetRefused(ValueError):
    """The query selects too few units, or leaves too few out; `code` is the machine-readable reason."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def check_query_set(selected: int, population: int, filtered: bool, minimum: int) -> None:
    """`selected` units match the filters out of `population` in the dataset."""
    if selected < minimum:
        raise QuerySetRefused(
            "query_set_too_small",
            f"the filters select fewer than {minimum} records; widen them (query-set size restriction)",
        )
    if filtered and population - selected < minimum:
        raise QuerySetRefused(
            "query_set_too_large",
            f"the filters leave out fewer than {minimum} records, which would describe those few by "
            "difference; use no filter or a narrower one",
        )
