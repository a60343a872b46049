"""Civicline: a city's multi-channel complaint gateway."""
