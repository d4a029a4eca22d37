"""The Adaption datasets door, served at /api/v1/datasets, plus the self-served presigned PUT
URLs its uploads use when the blob store cannot sign URLs itself."""
