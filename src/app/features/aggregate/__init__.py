"""Aggregation: one request fans out to the configured upstream sources and answers with all or none."""
