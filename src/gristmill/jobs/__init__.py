"""Long work as Job rows: a queue in the metadata store and workers that lease jobs."""
