"""The logging gateway: OpenAI-compatible calls forwarded upstream and recorded as logs."""
