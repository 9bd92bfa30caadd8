"""What the platform team watches: Prometheus metrics (and, with issue 10, traces)."""
