"""The monitoring page, its JSON API and /metrics."""
