"""The frame: pixels plus the colour space and provenance that travel with them.

A frame's pixels are a ``numpy.ndarray`` of dtype ``float32``, layout ``HWC``
with ``C`` in {1, 3, 4} (Y, RGB, RGBA). Values are scene-linear unless
``colorspace`` says otherwise (e.g. ``"srgb"`` for display-encoded 0..1 data).
The colour space is never guessed downstream: readers set it from file
metadata or from an explicit, documented default, and record which in
``metadata["colorspace_source"]``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from core.errors import ImageError

DEFAULT_CHANNELS = {1: ("Y",), 3: ("R", "G", "B"), 4: ("R", "G", "B", "A")}


@dataclasses.dataclass
class Frame:
    """One image with its colour space and provenance.

    Attributes
    ----------
    pixels:
        ``float32`` array, ``HWC``, ``C`` in {1, 3, 4}.
    colorspace:
        Canonical reelkit colour space name (see :mod:`core.color`), e.g.
        ``"ACEScg"``, ``"lin_rec709"``, ``"srgb"``.
    frame:
        Frame number in its sequence, or ``None`` for a still.
    path:
        Source file, or ``None`` for frames made in memory.
    metadata:
        Free-form provenance (file header attributes, ``colorspace_source``...).
    layers:
        Extra named layers (EXR ``layer.channel``), each ``float32`` ``HWC``
        with the same height and width as ``pixels``.
    channels:
        Channel names of ``pixels``; defaults to Y / RGB / RGBA.
    """

    pixels: np.ndarray
    colorspace: str
    frame: int | None = None
    path: str | None = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    layers: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    channels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.pixels = as_hwc_float32(self.pixels, name=self.describe())
        if not self.channels:
            self.channels = DEFAULT_CHANNELS[self.pixels.shape[2]]
        if len(self.channels) != self.pixels.shape[2]:
            raise ImageError(
                f"{self.describe()}: {len(self.channels)} channel names for "
                f"{self.pixels.shape[2]} channels"
            )
        for name, layer in list(self.layers.items()):
            layer = np.asarray(layer)
            if layer.ndim == 2:
                layer = layer[..., None]
            if layer.shape[:2] != self.pixels.shape[:2]:
                raise ImageError(
                    f"{self.describe()}: layer {name!r} is {layer.shape[1]}x{layer.shape[0]}, "
                    f"pixels are {self.width}x{self.height}"
                )
            self.layers[name] = layer.astype(np.float32, copy=False)

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def n_channels(self) -> int:
        return int(self.pixels.shape[2])

    @property
    def rgb(self) -> np.ndarray:
        """The colour channels (``HW3``, or ``HW1`` for a single-channel frame)."""
        return self.pixels[..., :3]

    @property
    def alpha(self) -> np.ndarray | None:
        """The alpha channel (``HW1``) or ``None``."""
        return self.pixels[..., 3:4] if self.n_channels == 4 else None

    def describe(self) -> str:
        """Short human name for messages: path and frame number when known."""
        where = self.path or "<memory>"
        return f"{where} (frame {self.frame})" if self.frame is not None else str(where)

    def replace(self, **changes: Any) -> "Frame":
        """A copy with some fields changed (metadata and layers are shallow-copied)."""
        fields = {
            "pixels": self.pixels,
            "colorspace": self.colorspace,
            "frame": self.frame,
            "path": self.path,
            "metadata": dict(self.metadata),
            "layers": dict(self.layers),
            "channels": self.channels,
        }
        if "pixels" in changes and "channels" not in changes:
            n = np.asarray(changes["pixels"]).shape[-1] if np.ndim(changes["pixels"]) == 3 else 1
            fields["channels"] = self.channels if n == len(self.channels) else ()
        fields.update(changes)
        return Frame(**fields)


def as_hwc_float32(pixels: Any, *, name: str = "image") -> np.ndarray:
    """Validate and return ``pixels`` as ``float32`` ``HWC`` with C in {1, 3, 4}.

    ``HW`` arrays become ``HW1``; float16/float64 and integer arrays are
    converted to ``float32`` without rescaling (integer scaling is the reader's
    job, which knows the bit depth).

    >>> as_hwc_float32(np.zeros((2, 3))).shape
    (2, 3, 1)
    """
    arr = np.asarray(pixels)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3:
        raise ImageError(f"{name}: expected an HWC image, got an array of shape {arr.shape}")
    if arr.shape[2] not in (1, 3, 4):
        raise ImageError(
            f"{name}: expected 1, 3 or 4 channels (Y, RGB, RGBA), got {arr.shape[2]}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageError(f"{name}: empty image of shape {arr.shape}")
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ImageError(f"{name}: unsupported dtype {arr.dtype}")
    return arr.astype(np.float32, copy=False)


#: Values :func:`check_finite` tests at a time (a strip of rows): its mask stays 1 MiB on any frame.
FINITE_STRIP_VALUES = 1 << 20


def check_finite(pixels: np.ndarray, *, name: str = "image") -> None:
    """Raise :class:`ImageError` naming the count and first location of NaN/Inf values in ``HWC`` ``pixels``.

    Tested a strip of rows at a time; a frame-sized mask is made only to
    describe values that are found.
    """
    rows = max(1, FINITE_STRIP_VALUES // max(1, pixels[0].size))
    if all(np.isfinite(pixels[y:y + rows]).all() for y in range(0, pixels.shape[0], rows)):
        return
    bad = ~np.isfinite(pixels)
    y, x, c = (int(v) for v in np.argwhere(bad)[0])
    raise ImageError(
        f"{name}: {int(bad.sum())} non-finite values (NaN/Inf); first at x={x} y={y} channel={c}"
    )


def frame_stats(frame: Frame) -> dict[str, Any]:
    """Per-channel statistics used by ``reelkit info``.

    Returns a dict with size, channel names, colour space, and for each channel
    min / max / mean over finite values plus NaN and Inf counts.
    """
    px = frame.pixels
    channels = {}
    for i, name in enumerate(frame.channels):
        ch = px[..., i]
        finite = np.isfinite(ch)
        vals = ch[finite]
        channels[name] = {
            "min": float(vals.min()) if vals.size else None,
            "max": float(vals.max()) if vals.size else None,
            "mean": float(vals.mean(dtype=np.float64)) if vals.size else None,
            "nan": int(np.isnan(ch).sum()),
            "inf": int(np.isinf(ch).sum()),
        }
    return {
        "path": frame.path,
        "frame": frame.frame,
        "width": frame.width,
        "height": frame.height,
        "channels": list(frame.channels),
        "colorspace": frame.colorspace,
        "colorspace_source": frame.metadata.get("colorspace_source"),
        "layers": {k: int(v.shape[2]) for k, v in frame.layers.items()},
        "stats": channels,
        "nan_count": sum(c["nan"] for c in channels.values()),
        "inf_count": sum(c["inf"] for c in channels.values()),
    }
