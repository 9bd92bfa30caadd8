"""Stable, opaque identifiers for clusters that change between linkage runs.

Audit history names people by person id, so an id must keep meaning the same person. The rule:

- a cluster whose members all came from one previous cluster, and which received all of that
  cluster's surviving members, keeps its id (records may have been added or removed);
- any other cluster with previous members is a merge (members from several old clusters) or a split
  (an old cluster's members now in several clusters): it gets a new id, and the lineage records
  old id -> new id, so an auditor can follow a person through the change;
- a cluster with no previous members is new; an old id none of whose members remain is retired.

Ids are random (`secrets`), so they reveal nothing about the person or the order of registration.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U to misread


def new_id(prefix: str) -> str:
    """`prefix` + 12 random base32 characters (60 bits): e.g. P4K7Q2ZD9WMA1."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(12))


MERGE, SPLIT, RETIRED = "merge", "split", "retired"


@dataclass(frozen=True)
class Change:
    old_id: str
    new_id: str | None
    kind: str  # merge | split | retired


@dataclass
class Assignment:
    ids: dict[str, str]  # new cluster label -> id
    changes: list[Change] = field(default_factory=list)
    kept: int = 0
    created: int = 0

    def member_ids(self, clusters: Mapping[str, str]) -> dict[str, str]:
        return {member: self.ids[label] for member, label in clusters.items()}


def assign_ids(
    previous: Mapping[str, str],
    clusters: Mapping[str, str],
    make_id: Callable[[], str],
) -> Assignment:
    """`previous`: member -> old id; `clusters`: member -> new cluster label. Pure but for `make_id`."""
    old_of_new: dict[str, set[str]] = defaultdict(set)
    new_of_old: dict[str, set[str]] = defaultdict(set)
    for member, label in clusters.items():
        old = previous.get(member)
        if old is not None:
            old_of_new[label].add(old)
            new_of_old[old].add(label)

    result = Assignment(ids={})
    taken: set[str] = set()
    for label in sorted(set(clusters.values())):
        olds = old_of_new.get(label, set())
        if len(olds) == 1:
            (old,) = olds
            if new_of_old[old] == {label}:
                result.ids[label] = old
                taken.add(old)
                result.kept += 1
                continue
        fresh = make_id()
        while fresh in taken or fresh in new_of_old:
            fresh = make_id()
        taken.add(fresh)
        result.ids[label] = fresh
        result.created += 1
        if len(olds) > 1:
            result.changes.extend(Change(old, fresh, MERGE) for old in sorted(olds))
        elif olds:
            result.changes.extend(Change(old, fresh, SPLIT) for old in sorted(olds))

    for old in sorted(set(previous.values()) - set(new_of_old)):
        result.changes.append(Change(old, None, RETIRED))
    return result
