"""Helpers shared by the tests: the composition the gateway uses, built for a test's database."""
