"""The `gristmill` command line."""
