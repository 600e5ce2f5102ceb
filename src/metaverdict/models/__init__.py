"""metaverdict.models."""
