"""Analyst tables: request -> policy -> compiled GROUP BY -> disclosure control -> released cells."""
