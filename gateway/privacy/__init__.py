"""Statistical disclosure control: small pure functions the aggregate path composes (see control.py)."""
