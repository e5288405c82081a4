"""Standard steps of the model-development workflow."""
