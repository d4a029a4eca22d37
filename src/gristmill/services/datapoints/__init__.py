"""Datapoints, the working rows of datasets as TensorZero sees them: reads, writes, filters,
shapes, and rows made from logs."""
