"""Use cases. Called by routes, the CLI and jobs; never imports the web framework."""
