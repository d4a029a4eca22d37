"""Format readers: each turns a byte stream into `RawRow`s numbered by source position."""
