"""Vendor wire adapters: paths, auth header, models, pagination and error envelope. No logic."""
