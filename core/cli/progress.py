"""Progress bars for long CLI work (stderr, tqdm)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def progress_bar(description: str, *, quiet: bool = False, unit: str = "frame") -> Iterator:
    """Yield a callback ``(done, total, frame)`` that drives one tqdm bar on stderr."""
    if quiet:
        yield lambda done, total, frame=None: None
        return
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int, frame=None) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=description, unit=unit, dynamic_ncols=True, mininterval=0.5)
        if frame is not None:
            bar.set_postfix_str(f"frame {frame}", refresh=False)
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()
