"""Governed data-sharing and privacy gateway for public services."""

__version__ = "0.1.0"
