"""Settings -> training -> predictions -> clusters, the Splink pipeline behind `gateway link`.

The engine (DuckDB or Spark) only decides where the SQL runs; this module is the same for both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from splink import Linker

from gateway.linkage import model
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
    # Splink logs every SQL step at INFO; the CLI shows progress itself.
    logging.getLogger("splink").setLevel(logging.WARNING)


def train(linker: Linker, *, u_pairs: float, seed: int, progress: Progress) -> None:
    """Estimate the prior, u (random sampling) and m (EM per training block) for the model."""
    progress("estimating the prior match probability")
    linker.training.estimate_probability_two_random_records_match(
        model.deterministic_rules(), recall=model.DETERMINISTIC_RECALL
    )
    progress("estimating u probabilities by random sampling")
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=seed)
    for rule in model.training_blocking_rules():
        progress("estimating m probabilities by expectation maximisation")
        linker.training.estimate_parameters_using_expectation_maximisation(rule, fix_u_probabilities=True)


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
    train(linker, u_pairs=u_pairs, seed=seed, progress=progress)

    progress("scoring candidate pairs")
    floor = profile.match_weight - profile.review_band_weight
    predictions = linker.inference.predict(threshold_match_weight=floor)
    progress("clustering")
    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=profile.match_threshold
    )
    clusters = {
        str(r["unique_id"]): str(r["cluster_id"]) for r in rows(clustered, ["unique_id", "cluster_id"])
    }
    edges = [
        Edge(
            str(r["unique_id_l"]),
            str(r["unique_id_r"]),
            float(r["match_weight"]),
            float(r["match_probability"]),
        )
        for r in rows(predictions, ["unique_id_l", "unique_id_r", "match_weight", "match_probability"])
    ]
    model_json = linker.misc.save_model_to_json()
    return LinkResult(
        clusters=clusters,
        edges=edges,
        model_json=model_json,
        profile=profile,
        stats={"records": len(records), "scored_pairs_kept": len(edges)},
    )
