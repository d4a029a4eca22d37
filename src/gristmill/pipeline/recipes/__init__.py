"""Adaptation recipes: operators that rewrite rows, most of them by asking a model.

A recipe never calls the model itself: it says what it would ask (`Ask`) and judges what came
back (`accept`), so the same recipe runs under any client, cached or live, and model output is
checked in one place before it touches a row. See `gristmill.services.runs` for the runner.
"""
