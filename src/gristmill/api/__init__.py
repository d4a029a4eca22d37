"""The HTTP layer: one FastAPI app, one thin flavor (door) per vendor API."""
