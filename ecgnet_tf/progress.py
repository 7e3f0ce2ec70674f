"""Progress on long loops: a tqdm bar on a terminal, a few plain log lines otherwise (CI, nohup, files)."""
from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], desc: str, unit: str = "it", total: int | None = None, every: float = 0.1,
             min_seconds: float = 5.0, stream=None) -> Iterator[T]:
    """Iterate ``items`` showing progress.

    On a terminal: a transient tqdm bar. Otherwise, when the loop lasts more than ``min_seconds``,
    one line ``desc: k/n unit (p%), t s`` per ``every`` of the total (and a final one), so logs show
    that long preprocessing is moving.
    """
    stream = stream or sys.stderr
    items = list(items) if total is None else items
    n = len(items) if total is None else total
    if getattr(stream, "isatty", lambda: False)():
        from tqdm.auto import tqdm

        yield from tqdm(items, desc=desc, unit=unit, total=n, leave=False, file=stream)
        return
    t0 = time.monotonic()
    step = max(1, int(n * every))
    reported = False
    for k, item in enumerate(items, start=1):
        yield item
        elapsed = time.monotonic() - t0
        if n and (k % step == 0 or k == n) and (elapsed >= min_seconds or (reported and k == n)):
            print(f"{desc}: {k}/{n} {unit} ({100 * k / n:.0f}%), {elapsed:.0f} s", file=stream, flush=True)
            reported = True
