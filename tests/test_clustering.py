"""Clustering scored pairs into people (`gateway.linkage.clustering`): its rules for records without a
date of birth, checked on hand-made cases and, as properties, on random graphs against plain connected
components computed here by breadth-first search."""

from __future__ import annotations

import random
from collections import defaultdict, deque

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.linkage.clustering import ClusterStats, cluster, dates_conflict

THRESHOLD = 6.6
BAND = 2.6


def _components(ids: list[str], pairs: list[tuple[str, str]]) -> dict[str, int]:
    """Connected components by breadth-first search: the test's own, independent of union-find."""
    adjacent: dict[str, set[str]] = defaultdict(set)
    for a, b in pairs:
        adjacent[a].add(b)
        adjacent[b].add(a)
    label: dict[str, int] = {}
    for start in ids:
        if start in label:
            continue
        label[start] = len(label)
        queue = deque([start])
        while queue:
            node = queue.popleft()
            for nxt in adjacent[node]:
                if nxt not in label:
                    label[nxt] = label[start]
                    queue.append(nxt)
    return label


def _together(clusters: dict[str, str], a: str, b: str) -> bool:
    return clusters[a] == clusters[b]


# -- dates_conflict -----------------------------------------------------------------------------------


def test_recording_slips_are_not_conflicts():
    assert not dates_conflict("1980-03-12", "1980-03-12")
    assert not dates_conflict("1980-03-12", "1980-12-03")  # day and month swapped
    assert not dates_conflict("1980-03-12", "1980-01-01")  # a default day and month
    assert not dates_conflict("1980-03-12", "1981-03-12")  # one mistyped digit of the year
    assert dates_conflict("1939-02-10", "1972-07-20")  # mother and daughter
    assert dates_conflict("1980-03-12", "1981-04-12")  # two characters and another year


# -- hand-made cases ----------------------------------------------------------------------------------


def test_an_undated_record_matching_two_people_born_apart_joins_neither():
    """Ronke Bamidele, no date of birth, scores above the threshold with the mother (1939) and the
    daughter (1972) of that name at that address: it could be either, so neither is merged with it and
    the two women stay two people (plain connected components would make them one)."""
    dob = {"mother": "1939-02-10", "mother-2": "1939-02-10", "daughter": "1972-07-20", "undated": None}
    edges = [("mother", "mother-2", 14.0), ("undated", "mother", 7.1), ("undated", "daughter", 7.1)]
    stats = ClusterStats()
    out = cluster(dob, edges, threshold_weight=THRESHOLD, attach_weight=BAND, stats=stats)
    assert _together(out, "mother", "mother-2")
    assert not _together(out, "mother", "daughter")
    assert not _together(out, "undated", "mother") and not _together(out, "undated", "daughter")
    assert stats.ambiguous_without_dob == 1


def test_an_undated_record_matching_records_of_compatible_dates_joins_them_all():
    """Two dated records a slip apart (day and month swapped) that the model did not link directly are
    still one person when an undated record links to both."""
    dob = {"a": "1980-01-02", "b": "1980-02-01", "undated": None}
    out = cluster(
        dob, [("undated", "a", 8.0), ("undated", "b", 7.0)], threshold_weight=THRESHOLD, attach_weight=None
    )
    assert _together(out, "a", "b") and _together(out, "undated", "a")


def test_two_dated_records_the_model_linked_stay_linked_whatever_their_dates():
    """Between dated records the model has weighed the dates itself (FEBRL replaces whole dates)."""
    dob = {"a": "1939-02-10", "b": "1972-07-20"}
    out = cluster(dob, [("a", "b", 9.0)], threshold_weight=THRESHOLD, attach_weight=BAND)
    assert _together(out, "a", "b")


def test_a_stranded_undated_record_joins_the_one_person_it_points_at():
    dob = {"a": "2010-02-16", "a-2": "2010-02-16", "undated": None, "other": "1975-05-05"}
    edges = [("a", "a-2", 12.0), ("undated", "a", 5.0), ("undated", "a-2", 4.0), ("other", "a", -3.0)]
    stats = ClusterStats()
    out = cluster(dob, edges, threshold_weight=THRESHOLD, attach_weight=BAND, stats=stats)
    assert _together(out, "undated", "a") and _together(out, "undated", "a-2")
    assert not _together(out, "other", "a")
    assert stats.attached_without_dob == 1
    # The rule can be switched off (policies/linkage.yaml), and does not reach below its floor.
    assert not _together(cluster(dob, edges, threshold_weight=THRESHOLD, attach_weight=None), "undated", "a")
    assert not _together(cluster(dob, edges, threshold_weight=THRESHOLD, attach_weight=5.5), "undated", "a")


def test_a_stranded_undated_record_is_attached_only_within_its_postcode():
    """The argument is the household's: elsewhere in the borough a namesake without records of their
    own is as likely as the same person having moved."""
    dob = {"a": "2010-02-16", "undated": None}
    place = {"a": "NB4 2ZE", "undated": "NB7 1AA"}
    edges = [("undated", "a", 5.0)]
    apart = cluster(dob, edges, threshold_weight=THRESHOLD, attach_weight=BAND, place_of=place)
    assert not _together(apart, "undated", "a")
    place["undated"] = "NB4 2ZE"
    assert _together(
        cluster(dob, edges, threshold_weight=THRESHOLD, attach_weight=BAND, place_of=place), "undated", "a"
    )
    place["undated"] = None  # an unknown postcode is not the same postcode
    assert not _together(
        cluster(dob, edges, threshold_weight=THRESHOLD, attach_weight=BAND, place_of=place), "undated", "a"
    )


