"""Readers for message formats other than RFC 3464 and RFC 5965 (one module per family)."""
