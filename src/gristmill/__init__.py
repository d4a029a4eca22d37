"""Gristmill: a self-hosted hub for LLM fine-tuning and evaluation datasets."""

__version__ = "0.1.0"
