"""Random ids for the hot paths, drawn from the OS's CSPRNG in blocks.

``secrets.token_hex(8)`` makes one ``getrandom`` system call per id, and the call
releases the GIL: in a worker whose threads all want the GIL, each release hands it to
another thread and costs two context switches (measured in docs/performance.md, "The
threads of a worker"). :func:`random_hex` reads :data:`BLOCK` bytes of ``os.urandom`` at
a time per thread and hands them out: the same randomness, one system call per
``BLOCK // nbytes`` ids. A forked child (a gunicorn worker) never reuses its parent's
block: the generation number changes in the child and every block drawn before is
dropped.

For ids that must be unique and unguessable but are not keys (request ids, activity
event ids); keys and tokens use :mod:`secrets` directly.
"""

from __future__ import annotations

import os
import threading

__all__ = ["BLOCK", "random_hex"]

#: Bytes read from the OS at a time, per thread.
BLOCK = 4096
#: The largest id served from the block (bytes).
_MAX_BYTES = 64

_generation = 0


def _forked() -> None:
    global _generation
    _generation += 1


os.register_at_fork(after_in_child=_forked)


class _Block(threading.local):
    generation = -1
    data = b""
    used = 0


_block = _Block()


def random_hex(nbytes: int = 8) -> str:
    """``nbytes`` random bytes (1 to 64) from the OS's CSPRNG, as lower-case hex.

    Raises ``ValueError`` for a size outside 1 to 64.
    """
    if not 1 <= nbytes <= _MAX_BYTES:
        raise ValueError(f"nbytes must be 1 to {_MAX_BYTES}, not {nbytes}")
    block = _block
    used = block.used
    if block.generation != _generation or used + nbytes > len(block.data):
        block.data, block.generation, used = os.urandom(BLOCK), _generation, 0
    block.used = used + nbytes
    return block.data[used : used + nbytes].hex()
