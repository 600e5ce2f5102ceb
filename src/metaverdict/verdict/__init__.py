"""metaverdict.verdict."""
