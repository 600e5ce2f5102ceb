"""The ``metaverdict`` command line (Typer + rich)."""
from metaverdict.cli.main import app

__all__ = ["app"]
