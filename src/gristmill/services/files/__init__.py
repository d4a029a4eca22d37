"""Files and uploads: OpenAI Files and Uploads, presigned single-PUT uploads, and the
dataset a fine-tune file becomes."""
