"""The Hugging Face Hub door's use cases: datasets as Hub dataset repos, versions as commits."""
