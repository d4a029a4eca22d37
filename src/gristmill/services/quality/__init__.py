"""Quality: every dataset version checked by the pipeline, scored, graded and explained."""
