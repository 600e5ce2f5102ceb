"""metaverdict.effects."""
