"""metaverdict.web: the answers for everyone who never opens a terminal.

A FastAPI application (:func:`metaverdict.web.app.create_app`, started by ``metaverdict
serve``) with server-rendered pages and a JSON API under ``/api/``. It renders the same
:class:`~metaverdict.synthesis.Answer` objects as ``metaverdict answer`` and the HTML report,
from one read of the store per store state (:mod:`metaverdict.web.state`); editors change the
evidence through the store's own validation (:mod:`metaverdict.web.editing`), and every
change is audited with the answers it changed (:mod:`metaverdict.web.changes`).

Importing this package imports neither FastAPI nor the store: the modules do.
"""
