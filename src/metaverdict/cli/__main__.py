"""``python -m metaverdict.cli``: the same command as ``metaverdict``."""
from metaverdict.cli.main import app

app(prog_name="metaverdict")
