"""The linked analysis store: minimised, analysis-ready tables built from every store and the index."""