def test_a_stranded_undated_record_pointing_at_two_people_stays_alone():
    dob = {"father": "1951-04-25", "son": "1982-01-25", "undated": None}
    edges = [("undated", "father", 5.0), ("undated", "son", 4.0)]
    out = cluster(dob, edges, threshold_weight=THRESHOLD, attach_weight=BAND)
    assert len(set(out.values())) == 3


def test_an_undated_record_pointing_only_at_another_undated_record_is_not_attached():
    dob = {"u1": None, "u2": None}
    out = cluster(dob, [("u1", "u2", 5.0)], threshold_weight=THRESHOLD, attach_weight=BAND)
    assert not _together(out, "u1", "u2")


def test_records_that_are_each_others_only_candidate_join_only_when_asked():
    """Step 4, for data without households (FEBRL4): a pair in the band joins when neither side has any
    other candidate (the model has weighed their dates, as at the threshold); a third record in
    either's band keeps them apart."""
    dob = {"a": "1980-03-12", "b": "1980-03-12", "c": "1955-01-01", "d": "1955-01-01", "e": "1955-01-01"}
    edges = [("a", "b", 4.0), ("c", "d", 4.0), ("d", "e", 3.0)]
    stats = ClusterStats()
    out = cluster(dob, edges, threshold_weight=THRESHOLD, attach_weight=None, mutual_weight=BAND, stats=stats)
    assert _together(out, "a", "b") and stats.joined_as_only_candidates == 1
    assert len({out["c"], out["d"], out["e"]}) == 3  # d has two candidates
    assert not _together(cluster(dob, edges, threshold_weight=THRESHOLD, attach_weight=None), "a", "b")


# -- properties on random graphs ----------------------------------------------------------------------

DATES = [
    None,
    "1939-02-10",
    "1939-10-02",
    "1972-07-20",
    "1972-07-21",
    "1980-03-12",
    "1981-03-12",
    "1991-03-12",
]
WEIGHTS = [-4.0, 1.0, 3.0, 5.0, 6.6, 7.0, 12.0]


@st.composite
def graphs(draw: st.DrawFn) -> tuple[dict[str, str | None], list[tuple[str, str, float]]]:
    n = draw(st.integers(2, 7))
    dob = {f"r{i}": draw(st.one_of(st.none(), st.sampled_from(DATES))) for i in range(n)}
    ids = sorted(dob)
    pairs = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids)), max_size=20))
    edges = [(a, b, draw(st.sampled_from(WEIGHTS))) for a, b in pairs if a != b]
    return dob, edges


@settings(max_examples=300, deadline=None)
@given(graphs(), st.booleans())
def test_clusters_only_ever_join_records_the_scores_connect(graph, attach):
    dob, edges = graph
    floor = BAND if attach else THRESHOLD
    out = cluster(
        dob,
        edges,
        threshold_weight=THRESHOLD,
        attach_weight=BAND if attach else None,
        mutual_weight=BAND if attach else None,
    )
    reachable = _components(sorted(dob), [(a, b) for a, b, w in edges if w >= floor])
    for a in dob:
        for b in dob:
            if _together(out, a, b):
                assert reachable[a] == reachable[b]


@settings(max_examples=300, deadline=None)
@given(graphs(), st.booleans())
def test_with_every_record_dated_clusters_are_the_components_at_the_threshold(graph, attach):
    dob, edges = graph
    dob = {uid: d or "1990-06-15" for uid, d in dob.items()}
    out = cluster(dob, edges, threshold_weight=THRESHOLD, attach_weight=BAND if attach else None)
    expected = _components(sorted(dob), [(a, b) for a, b, w in edges if w >= THRESHOLD])
    for a in dob:
        for b in dob:
            assert _together(out, a, b) == (expected[a] == expected[b])


@settings(max_examples=300, deadline=None)
@given(graphs(), st.booleans())
def test_conflicting_birth_dates_meet_only_where_the_model_joined_dated_records(graph, attach):
    """Two conflicting dates in one cluster must be connected by above-threshold pairs of dated
    records alone: an undated record is never the bridge."""
    dob, edges = graph
    out = cluster(dob, edges, threshold_weight=THRESHOLD, attach_weight=BAND if attach else None)
    dated_links = [(a, b) for a, b, w in edges if w >= THRESHOLD and dob[a] and dob[b]]
    dated = _components(sorted(dob), dated_links)
    for a, da in dob.items():
        for b, db in dob.items():
            if da and db and dates_conflict(da, db) and _together(out, a, b):
                assert dated[a] == dated[b]


@settings(max_examples=200, deadline=None)
@given(graphs(), st.booleans(), st.integers(0, 2**32 - 1))
def test_the_order_pairs_arrive_in_changes_nothing(graph, attach, shuffle_seed):
    dob, edges = graph
    shuffled = [
        (b, a, w) if random.Random(shuffle_seed + i).random() < 0.5 else (a, b, w)
        for i, (a, b, w) in enumerate(edges)
    ]
    random.Random(shuffle_seed).shuffle(shuffled)
    attach_weight = BAND if attach else None
    first = cluster(dob, edges, threshold_weight=THRESHOLD, attach_weight=attach_weight)
    second = cluster(
        dict(reversed(list(dob.items()))), shuffled, threshold_weight=THRESHOLD, attach_weight=attach_weight
    )
    assert first == second
