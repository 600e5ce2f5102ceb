"""metaverdict.report."""
