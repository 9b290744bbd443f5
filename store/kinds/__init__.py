"""One module per kind of record: its dataclass(es) and the small protocol of the
operations on it. :class:`store.interface.Store` combines them all.

Adding a kind of record: one module here (the dataclass and the protocol), one module
per backend (``store/sqlite/<kind>.py``, ``store/redis/<kind>.py``, mixed into
``SQLiteStore`` and ``RedisStore``), its argument checks in :mod:`store.validation`, a
:class:`store.codec.Codec` of the dataclass, and contract tests parametrised by the
``store`` fixture.
"""
