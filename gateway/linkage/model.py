"""The Fellegi-Sunter linkage model: what is compared, how pairs are found, and when two records match.

Read this file as the model's specification. Each comparison lists its agreement levels from the
strongest to the weakest; Splink learns an m and u probability for every level (u by random sampling,
m by expectation maximisation); the only values set by hand are the few in `policies/linkage.yaml`,
each with its reason. The same settings run unchanged on
DuckDB and on Spark because every level is built from Splink's dialect-aware level library.

Columns are those produced by `gateway.linkage.standardise.standardise_record`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator, block_on
from splink.internals.comparison_level_creator import ComparisonLevelCreator
from splink.internals.comparison_level_library import _translate_sql_string
from splink.internals.dialects import SplinkDialect


@dataclass(frozen=True)
class Profile:
    """The reviewed, non-learned parts of the model, read from `policies/linkage.yaml`.

    `match_threshold` decides when two records are one person. The `*_disagree_m` values fix the m
    probability of a complete disagreement where EM cannot learn it on council data (see the policy
    file for the reasoning); None lets EM learn it, which is right for data without households.
    `attach_without_dob` joins a record without a date of birth to the one dated person its
    review-band pairs all point at; `join_only_candidates` joins two records whose review-band pairs
    lead only to each other, which is right only for data without households (`gateway.linkage.
    clustering`, step 4).
    """

    match_threshold: float = 0.99
    review_band_weight: float = 4.0
    dob_disagree_m: float | None = 0.002
    first_name_disagree_m: float | None = 0.003
    sex_disagree_m: float | None = 0.005
    attach_without_dob: bool = True
    join_only_candidates: bool = False

    @property
    def match_weight(self) -> float:
        return math.log2(self.match_threshold / (1 - self.match_threshold))


# The levels that mean exact agreement on first name, surname and date of birth, named once: the
# comparisons below carry these labels and `exact_rule_recall` reads the learned m probabilities by them.
FIRST_NAME_EXACT = "Exact match on first_name"
SURNAME_EXACT = (
    "Same surname, same dwelling",
    "Same surname, similar address (a slip in the address)",
    "Same surname, same postcode",
    "Same surname, elsewhere or address unknown",
)
DOB_EXACT = "Exact match on dob"


def _else(m: float | None) -> ComparisonLevelCreator:
    level = cll.ElseLevel()
    return level.configure(m_probability=m, fix_m_probability=True) if m is not None else level


def _lists_intersect(sql_dialect: SplinkDialect, left: str, right: str) -> str:
    """SQL true when two list columns share an element, in the dialect's own functions (as Splink's
    `ArrayIntersectLevel` builds it, which compares one column only)."""
    if sql_dialect.sqlglot_dialect == "duckdb":
        return f"array_length(list_intersect({left}, {right})) >= 1"
    return _translate_sql_string(
        f"ARRAY_SIZE(ARRAY_INTERSECT({left}, {right})) >= 1", sql_dialect.sqlglot_dialect
    )


class _SwappedWithSlip(ComparisonLevelCreator):
    """Forename and surname in each other's boxes, the other name with a slip ('Marsdn Barry' against
    'Barry Marsden') or a nickname ('Cooke Howie' against 'Howard Cooke'). One name must agree exactly:
    twins ('Aoife Waldron', 'Cathal Waldron') never put a first name equal to their surname, so this
    level does not pull siblings together. Built from the dialect's own functions so that it runs on
    DuckDB and Spark alike."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def create_sql(self, sql_dialect: SplinkDialect) -> str:
        jw, t = sql_dialect.jaro_winkler_function_name, self.threshold
        close_lr = (
            f"({jw}(last_name_l, first_name_r) >= {t} OR "
            f"{_lists_intersect(sql_dialect, 'last_name_roots_l', 'first_name_roots_r')})"
        )
        close_rl = (
            f"({jw}(first_name_l, last_name_r) >= {t} OR "
            f"{_lists_intersect(sql_dialect, 'first_name_roots_l', 'last_name_roots_r')})"
        )
        return f"(first_name_l = last_name_r AND {close_lr}) OR (last_name_l = first_name_r AND {close_rl})"

    def create_label_for_charts(self) -> str:
        return "Forename and surname swapped, one with a slip or a nickname"


