"""Properties of l-diversity and the amount ladder (pure functions)."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

from hypothesis import given
from hypothesis import strategies as st

from gateway.privacy.diversity import WITHHELD, l_diverse
from gateway.privacy.generalise import HIERARCHIES
from gateway.privacy.linkable_rows import k_anonymous_rows
from gateway.privacy.rare_values import withhold_rare_values

rows = st.lists(
    st.fixed_dictionaries(
        {
            "age": st.sampled_from(["0-4", "5-10"]),
            "ward": st.sampled_from("ABC"),
            "flag": st.booleans(),
            "kind": st.sampled_from("xyz"),
        }
    ),
    max_size=60,
)


@given(rows, st.integers(2, 3))
def test_every_class_is_diverse_or_withheld_and_nothing_else_changes(records, least):
    original = [dict(r) for r in records]
    report = l_diverse(records, ["age", "ward"], ["flag", "kind"], least)
    classes = defaultdict(list)
    for before, after in zip(original, records, strict=True):
        assert after["age"] == before["age"] and after["ward"] == before["ward"]  # quasi-identifiers kept
        for field in ("flag", "kind"):
            assert after[field] in (before[field], WITHHELD)
        classes[(after["age"], after["ward"])].append(after)
    for members in classes.values():
        for field in ("flag", "kind"):
            values = {m[field] for m in members}
            assert values == {WITHHELD} or (WITHHELD not in values and len(values) >= least)
    for field in ("flag", "kind"):
        assert report["fields"][field]["records_withheld"] == sum(r[field] is WITHHELD for r in records)


@given(st.floats(0, 2000, allow_nan=False), st.sampled_from(["band_25", "band_50", "band_100"]))
def test_an_amount_band_contains_the_amount_and_coarser_bands_contain_finer(amount, level):
    ladder = HIERARCHIES["amount"]
    on = dt.date(2026, 1, 1)
    low, high = (int(x) for x in ladder.apply(amount, level, on).split("-"))
    assert low <= amount < high + 1 and high - low + 1 == int(level.removeprefix("band_"))
    coarser = ladder.levels[ladder.index(level) + 1]
    if coarser != "*":
        c_low, c_high = (int(x) for x in ladder.apply(amount, coarser, on).split("-"))
        assert c_low <= low and high <= c_high
    assert ladder.apply(None, level, on) == "Unknown" and ladder.apply(amount, "*", on) == "*"


members = st.lists(
    st.fixed_dictionaries(
        {
            "family_pseudonym": st.sampled_from(["f1", "f2", "f3", "f4", "f5", "f6"]),
            "band": st.sampled_from(["0-4", "25-64"]),
            "sex": st.sampled_from("FM"),
        }
    ),
    max_size=40,
)


@given(members, st.integers(2, 4))
def test_a_family_keeps_its_link_only_if_k_families_share_its_composition(rows, k):
    from gateway.privacy.families import composition, k_anonymous_families

    before = [dict(r) for r in rows]
    report = k_anonymous_families(rows, ["band", "sex"], k)
    groups = defaultdict(list)
    for row in rows:
        if row["family_pseudonym"] is not None:
            groups[row["family_pseudonym"]].append(row)
    prints = [composition(m, ["band", "sex"]) for m in groups.values()]
    assert all(prints.count(p) >= k for p in prints)
    assert report["linked"] == len(groups)
    for b, a in zip(before, rows, strict=True):  # only the link may change, and only to null
        assert (a["band"], a["sex"]) == (b["band"], b["sex"]) and a["family_pseudonym"] in (
            b["family_pseudonym"],
            None,
        )


@given(members)
def test_the_risk_report_matches_the_classes(rows):
    from gateway.privacy.risk import disclosure_risk

    report = disclosure_risk(rows, ["band", "sex"])
    if not rows:
        assert report["records"] == 0
        return
    sizes = [sum(1 for o in rows if (o["band"], o["sex"]) == (r["band"], r["sex"])) for r in rows]
    assert report["smallest_class"] == min(sizes) and report["unique_records"] == sizes.count(1)
    assert report["max_reidentification_probability"] == round(1 / min(sizes), 4)
    assert 0 < report["mean_reidentification_probability"] <= report["max_reidentification_probability"]


@given(rows, st.integers(2, 6))
def test_no_released_attribute_value_is_held_by_fewer_than_k(records, k):
    original = [dict(r) for r in records]
    report = withhold_rare_values(records, ["flag", "kind"], k)
    for field in ("flag", "kind"):
        counts = Counter(r[field] for r in records if r[field] is not None)
        assert not counts or min(counts.values()) >= k
        before = Counter(r[field] for r in original)
        if (field in report["withheld"]) != any(n < k for n in before.values()):
            raise AssertionError((field, report, before))
        if field not in report["withheld"]:
            assert [r[field] for r in records] == [r[field] for r in original]
    assert [(r["age"], r["ward"]) for r in records] == [(r["age"], r["ward"]) for r in original]


@given(rows, st.integers(2, 6))
def test_every_whole_row_is_shared_by_k_and_classes_are_withheld_whole(records, k):
    original = [dict(r) for r in records]
    k_anonymous_rows(records, ["age", "ward"], ["flag", "kind"], k)
    whole = Counter((r["age"], r["ward"], r["flag"], r["kind"]) for r in records)
    classes = defaultdict(list)
    for r in records:
        classes[(r["age"], r["ward"])].append(r)
    for members in classes.values():
        blanked = {r["flag"] is None for r in members}
        assert len(blanked) == 1, "a class shows its attributes in full or not at all"
        if blanked == {False}:
            assert all(whole[(r["age"], r["ward"], r["flag"], r["kind"])] >= k for r in members)
    # Only attributes change; a class is withheld only if it had a group smaller than k.
    before = Counter((r["age"], r["ward"], r["flag"], r["kind"]) for r in original)
    for old, new in zip(original, records, strict=True):
        assert (old["age"], old["ward"]) == (new["age"], new["ward"])
        if new["flag"] is None:
            cls = [o for o in original if (o["age"], o["ward"]) == (old["age"], old["ward"])]
            assert any(before[(o["age"], o["ward"], o["flag"], o["kind"])] < k for o in cls)
