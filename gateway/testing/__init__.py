"""Helpers for the gateway's own tests and benchmarks (fault injection); never used by the service."""
