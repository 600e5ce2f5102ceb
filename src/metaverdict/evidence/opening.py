"""Opening the evidence store: connect (and migrate), then seed the bundled evidence.

This module sits above both :mod:`metaverdict.evidence.store` (the database) and
:mod:`metaverdict.evidence.bundled` (which writes into a store), so neither imports the
other's caller: ``store`` <- ``io`` <- ``bundled`` <- ``opening``.

>>> from metaverdict.evidence import open_store
>>> with open_store("sqlite://", seed=False) as store:        # empty, in memory
...     store.is_empty()
True
"""
from __future__ import annotations

from metaverdict.evidence.bundled import seed as seed_bundled
from metaverdict.evidence.store import Store, connect
from metaverdict.evidence.vocabulary import Vocabulary


def open_store(url: str | None = None, *, seed: bool = True,
               vocabulary: Vocabulary | None = None) -> Store:
    """Open (and migrate) the evidence store, seeding it with the bundled evidence.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL, e.g. ``"sqlite:///path/evidence.sqlite"``, ``"sqlite://"`` (memory)
        or ``"postgresql+psycopg://user:pw@host/db"``. Default:
        :func:`metaverdict.evidence.store.default_url`.
    seed : bool
        Load the bundled evidence if this store has never held it, or refresh it where an
        earlier bundled copy seeded it (default True; see
        :func:`metaverdict.evidence.bundled.seed`).
    vocabulary : Vocabulary, optional
        Default: the bundled vocabulary.

    Returns
    -------
    Store

    Raises
    ------
    InputError
        As :func:`metaverdict.evidence.store.connect`.
    """
    store = connect(url, vocabulary=vocabulary)
    if seed:
        try:
            seed_bundled(store)
        except BaseException:
            store.close()
            raise
    return store
