"""Stable person ids: unchanged clusters keep their id, merges and splits are recorded."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from gateway.index.ids import MERGE, RETIRED, SPLIT, assign_ids, new_id


def counter():
    c = itertools.count()
    return lambda: f"N{next(c)}"


members = st.text("abcdefgh", min_size=1, max_size=3)
clusterings = st.dictionaries(members, st.sampled_from("ABCDE"), min_size=1)


@given(clusterings)
def test_an_unchanged_clustering_keeps_every_id(clusters):
    first = assign_ids({}, clusters, counter())
    previous = first.member_ids(clusters)
    # Same partition under different labels (labels are arbitrary per run).
    relabelled = {m: f"x{label}" for m, label in clusters.items()}
    second = assign_ids(previous, relabelled, counter())
    assert second.member_ids(relabelled) == previous
    assert second.changes == []
    assert second.created == 0


@given(clusterings, clusterings)
def test_ids_are_unique_and_every_vanished_id_is_explained(before, after):
    previous = assign_ids({}, before, lambda: new_id("P")).member_ids(before)
    result = assign_ids(previous, after, lambda: new_id("P"))
    ids = list(result.ids.values())
    assert len(ids) == len(set(ids))
    surviving = set(ids)
    explained = {c.old_id for c in result.changes}
    for old in set(previous.values()) - surviving:
        assert old in explained
    for change in result.changes:
        assert change.kind in {MERGE, SPLIT, RETIRED}
        assert change.new_id is None or change.new_id in surviving


def test_growth_keeps_the_id_and_merge_and_split_are_recorded():
    previous = {"a": "P1", "b": "P1", "c": "P2", "d": "P3", "e": "P3"}
    clusters = {"a": "x", "b": "x", "n": "x", "c": "y", "d": "y", "e": "z"}
    result = assign_ids(previous, clusters, counter())
    ids = result.member_ids(clusters)
    assert ids["a"] == ids["n"] == "P1"  # a new record joined an unchanged person
    assert ids["c"] == ids["d"] not in {"P2", "P3"}  # P2 merged with part of P3
    assert ids["e"] not in {"P3", ids["c"]}  # P3 split
    kinds = {(c.old_id, c.kind) for c in result.changes}
    assert ("P2", MERGE) in kinds and ("P3", MERGE) in kinds
    assert any(c.old_id == "P3" and c.new_id == ids["e"] for c in result.changes)


def test_retired_when_every_record_is_gone():
    result = assign_ids({"a": "P1", "b": "P2"}, {"a": "x"}, counter())
    assert result.ids == {"x": "P1"}
    assert [(c.old_id, c.new_id, c.kind) for c in result.changes] == [("P2", None, RETIRED)]


def test_new_ids_are_opaque_and_distinct():
    ids = {new_id("P") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 13 and i.startswith("P") for i in ids)
