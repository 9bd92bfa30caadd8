"""Scored pairs -> people: connected components at the threshold, with two rules for records that carry
no date of birth.

A Fellegi-Sunter score judges one pair at a time. Two failure modes come from records without a date of
birth, which the pairwise score cannot see:

- **Bridges.** "Ronke Bamidele, no date of birth, 12 Barnett Terrace" scores above the threshold against
  both the mother (born 1939) and the daughter (born 1972) of that name at that address. Plain connected
  components then make mother and daughter one person, through a record that says nothing about which
  of them it is. A union made through an undated record is therefore refused when it would put two
  birth dates that no recording slip explains into one person: the record could be either, and joins
  neither. Unions between two dated records are the model's own judgement of those dates and are
  always made.
- **Stranded records.** The same undated record, where only one person of that name lives at the
  address, can never reach the threshold: the model must allow for a namesake in the household, and
  without a birth date nothing rules one out. When every candidate of such a record (every pair scored
  within the review band) belongs to one and the same dated person, at the record's own postcode, that
  person is the only one the data offers, and the record is attached to them (`attach_weight`). This
  is the decision a clerical reviewer takes; it can be wrong only when the namesake exists but has no
  other record, and those links are in the review queue like every other pair in the band.

A third rule, for data without households only (FEBRL), joins two single records that are each
other's only candidate (step 4 of `cluster`).

Pure functions over ids, dates and scored pairs, so that both engines cluster identically and the
rules are tested on their own (tests/test_clustering.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


def dates_conflict(a: str, b: str) -> bool:
    """Two ISO birth dates that no recording slip explains: different years and more than one character
    apart. Mirrors the date-of-birth comparison's last level (`model._date_of_birth`): exact, swapped day
    and month, a default day or month and a one-character typo all keep the year or differ by one
    character."""
    if a[:4] == b[:4]:
        return False
    return len(a) != len(b) or sum(x != y for x, y in zip(a, b, strict=True)) > 1


@dataclass
class ClusterStats:
    """What the two rules did in one run, reported by `gateway link` and the linkage benchmark."""

    ambiguous_without_dob: int = 0
    attached_without_dob: int = 0
    joined_as_only_candidates: int = 0


@dataclass
class _Components:
    """Union-find whose roots keep the distinct birth dates of their members."""

    parent: dict[str, str]
    dates: dict[str, set[str]] = field(default_factory=dict)

    def find(self, x: str) -> str:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def conflict(self, ra: str, rb: str) -> bool:
        return any(dates_conflict(x, y) for x in self.dates.get(ra, ()) for y in self.dates.get(rb, ()))

    def union(self, ra: str, rb: str) -> None:
        if ra > rb:  # the smaller id is the root, so labels do not depend on edge order
            ra, rb = rb, ra
        self.parent[rb] = ra
        moved = self.dates.pop(rb, set())
        if moved:  # an undated cluster has no entry at all: `dates` is how steps 2 and 3 tell
            self.dates.setdefault(ra, set()).update(moved)


def _reach(
    comps: _Components, edges: list[tuple[str, str, float]], floor: float, *, undated_only: bool = True
) -> dict[str, set[str]]:
    """Cluster (undated only, by default) -> the other clusters it has a pair with at or above `floor`."""
    reach: dict[str, set[str]] = {}
    for left, right, weight in edges:
        if weight < floor:
            continue
        ra, rb = comps.find(left), comps.find(right)
        if ra == rb:
            continue
        for own, other in ((ra, rb), (rb, ra)):
            if not undated_only or own not in comps.dates:
                reach.setdefault(own, set()).add(other)
    return reach


def _same_place(place_of: Mapping[str, str | None], a: str, b: str) -> bool:
    place = place_of.get(a)
    return bool(place) and place == place_of.get(b)


def cluster(
    dob_of: Mapping[str, str | None],
    edges: Iterable[tuple[str, str, float]],
    *,
    threshold_weight: float,
    attach_weight: float | None,
    place_of: Mapping[str, str | None] | None = None,
    mutual_weight: float | None = None,
    stats: ClusterStats | None = None,
) -> dict[str, str]:
    """Record id -> cluster label (the smallest record id of the cluster).

    `dob_of` names every record (None or '' when it has no date of birth); `edges` are scored pairs
    (left, right, match weight). In up to four steps, each decided on the clusters as the step found them,
    so that the result does not depend on the order pairs arrive in:

    1. pairs at or above `threshold_weight` between two dated or two undated records are joined;
    2. each undated cluster joins every dated cluster it has such a pair with, unless their birth dates
       conflict: then it could be either person and joins none (`ambiguous_without_dob`);
    3. each undated cluster still on its own whose pairs at or above `attach_weight` all lead to one
       dated cluster, through at least one pair of records at the same place (`place_of`, the
       postcode; every pair when None), joins it (`attached_without_dob`; None switches this step
       off);
    4. only where `mutual_weight` is given: two single records whose pairs at or above it lead only to
       each other join (`joined_as_only_candidates`). Right for data without households, such as two
       deduplicated files linked one to one (FEBRL4); wrong for council data, where the only other
       candidate is often a namesake in the same household."""
    stats = stats if stats is not None else ClusterStats()
    comps = _Components(parent={uid: uid for uid in dob_of})
    for uid, dob in dob_of.items():
        if dob:
            comps.dates[uid] = {dob}
    floor = min(w for w in (threshold_weight, attach_weight, mutual_weight) if w is not None)
    scored = [e for e in edges if e[2] >= floor and e[0] in comps.parent and e[1] in comps.parent]

    for left, right, weight in scored:
        if weight >= threshold_weight and bool(dob_of[left]) == bool(dob_of[right]):
            ra, rb = comps.find(left), comps.find(right)
            if ra != rb:
                comps.union(ra, rb)

    for own, others in sorted(_reach(comps, scored, threshold_weight).items()):
        roots = sorted({comps.find(o) for o in others})
        if any(comps.conflict(a, b) for i, a in enumerate(roots) for b in roots[i + 1 :]):
            stats.ambiguous_without_dob += 1
            continue
        for other in roots:
            comps.union(comps.find(own), other)

    if attach_weight is not None:
        # Only where the one candidate lives at the same postcode: the argument is the household's
        # ("only one person of that name lives there"); elsewhere in the borough, a namesake without
        # records of their own is as likely as the same person having moved.
        local = [e for e in scored if place_of is None or _same_place(place_of, e[0], e[1])]
        nearby = _reach(comps, local, attach_weight)
        attach = [
            (own, next(iter(others)))
            for own, others in sorted(_reach(comps, scored, attach_weight).items())
            if len(others) == 1 and next(iter(others)) in comps.dates and others == nearby.get(own)
        ]
        for own, other in attach:
            comps.union(comps.find(own), comps.find(other))
        stats.attached_without_dob += len(attach)

    if mutual_weight is not None:
        reach = _reach(comps, scored, mutual_weight, undated_only=False)
        size = Counter(comps.find(uid) for uid in dob_of)
        mutual = sorted(
            (own, other)
            for own, others in reach.items()
            if len(others) == 1 and size[own] == 1
            for other in others
            if own < other and size[other] == 1 and reach.get(other) == {own}
        )
        for own, other in mutual:  # disjoint pairs: each side has no other candidate
            comps.union(own, other)
        stats.joined_as_only_candidates += len(mutual)
    return {uid: comps.find(uid) for uid in dob_of}
