"""metaverdict.evidence."""
