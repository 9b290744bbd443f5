"""service.ids: random ids drawn from the OS in blocks are still unique, the right
size, never shared between threads, and never repeated in a forked child."""

from __future__ import annotations

import os
import re
import threading

import pytest

from service.ids import BLOCK, random_hex

HEX16 = re.compile(r"[0-9a-f]{16}")


def test_ids_are_hex_of_the_size_asked_and_distinct_across_blocks() -> None:
    seen = [random_hex(8) for _ in range(3 * BLOCK // 8 + 7)]  # crosses three refills
    assert all(HEX16.fullmatch(v) for v in seen)
    assert len(set(seen)) == len(seen)
    assert len(random_hex(1)) == 2 and len(random_hex(64)) == 128


@pytest.mark.parametrize("size", [0, -1, 65])
def test_a_size_outside_1_to_64_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match="nbytes"):
        random_hex(size)


def test_threads_draw_from_their_own_blocks() -> None:
    random_hex(8)  # this thread's block exists
    results: dict[int, list[str]] = {}

    def draw(n: int) -> None:
        results[n] = [random_hex(8) for _ in range(600)]

    threads = [threading.Thread(target=draw, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    mine = [random_hex(8) for _ in range(600)]
    every = [v for values in results.values() for v in values] + mine
    assert len(set(every)) == len(every)


def test_a_forked_child_never_reuses_the_parents_block() -> None:
    random_hex(8)  # the parent's block holds unused bytes
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, written to the parent
        try:
            os.write(write_end, "".join(random_hex(8) for _ in range(8)).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child = pipe.read().decode()
    os.waitpid(pid, 0)
    parent = "".join(random_hex(8) for _ in range(8))
    assert len(child) == len(parent) == 128
    assert child != parent
