"""Inference logs: the logging gateway, gateways, log filters and queries, prices, and the
datasets made of logs."""
