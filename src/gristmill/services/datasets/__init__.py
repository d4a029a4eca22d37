"""Datasets: create, ingest, list and delete; versions (Parquet snapshots), exports and
training records."""
