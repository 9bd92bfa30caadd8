"""Connected components, computed by Splink's own clustering on DuckDB (no hand-rolled union-find)."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
from splink import DuckDBAPI
from splink.clustering import cluster_pairwise_predictions_at_threshold


def connected_components(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """node -> component label (the smallest node id in its component, so labels are deterministic)."""
    node_list = sorted(set(nodes))
    if not node_list:
        return {}
    pairs = sorted({(a, b) if a < b else (b, a) for a, b in edges if a != b})
    db_api = DuckDBAPI()
    nodes_table = pa.table({"node_id": pa.array(node_list, pa.string())})
    edges_table = pa.table(
        {
            "node_id_l": pa.array([a for a, _ in pairs], pa.string()),
            "node_id_r": pa.array([b for _, b in pairs], pa.string()),
        }
    )
    clustered = cluster_pairwise_predictions_at_threshold(
        nodes_table, edges_table, db_api=db_api, node_id_column_name="node_id"
    )
    rows = clustered.as_pyarrow_table().select(["node_id", "cluster_id"]).to_pylist()
    return {str(r["node_id"]): str(r["cluster_id"]) for r in rows}
