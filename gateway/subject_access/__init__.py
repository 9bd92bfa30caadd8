"""Subject access requests (UK GDPR Art 15): the pack of accesses and data held."""
