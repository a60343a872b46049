"""The ``civicline`` command line: one module per command group."""

from civicline.gateway.cli.main import app

__all__ = ["app"]
