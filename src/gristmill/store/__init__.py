"""Persistence: the metadata store (SQL) and the blob store (files or S3)."""
