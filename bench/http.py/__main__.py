"""``python bench/http.py``: the issue's name for the HTTP bench, bench/http_bench.py.

Same options and output (the ratios as JSON on the last line). ``bench/http.py`` is a
folder that Python runs through this file: a module named ``http.py`` in bench/ would
shadow the standard library's ``http`` package for every script of bench/ (they import
each other from that folder) and for mypy, which checks bench/ as top-level modules.
"""

from __future__ import annotations

import runpy
from pathlib import Path

if __name__ == "__main__":
    runpy.run_path(
        str(Path(__file__).resolve().parent.parent / "http_bench.py"), run_name="__main__"
    )
