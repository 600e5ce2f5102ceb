"""metaverdict.batch."""
