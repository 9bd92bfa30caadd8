"""Pairwise scores computed from contingency counts agree with enumerating every pair."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from gateway.linkage.evaluate import label_scores, pairwise_scores

labellings = st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from("wxyz")), min_size=1, max_size=30)


@given(labellings)
def test_matches_brute_force_pair_counting(labels):
    predicted = {str(i): p for i, (p, _) in enumerate(labels)}
    truth = {str(i): t for i, (_, t) in enumerate(labels)}
    pairs = list(itertools.combinations(predicted, 2))
    tp = sum(predicted[a] == predicted[b] and truth[a] == truth[b] for a, b in pairs)
    pp = sum(predicted[a] == predicted[b] for a, b in pairs)
    tt = sum(truth[a] == truth[b] for a, b in pairs)
    s = pairwise_scores(predicted, truth)
    assert (s.true_positive_pairs, s.predicted_pairs, s.true_pairs) == (tp, pp, tt)
    assert s.precision == (tp / pp if pp else 1.0)
    assert s.recall == (tp / tt if tt else 1.0)


@given(labellings)
def test_a_labelling_scores_perfectly_against_itself(labels):
    predicted = {str(i): p for i, (p, _) in enumerate(labels)}
    s = pairwise_scores(predicted, dict(predicted))
    assert s.precision == s.recall == 1.0
    assert s.exact_clusters == s.true_clusters


def test_one_wrong_merge():
    s = pairwise_scores({"1": "A", "2": "A", "3": "A"}, {"1": "x", "2": "x", "3": "y"})
    assert (s.true_positive_pairs, s.predicted_pairs, s.true_pairs) == (1, 3, 1)
    assert s.precision == 1 / 3 and s.recall == 1.0


def test_label_scores():
    person_of = {"a": "P1", "b": "P1", "c": "P2"}
    labels = {("a", "b"): True, ("a", "c"): True, ("b", "c"): False, ("a", "zz"): True}
    s = label_scores(labels, person_of)
    assert s["labelled_pairs"] == 3
    assert s["precision"] == 1.0 and s["recall"] == 0.5
