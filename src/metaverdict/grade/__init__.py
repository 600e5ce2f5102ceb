"""metaverdict.grade."""
