"""The OpenAI Files + Uploads door, served at /v1 and /openai/v1."""
