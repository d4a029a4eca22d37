"""Adaptation runs: recipes over a dataset's head version, ending as a new graded version."""
