"""The Cloudflare AI Gateway door: gateways, logs and datasets under `/client/v4/accounts/…`."""
