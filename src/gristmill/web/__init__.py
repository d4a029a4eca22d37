"""The web viewer: server-rendered pages over the services, a door like the others."""
