"""The TensorZero door: datasets and datapoints as the `tensorzero` client and gateway speak."""
