"""The one path of every delivery: the pipeline, the unit of work, the failure policy, the middleware."""
