"""Progress bars for long CLI work (stderr, tqdm)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator


@contextlib.contextmanager
def progress_bar(description: str, *, quiet: bool = False, unit: str = "frame") -> Iterator:
    """Yield a callback ``(done, total, frame)`` that drives one tqdm bar on stderr.

    The bar appears with the first report (when the total is known), its clock started when the work
    did: the time and rate of a first frame that took minutes are said as such.
    """
    if quiet:
        yield lambda done, total, frame=None: None
        return
    from tqdm import tqdm

    bar = None
    started = None

    def update(done: int, total: int, frame=None) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=description, unit=unit, dynamic_ncols=True, mininterval=0.5)
            bar.start_t = bar.last_print_t = started
        if frame is not None:
            bar.set_postfix_str(f"frame {frame}", refresh=False)
        bar.update(done - bar.n)

    started = time.time()  # tqdm's own clock
    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


#: A frame of at least this many tiles gets its own tile bar (a 4K frame at tile 512: 40 tiles).
TILE_BAR_MIN = 8


@contextlib.contextmanager
def tile_bar(*, quiet: bool = False) -> Iterator:
    """Yield a callback ``(tiles done, tiles, frame)`` that shows the tiles of a frame of at least
    :data:`TILE_BAR_MIN` tiles on a second bar under the frames' bar, gone when the frame is done."""
    if quiet:
        yield lambda done, total, frame=None: None
        return
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int, frame=None) -> None:
        nonlocal bar
        if total < TILE_BAR_MIN:
            return
        if bar is None:
            bar = tqdm(total=total, desc="  tiles" if frame is None else f"  frame {frame}", unit="tile",
                       dynamic_ncols=True, mininterval=0.5, leave=False, position=1)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
            bar = None

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()
