"""The native door (`/native/v1`): Gristmill's own API, for what no vendor API covers."""
