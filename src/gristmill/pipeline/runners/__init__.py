"""Runners: the same checks over a version's Parquet snapshot, in local processes or on Ray."""
