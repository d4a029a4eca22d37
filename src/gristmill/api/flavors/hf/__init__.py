"""The Hugging Face Hub door."""
