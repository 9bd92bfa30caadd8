"""Partner exchanges: files sent in under an agreement, validated against published schemas."""