def _first_name(profile: Profile) -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="first_name",
        comparison_levels=[
            cll.NullLevel("first_name"),
            cll.ExactMatchLevel("first_name").configure(
                tf_adjustment_column="first_name", label_for_charts=FIRST_NAME_EXACT
            ),
            cll.ColumnsReversedLevel("first_name", "last_name", symmetrical=True).configure(
                label_for_charts="Forename and surname swapped"
            ),
            _SwappedWithSlip(0.9),
            cll.ArrayIntersectLevel("first_name_roots", 1).configure(
                label_for_charts="Same name by nickname table"
            ),
            cll.Or(
                cll.DamerauLevenshteinLevel("first_name", 1), cll.JaroWinklerLevel("first_name", 0.92)
            ).configure(label_for_charts="One keying slip or Jaro-Winkler >= 0.92"),
            cll.Or(
                cll.DamerauLevenshteinLevel("first_name", 2), cll.JaroWinklerLevel("first_name", 0.8)
            ).configure(label_for_charts="Two keying slips or Jaro-Winkler >= 0.8"),
            _else(profile.first_name_disagree_m),
        ],
    )


def _surname_and_address() -> cl.CustomComparison:
    """Surname and dwelling as one comparison, because within a household they are not independent.

    Scored separately, a shared surname and a shared address would each count as if by chance, when
    people sharing both are usually one family: twins would match on surname, address and date of
    birth, and three 'independent' agreements would outvote their different first names. As a joint
    comparison, random sampling measures how often *non-matching* pairs share surname and dwelling
    (co-residents do, often), so a family resemblance is weighed once.
    """
    dwelling = cll.Or(cll.ExactMatchLevel("uprn"), cll.ExactMatchLevel("address_key"))
    # A slip in the line or the postcode: the whole key close, or the same numbers on a close street.
    numbers_agree = cll.Or(
        cll.ExactMatchLevel("address_numbers"),
        cll.CustomLevel("(address_numbers_l IS NULL OR address_numbers_r IS NULL)"),
    )
    similar_address = cll.Or(
        cll.JaroWinklerLevel("address_key", 0.9),
        cll.And(
            numbers_agree,
            cll.Or(cll.JaroWinklerLevel("street", 0.88), cll.ArrayIntersectLevel("street_words", 2)),
        ),
    )
    # A close surname, or one name in the other's box ('Ewan Brock' / 'Broc Ewan', 'Skvaril Matthew'):
    # which box held the surname is unknown, so a cross-box agreement counts as surname evidence only.
    surname_close = cll.Or(
        cll.JaroWinklerLevel("last_name", 0.92),
        cll.CustomLevel("first_name_l = last_name_r OR last_name_l = first_name_r"),
    )
    either_null = "({c}_l IS NULL OR {c}_r IS NULL)"
    nothing_to_compare = " AND ".join(
        either_null.format(c=c) for c in ("last_name", "address_key", "uprn", "postcode", "street")
    )
    return cl.CustomComparison(
        output_column_name="surname_address",
        comparison_levels=[
            # Only when neither surname nor any part of the address can be compared: a missing surname
            # leaves the address as evidence (partner files and FEBRL leave surnames out).
            cll.CustomLevel(nothing_to_compare).configure(
                is_null_level=True, label_for_charts="Surname and address unknown"
            ),
            # No term-frequency adjustment here: a rare surname makes two random residents unlikely to
            # share it, but says nothing against two members of one family sharing it.
            cll.And(cll.ExactMatchLevel("last_name"), dwelling).configure(label_for_charts=SURNAME_EXACT[0]),
            cll.And(cll.ExactMatchLevel("last_name"), similar_address).configure(
                label_for_charts=SURNAME_EXACT[1]
            ),
            cll.And(cll.ExactMatchLevel("last_name"), cll.ExactMatchLevel("postcode"))
            .configure(tf_adjustment_column="last_name")
            .configure(label_for_charts=SURNAME_EXACT[2]),
            cll.ExactMatchLevel("last_name")
            .configure(tf_adjustment_column="last_name")
            .configure(label_for_charts=SURNAME_EXACT[3]),
            cll.And(surname_close, cll.Or(dwelling, similar_address)).configure(
                label_for_charts="Similar or swapped surname, same or similar address"
            ),
            surname_close.configure(label_for_charts="Similar or swapped surname, elsewhere"),
            cll.Or(dwelling, similar_address).configure(
                label_for_charts="Different or unknown surname, same or similar address"
            ),
            cll.And(cll.ExactMatchLevel("postcode"), cll.ExactMatchLevel("address_numbers")).configure(
                label_for_charts="Different or unknown surname, same postcode and house number"
            ),
            cll.ExactMatchLevel("postcode").configure(
                label_for_charts="Different or unknown surname, same postcode"
            ),
            cll.CustomLevel(either_null.format(c="last_name")).configure(
                label_for_charts="Surname unknown, address elsewhere"
            ),
            cll.ElseLevel(),
        ],
    )


