"""Vertical slices, one per domain: router -> service -> repository -> models, with schemas."""
