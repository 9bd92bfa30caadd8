"""De-identified record-level extracts: request, approval, build, download, expiry, re-identification."""