def _date_of_birth(profile: Profile) -> cl.CustomComparison:
    """Exact, then the slips real forms make: day and month swapped, a default day or month, a typo."""
    return cl.CustomComparison(
        output_column_name="dob",
        comparison_levels=[
            cll.NullLevel("dob"),
            cll.ExactMatchLevel("dob").configure(label_for_charts=DOB_EXACT),
            cll.CustomLevel(
                "dob_year_l = dob_year_r AND dob_day_l = dob_month_r AND dob_month_l = dob_day_r",
                label_for_charts="Day and month swapped",
            ),
            cll.CustomLevel(
                "dob_year_l = dob_year_r AND ("
                "(dob_month_l = dob_month_r AND (dob_day_l = 1 OR dob_day_r = 1)) OR "
                "(dob_month_l = 1 AND dob_day_l = 1) OR (dob_month_r = 1 AND dob_day_r = 1))",
                label_for_charts="Same year, one side a default day or month",
            ),
            cll.LevenshteinLevel("dob", 1),
            cll.ExactMatchLevel("dob_year").configure(label_for_charts="Same year of birth"),
            _else(profile.dob_disagree_m),
        ],
    )


def _sex(profile: Profile) -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="sex",
        comparison_levels=[
            cll.NullLevel("sex"),
            cll.ExactMatchLevel("sex"),
            _else(profile.sex_disagree_m),
        ],
    )


def _nhs_number() -> cl.CustomComparison:
    """An NHS number identifies one person, so random pairs almost never share one: too rarely for
    random sampling to observe. u is therefore set, not estimated: 1e-5 allows for numbers keyed against
    the wrong family member, far more often than chance."""
    return cl.CustomComparison(
        output_column_name="nhs_number",
        comparison_levels=[
            cll.NullLevel("nhs_number"),
            cll.ExactMatchLevel("nhs_number").configure(u_probability=1e-5, fix_u_probability=True),
            cll.ElseLevel(),
        ],
    )


def _locality() -> cl.CustomComparison:
    """The town or suburb, where a source records one apart from the address line (partner files,
    FEBRL's suburb); council stores of one borough leave it empty, so it weighs nothing there."""
    return cl.CustomComparison(
        output_column_name="locality",
        comparison_levels=[
            cll.NullLevel("locality"),
            cll.ExactMatchLevel("locality").configure(tf_adjustment_column="locality"),
            cll.JaroWinklerLevel("locality", 0.88),
            cll.ElseLevel(),
        ],
    )


def comparisons(profile: Profile) -> list[Any]:
    return [
        _first_name(profile),
        _surname_and_address(),
        _date_of_birth(profile),
        _sex(profile),
        _nhs_number(),
        _locality(),
    ]


def prediction_blocking_rules() -> list[Any]:
    """Pairs are only scored if they agree on one of these; each rule catches what the others miss."""
    return [
        block_on("dob"),
        block_on("first_name", "last_name"),
        block_on("nhs_number"),
        block_on("last_name", "dob_year"),
        block_on("first_name", "dob_year", "sex"),
        block_on("postcode", "first_name"),
        block_on("postcode", "last_name"),
        block_on("postcode", "dob_year"),
        block_on("uprn", "sex"),
        "l.first_name = r.last_name AND l.last_name = r.first_name",
        block_on("postcode", "address_numbers"),
        block_on("locality", "last_name"),
        block_on("locality", "first_name"),
        block_on("locality", "dob_year"),
        block_on("locality", "address_numbers"),
        # A postcode alone would pair every resident of a council postcode with every other; with the
        # town it pairs only where a source records one (partner files, FEBRL), where postcodes are wide.
        block_on("postcode", "locality"),
    ]


def training_blocking_rules() -> list[Any]:
    """EM sessions: each fixes the fields in its rule and learns the m probabilities of the others.

    Plain EM on a block such as "same name" converges partly on *households*: a father and son of one
    name at one address agree on everything but the date of birth. The first session therefore learns
    the date-of-birth levels only where the dwelling also agrees, and relies on the profile's fixed
    dob_disagree_m to tell generations apart. The surname-and-address comparison is learned where
    first name and birth date agree, which co-residents (other than twins, whose first names differ)
    almost never do.
    """
    same_dwelling = "(l.uprn = r.uprn OR l.address_key = r.address_key)"
    return [
        f"l.first_name = r.first_name AND l.last_name = r.last_name AND {same_dwelling}",
        block_on("dob"),
        block_on("first_name", "dob"),
    ]


