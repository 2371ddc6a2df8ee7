"""Watching the pipeline: traces, passwords hidden from logs."""
