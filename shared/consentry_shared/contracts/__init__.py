"""Versioned message contracts. Import from the version module you speak: ``contracts.v1``."""
