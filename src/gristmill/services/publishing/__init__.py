"""Publishing a dataset version to another service: a `publish` job per publication."""
