"""Perceptual hashes and a BK-tree to find near-identical frames without an N x N matrix.

:func:`phash` is imagehash's DCT perceptual hash (``imagehash.phash``,
64 bits: the signs of the 8x8 lowest DCT coefficients of a 32x32 grey
thumbnail against their median; Zauner, "Implementation and Benchmarking
of Perceptual Image Hash Functions", 2010), kept as a Python ``int``.

:class:`BKTree` (Burkhard & Keller, 1973) indexes hashes by Hamming
distance, a metric: a radius query visits only the subtrees whose edge
distance is within ``radius`` of the query's distance to their parent
(triangle inequality), so finding every pair within a few bits costs far
less than comparing all pairs.

:func:`ssim` is the mean structural similarity of two grey thumbnails
(:func:`ssim_thumbnail`, 8-bit values): :func:`core.metrics.ssim_map` with
the paper's window (:data:`core.metrics.GAUSSIAN_WINDOW`: Gaussian 11x11,
sigma 1.5, K1 = 0.01, K2 = 0.03), border included.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from core.errors import ImageError, require

#: Longer side of the grey thumbnails compared by SSIM.
SSIM_SIZE = 128


def hamming(a: int, b: int) -> int:
    """Number of differing bits of two hashes."""
    return (a ^ b).bit_count()


def phash(image: np.ndarray) -> int:
    """64-bit DCT perceptual hash of a ``uint8`` ``HW3`` (or ``HW``) image, as an ``int``."""
    imagehash = require("imagehash", "dataset")
    from PIL import Image

    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise ImageError(f"phash: expected a uint8 image, got {arr.dtype}")
    bits = imagehash.phash(Image.fromarray(np.ascontiguousarray(arr))).hash.ravel()
    return int("".join("1" if b else "0" for b in bits), 2)


class BKTree:
    """A Burkhard-Keller tree of ``(hash, item)`` under Hamming distance.

    >>> t = BKTree([(0b0000, "a"), (0b0001, "b"), (0b1111, "c")])
    >>> sorted(item for _, item, _ in t.within(0b0000, 1))
    ['a', 'b']
    """

    def __init__(self, entries: Iterable[tuple[int, object]] = ()):
        self._root: list | None = None  # node: [hash, items, {distance: child}]
        self._size = 0
        for h, item in entries:
            self.add(h, item)

    def __len__(self) -> int:
        return self._size

    def add(self, h: int, item: object) -> None:
        self._size += 1
        if self._root is None:
            self._root = [h, [item], {}]
            return
        node = self._root
        while True:
            d = hamming(h, node[0])
            if d == 0:
                node[1].append(item)
                return
            child = node[2].get(d)
            if child is None:
                node[2][d] = [h, [item], {}]
                return
            node = child

    def within(self, h: int, radius: int) -> Iterator[tuple[int, object, int]]:
        """Every ``(hash, item, distance)`` with ``distance <= radius`` of ``h``."""
        if self._root is None:
            return
        stack = [self._root]
        while stack:
            node = stack.pop()
            d = hamming(h, node[0])
            if d <= radius:
                for item in node[1]:
                    yield node[0], item, d
            lo, hi = d - radius, d + radius
            stack.extend(child for k, child in node[2].items() if lo <= k <= hi)


def ssim_thumbnail(image: np.ndarray, size: int = SSIM_SIZE) -> np.ndarray:
    """``float32`` grey thumbnail (longer side ``size``, 8-bit scale) for :func:`ssim`."""
    import cv2

    from core.dataset.quality import grey

    g = grey(image)
    h, w = g.shape
    scale = size / max(h, w)
    if scale < 1:
        g = cv2.resize(g, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return g.astype(np.float32)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two grey ``float32`` ``HW`` images of the same shape (8-bit scale); 0 for different shapes."""
    from core.metrics import GAUSSIAN_WINDOW, ssim_map

    if a.shape != b.shape:
        return 0.0  # different sizes are not the same picture
    return float(np.mean(ssim_map(a, b, GAUSSIAN_WINDOW, data_range=255)))
