"""The Scale GP door: `/v4/training-datasets`, as the `scale-gp` SDK calls it."""