def deterministic_rules() -> list[Any]:
    """Near-certain matches, used with an assumed recall to estimate the prior match probability."""
    return [
        block_on("first_name", "last_name", "dob"),
        block_on("nhs_number"),
    ]


DETERMINISTIC_RECALL = 0.8

# The exact-agreement rule whose pairs, divided by its recall, give the prior once the m probabilities
# are learned; and the levels whose m probabilities make up that recall.
EXACT_RULE_COLUMNS = ("first_name", "last_name", "dob")
_EXACT_LEVELS = {"first_name": (FIRST_NAME_EXACT,), "surname_address": SURNAME_EXACT, "dob": (DOB_EXACT,)}


def tf_columns(model_json: dict[str, Any]) -> list[str]:
    """The columns a saved model adjusts by term frequency: each needs its frequency table before a
    file is scored against the index with that model (whichever version of the model it is)."""
    found = {
        str(level["tf_adjustment_column"])
        for comparison in model_json.get("comparisons", [])
        for level in comparison["comparison_levels"]
        if level.get("tf_adjustment_column")
    }
    return sorted(found)


def exact_rule_recall(model_json: dict[str, Any]) -> float | None:
    """How often two records of one person agree exactly on first name, surname and date of birth, by
    the learned m probabilities (fields erring independently, as the model assumes).

    The first prior rests on an assumed recall (`DETERMINISTIC_RECALL`); data noisier than that
    assumption (FEBRL: about 0.4) would otherwise keep a prior several times too small, and every match
    weight a bit or two too low. None when a level is missing (a model from elsewhere)."""
    recall = 1.0
    for comparison in model_json.get("comparisons", []):
        labels = _EXACT_LEVELS.get(comparison["output_column_name"])
        if labels is None:
            continue
        found = [
            float(level["m_probability"])
            for level in comparison["comparison_levels"]
            if level.get("label_for_charts") in labels and level.get("m_probability") is not None
        ]
        if len(found) != len(labels):
            return None
        recall *= sum(found)
    return recall if 0.0 < recall <= 1.0 else None


def u_without_matches(model_json: dict[str, Any], sampled_pairs: float) -> dict[str, Any]:
    """The u probabilities with the true matches taken out of the random sample they were counted in.

    Random sampling counts how often a level occurs among *all* pairs, assuming matches are too few to
    matter. Where records are few and duplicates many (FEBRL: one pair in ten thousand is a match) the
    matches dominate the strongest levels: a random pair agrees on date of birth about as often because
    it is one person as by chance, so u came out several times too large and every strong agreement
    weighed a bit or two too little. Each level's frequency among all pairs is
    lambda * m + (1 - lambda) * u, so u = (observed - lambda * m) / (1 - lambda), with lambda the prior
    and m learned by EM; never below the smaller of what was observed and one pair in the sample (the
    subtraction cannot show that a level never occurs between different people). Fixed u values and
    unlearned levels are left alone. A pure function of the saved model; returns a new dictionary."""
    out = json.loads(json.dumps(model_json))
    lam = float(out.get("probability_two_random_records_match") or 0.0)
    if not 0.0 < lam < 1.0 or sampled_pairs < 1:
        return out
    for comparison in out.get("comparisons", []):
        for level in comparison["comparison_levels"]:
            m, u = level.get("m_probability"), level.get("u_probability")
            if level.get("is_null_level") or level.get("fix_u_probability") or m is None or u is None:
                continue
            floor = min(float(u), 1.0 / sampled_pairs)
            level["u_probability"] = max((float(u) - lam * float(m)) / (1.0 - lam), floor)
    return out


def sampled_pairs(records: int, u_pairs: float) -> float:
    """How many pairs random sampling compares: `u_pairs`, or every pair of a smaller input."""
    return min(u_pairs, records * (records - 1) / 2)


def settings(profile: Profile) -> SettingsCreator:
    """Dedupe over one table holding every store's records: equivalent to link-and-dedupe across stores,
    since a store can hold one resident twice (duplicate registrations are real)."""
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons(profile),
        blocking_rules_to_generate_predictions=prediction_blocking_rules(),
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
        additional_columns_to_retain=["source", "local_id"],
    )
