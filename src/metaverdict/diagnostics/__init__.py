"""metaverdict.diagnostics."""
