"""The tamper-evident audit log: an append-only, hash-chained, checkpoint-signed event store."""
