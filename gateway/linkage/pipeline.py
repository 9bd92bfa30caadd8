"""Settings -> training -> predictions -> clusters, the Splink pipeline behind `gateway link`.

The engine (DuckDB or Spark) only decides where the SQL runs; this module is the same for both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from splink import Linker, block_on

from gateway.linkage import model
from gateway.linkage.clustering import ClusterStats, cluster
from gateway.linkage.engines import Engine, rows
from gateway.linkage.standardise import to_arrow

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Edge:
    """One scored candidate pair (ids are `source:local_id`)."""

    left: str
    right: str
    match_weight: float
    match_probability: float


@dataclass
class LinkResult:
    """What a linkage run found: every record's cluster, the scored pairs near or above the threshold,
    and the trained model (Splink JSON) so that partner files are scored with the same parameters."""

    clusters: dict[str, str]
    edges: list[Edge]
    model_json: dict[str, Any]
    profile: model.Profile = field(default_factory=model.Profile)
    stats: dict[str, Any] = field(default_factory=dict)


def _quiet() -> None:
    # Splink logs every SQL step at INFO and warns about levels it did not observe; the CLI shows
    # progress itself and the saved model records every level's parameters.
    logging.getLogger("splink").setLevel(logging.ERROR)


def train(linker: Linker, *, records: int, u_pairs: float, seed: int, progress: Progress) -> dict[str, Any]:
    """Estimate the prior, u (random sampling) and m (EM per training block); return the model with
    the true matches taken out of the u sample (`model.u_without_matches`)."""
    progress("estimating the prior match probability")
    linker.training.estimate_probability_two_random_records_match(
        model.deterministic_rules(), recall=model.DETERMINISTIC_RECALL
    )
    progress("estimating u probabilities by random sampling")
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=seed)
    for rule in model.training_blocking_rules():
        progress("estimating m probabilities by expectation maximisation")
        linker.training.estimate_parameters_using_expectation_maximisation(rule, fix_u_probabilities=True)
    recall = model.exact_rule_recall(linker.misc.save_model_to_json())
    if recall is not None:
        progress("re-estimating the prior with the learned recall of exact agreement")
        linker.training.estimate_probability_two_random_records_match(
            [block_on(*model.EXACT_RULE_COLUMNS)], recall=recall
        )
    progress("taking the matches out of the random sample's u probabilities")
    return model.u_without_matches(linker.misc.save_model_to_json(), model.sampled_pairs(records, u_pairs))


# A level never seen in training (among matches, or among random pairs) carries no evidence either way:
# it is given m = u, a weight of zero. Splink's own default would score it at 1e-6, a strong penalty,
# which punishes data that is merely shaped differently from the training data (a partner file with a
# postcode but no address line lands in a level the stores never produce).
NEUTRAL_DEFAULT = 1e-6


def neutral_unobserved(model_json: dict[str, Any]) -> dict[str, Any]:
    for comparison in model_json.get("comparisons", []):
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            if m is None or u is None:
                known = m if m is not None else u
                level["m_probability"] = level["u_probability"] = (
                    known if known is not None else NEUTRAL_DEFAULT
                )
    return model_json


def link_records(
    records: Sequence[dict[str, Any]],
    engine: Engine,
    *,
    profile: model.Profile | None = None,
    u_pairs: float = 2e6,
    seed: int = 42,
    progress: Progress = lambda _msg: None,
) -> LinkResult:
    """Train on the records themselves, score every blocked pair, cluster at the profile's threshold."""
    profile = profile or model.Profile()
    if not records:
        return LinkResult(clusters={}, edges=[], model_json={}, profile=profile)
    _quiet()
    db_api = engine.db_api()
    table = engine.register(db_api, to_arrow(list(records)), "gateway_records")
    linker = Linker(table, model.settings(profile), log_level=None)
    _quiet()
    trained = train(linker, records=len(records), u_pairs=u_pairs, seed=seed, progress=progress)

    # Reload the trained model with unobserved levels made neutral, so that this run and every later
    # use of the saved model (partner files) score pairs identically.
    model_json = neutral_unobserved(trained)
    linker = Linker(table, model_json, log_level=None)
    progress("scoring candidate pairs")
    floor = profile.match_weight - profile.review_band_weight
    predictions = linker.inference.predict(threshold_match_weight=floor)
    edges = [
        Edge(
            str(r["unique_id_l"]),
            str(r["unique_id_r"]),
            float(r["match_weight"]),
            float(r["match_probability"]),
        )
        for r in rows(predictions, ["unique_id_l", "unique_id_r", "match_weight", "match_probability"])
    ]
    progress("clustering")
    cluster_stats = ClusterStats()
    clusters = cluster(
        {str(r["unique_id"]): r.get("dob") for r in records},
        ((e.left, e.right, e.match_weight) for e in edges),
        threshold_weight=profile.match_weight,
        attach_weight=floor if profile.attach_without_dob else None,
        place_of={str(r["unique_id"]): r.get("postcode") for r in records},
        mutual_weight=floor if profile.join_only_candidates else None,
        stats=cluster_stats,
    )
    return LinkResult(
        clusters=clusters,
        edges=edges,
        model_json=model_json,
        profile=profile,
        stats={"records": len(records), "scored_pairs_kept": len(edges), **asdict(cluster_stats)},
    )
