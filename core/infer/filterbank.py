"""A bank of linear restoration filters learned from pairs: the detail a colour grade cannot give back.

A 3D LUT fitted from a reel's pairs takes back its colour; what is left
between a scan and its reference is spatial: the softness and the chroma
smear of a codec or a print generation, the ringing of a sharpener. That
is learnable from the same pairs in closed form, the way RAISR (Romano,
Isidoro, Milanfar, "RAISR: Rapid and Accurate Image Super Resolution",
IEEE TCI 2017) learns its filters: each pixel is put in a bucket by the
local gradient's angle and strength (the structure tensor of the frame's
luma, smoothed), and each bucket has its own linear filter from the
``(2 radius + 1)^2`` neighbourhood of all three channels (plus a constant)
to each output channel, fitted by least squares over the pairs' pixels.

- **Domain**: frames are ACEScg scene-linear ``HW3`` float32 (any range,
  HDR kept); the filters work on their ``log2`` encoding
  (:mod:`core.infer.encoding`), where a stop weighs about the same at every
  exposure and values above 1.0 need no clamp, and the result is decoded
  back. Luma for the buckets: the mean of the encoded channels.
- **Fit** (:func:`fit_filter_bank`): normal equations accumulated in
  float64 over up to ``samples`` seeded pixels of each pair, masked by the
  pair's validity mask and by a residual cap (pixels whose input is more
  than ``outlier`` encoded units from the reference, i.e. damage the stages
  before left, are not what the filters should learn). Every bucket's
  filter is shrunk toward the one filter fitted on all buckets
  (``W_k = (A_k + lam I)^-1 (B_k + lam W_all)``), so a bucket with few
  pixels falls back to the global filter, not to noise. A fifth of the
  drawn pixels is held out: the bank is kept only when it lowers their
  error; otherwise it is the identity (``success`` False, with the reason),
  so a reel where nothing spatial is learnable is left as it is.
- **Apply** (:meth:`FilterBank.apply`): a pure function of the frame and the
  bank, one float32 sum per pixel and channel in a fixed order (numba
  when it imports, else numpy in strips of rows: the same bits); alpha and any channel
  after the third pass through; pixels whose neighbourhood is not finite
  come back unchanged.

The bank is saved as JSON with its weights at 9 decimals (:meth:`save`), so
a first run, a resumed one and another farm range apply the same filters.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from core.errors import ImageError, ParameterError
from core.formats import FORMATS
from core.kernels import choose

#: The saved file's format (:mod:`core.formats`).
FORMAT = FORMATS["reelkit.filter_bank"]
#: Encoding the filters work in (:mod:`core.infer.encoding`).
ENCODING = "log2"
#: Rows per strip when applying (bounded memory on any frame size).
STRIP_ROWS = 16
#: Share of the drawn pixels held out to decide whether the bank is kept.
HELD_OUT = 0.2


def _encode(rgb: np.ndarray) -> np.ndarray:
    from core.infer.encoding import encode_pixels

    return encode_pixels(rgb, ENCODING)


def _decode(code: np.ndarray) -> np.ndarray:
    from core.infer.encoding import decode_pixels

    return decode_pixels(code, ENCODING)


def _structure(code: np.ndarray, angles: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel of an encoded ``HW3`` frame: the gradient's angle bin (``HW`` int) and strength (``HW`` float32)."""
    import cv2

    luma = np.ascontiguousarray(code.mean(axis=2, dtype=np.float32))
    gx = cv2.Sobel(luma, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT)
    gy = cv2.Sobel(luma, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT)

    def smooth(a):
        return cv2.GaussianBlur(a, (5, 5), 1.0, borderType=cv2.BORDER_REFLECT)

    xx, yy, xy = smooth(gx * gx), smooth(gy * gy), smooth(gx * gy)
    half = (xx + yy) / 2
    spread = np.sqrt(np.maximum(half * half - (xx * yy - xy * xy), 0.0))
    angle = np.nan_to_num(0.5 * np.arctan2(2 * xy, xx - yy))  # -pi/2 .. pi/2; 0 near a non-finite pixel
    bins = np.floor((angle + np.pi / 2) / np.pi * angles).astype(np.int64) % angles
    return bins, np.nan_to_num(np.sqrt(np.maximum(half + spread, 0.0))).astype(np.float32)


def _buckets(bins: np.ndarray, strength: np.ndarray, edges: np.ndarray, angles: int) -> np.ndarray:
    """Each pixel's bucket, ``strength_bin * angles + angle_bin`` (int64, the shape of ``bins``)."""
    return (np.digitize(strength, edges) * angles + bins).astype(np.int64)


def _apply_numpy(padded: np.ndarray, bucket: np.ndarray, weights: np.ndarray, radius: int,
                 out: np.ndarray) -> None:
    """``out[y, x, o] = bias + sum_j feature_j * weight_jo`` of each pixel's bucket, summed in float32 in
    feature order (:func:`_features`'s), in strips of rows: the order the numba kernel sums in."""
    side = 2 * radius + 1
    h, w = bucket.shape
    for top in range(0, h, STRIP_ROWS):
        bottom = min(h, top + STRIP_ROWS)
        wp = np.moveaxis(weights[bucket[top:bottom]], 2, 0)  # (features, rows, w, 3)
        acc = wp[-1].copy()
        j = 0
        for dy in range(side):
            for dx in range(side):
                for c in range(3):
                    acc += padded[top + dy:bottom + dy, dx:dx + w, c, None] * wp[j]
                    j += 1
        out[top:bottom] = acc


@functools.lru_cache(maxsize=1)
def _compiled():
    """:func:`_apply_numpy` compiled by numba (:mod:`core.infer._filterbank_numba`: same arguments, same sums),
    or ``None`` without numba."""
    try:
        from core.infer import _filterbank_numba
    except ImportError:
        return None
    return _filterbank_numba.kernel


def _padded(code: np.ndarray, radius: int) -> np.ndarray:
    return np.pad(code, ((radius, radius), (radius, radius), (0, 0)), mode="reflect")


def _features(padded: np.ndarray, radius: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The neighbourhoods of pixels (``rows``, ``cols``) of an encoded frame padded by ``radius``:
    ``(N, (2r+1)^2 * 3 + 1)`` float32, offsets row by row, each offset's three channels, the last column 1."""
    side = 2 * radius + 1
    parts = [padded[rows + dy, cols + dx, :] for dy in range(side) for dx in range(side)]
    return np.concatenate([*parts, np.ones((len(rows), 1), np.float32)], axis=1, dtype=np.float32)


@dataclass
class FilterBank:
    """Learned filters (module docstring): ``weights`` ``(buckets, features, 3)`` float64, bucket
    ``strength_bin * angles + angle_bin``; ``edges``: the strength bins' boundaries (``strengths - 1``)."""

    radius: int
    angles: int
    strengths: int
    edges: np.ndarray
    weights: np.ndarray | None
    lam: float = 1.0
    n_samples: int = 0
    n_frames: int = 0
    held_out_rms: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    success: bool = True
    reason: str = ""
    method: str = "filters"

    @property
    def n_features(self) -> int:
        return (2 * self.radius + 1) ** 2 * 3 + 1

    def apply(self, image: np.ndarray, *, kernel: str = "auto") -> np.ndarray:
        """The bank on an ACEScg ``(H, W, 3|4)`` image (float, any range); ``float32``, channels after RGB kept.

        The identity when the bank was not kept (``success`` False). ``kernel``: :data:`core.kernels.KERNELS`;
        the numpy and numba paths give the same bits (one float32 sum in one order)."""
        arr = np.asarray(image)
        if arr.ndim != 3 or arr.shape[-1] < 3:
            raise ImageError(f"filter bank: expected HWC pixels with 3 or more channels, got shape {arr.shape}")
        out = arr.astype(np.float32, copy=True)
        if not self.success or self.weights is None:
            return out
        h, w = arr.shape[:2]
        if min(h, w) <= self.radius:
            return out
        code = _encode(np.ascontiguousarray(arr[..., :3], dtype=np.float32))
        bucket = _buckets(*_structure(code, self.angles), self.edges, self.angles)
        filtered = np.empty((h, w, 3), np.float32)
        args = (_padded(code, self.radius), bucket, np.ascontiguousarray(self.weights, dtype=np.float32),
                self.radius, filtered)
        if choose(kernel, lambda: _compiled() is not None) == "numba":
            _compiled()(*args)
        else:
            _apply_numpy(*args)
        restored = _decode(filtered)
        keep = np.isfinite(restored).all(axis=2)
        out[..., :3] = np.where(keep[..., None], restored, out[..., :3])
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly: everything :meth:`load` needs, weights at 9 decimals."""
        return {"format": FORMAT.tag, "method": self.method, "encoding": ENCODING, "radius": self.radius,
                "angles": self.angles, "strengths": self.strengths, "lambda": self.lam,
                "edges": [round(float(e), 9) for e in self.edges], "n_samples": self.n_samples,
                "n_frames": self.n_frames, "held_out_rms": self.held_out_rms, "seed": self.seed,
                "success": self.success, "reason": self.reason,
                "weights": None if self.weights is None else np.round(self.weights, 9).tolist()}

    def _json(self) -> str:
        return json.dumps(self.to_dict()) + "\n"

    def save(self, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
        """Write :meth:`to_dict` as JSON, atomically."""
        from core.io.atomic import write_text_atomic

        return write_text_atomic(path, self._json(), overwrite=overwrite)

    def digest(self) -> str:
        """sha256 of what :meth:`save` writes: the bank's identity in a config hash."""
        return hashlib.sha256(self._json().encode("utf-8")).hexdigest()

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "filter bank") -> "FilterBank":
        """A bank from :meth:`to_dict`'s document; a foreign or newer format raises
        :class:`~core.errors.FormatError`, a malformed one :class:`~core.errors.ParameterError`, naming ``where``."""
        data = FORMAT.read(data, where=where)
        try:
            bank = cls(radius=int(data["radius"]), angles=int(data["angles"]), strengths=int(data["strengths"]),
                       edges=np.asarray(data["edges"], np.float64), lam=float(data["lambda"]),
                       weights=None if data["weights"] is None else np.asarray(data["weights"], np.float64),
                       n_samples=int(data["n_samples"]), n_frames=int(data["n_frames"]),
                       held_out_rms=dict(data.get("held_out_rms") or {}), seed=int(data["seed"]),
                       success=bool(data["success"]), reason=str(data.get("reason", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ParameterError(f"{where}: malformed filter bank ({exc})") from None
        nb = bank.angles * bank.strengths
        if bank.weights is not None and bank.weights.shape != (nb, bank.n_features, 3):
            raise ParameterError(f"{where}: weights of shape {bank.weights.shape}, expected "
                                 f"({nb}, {bank.n_features}, 3)")
        return bank

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FilterBank":
        """Read a bank written by :meth:`save`."""
        from core.io.jsonfile import read_json_object

        return cls.from_dict(read_json_object(path, "filter bank"), where=str(path))


def _check_options(radius: int, angles: int, strengths: int, lam: float, samples: int, outlier: float) -> None:
    for name, value, lo, hi in (("radius", radius, 0, 4), ("angles", angles, 1, 32), ("strengths", strengths, 1, 8),
                                ("samples", samples, 100, 10_000_000)):
        if not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
            raise ParameterError(f"filter bank {name} must be an integer {lo}..{hi}, got {value!r}")
    if not (math.isfinite(lam) and lam >= 0):
        raise ParameterError(f"filter bank lam must be >= 0, got {lam!r}")
    if not (math.isfinite(outlier) and outlier > 0):
        raise ParameterError(f"filter bank outlier must be > 0, got {outlier!r}")


def fit_filter_bank(pairs: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray | None]], *, radius: int = 2,
                    angles: int = 8, strengths: int = 3, lam: float = 1.0, samples: int = 60_000,
                    outlier: float = 0.05, seed: int = 0) -> FilterBank:
    """Fit a bank (module docstring) on ``(input, reference, mask)`` pairs: ACEScg ``HW3`` float32 frames of
    one size per pair (the input is what the bank will be applied to), ``mask`` ``HW`` (> 0.5: valid) or None.

    Deterministic for the same pairs, options and ``seed``. The strength bins' edges are quantiles of the
    first pair's gradient strengths (of its drawn pixels)."""
    _check_options(radius, angles, strengths, lam, samples, outlier)
    nf = (2 * radius + 1) ** 2 * 3 + 1
    nb = angles * strengths
    acc = {part: (np.zeros((nb, nf, nf)), np.zeros((nb, nf, 3))) for part in ("fit", "test")}
    test_rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    edges = None
    frames = drawn = 0
    for i, (src, ref, mask) in enumerate(pairs):
        src = np.ascontiguousarray(np.asarray(src, np.float32)[..., :3])
        ref = np.asarray(ref, np.float32)[..., :3]
        if src.shape != ref.shape or src.ndim != 3:
            raise ImageError(f"filter bank: pair {i}: input {src.shape} and reference {ref.shape} differ")
        h, w = src.shape[:2]
        if min(h, w) <= radius:
            continue
        code, target = _encode(src), _encode(ref)
        ok = np.isfinite(code).all(axis=2) & np.isfinite(target).all(axis=2)
        ok &= np.abs(code - target).max(axis=2) < outlier
        if mask is not None:
            ok &= np.asarray(mask)[:h, :w] > 0.5
        pool = np.flatnonzero(ok)
        if not len(pool):
            continue
        rng = np.random.default_rng([seed, i])
        pick = np.sort(rng.choice(pool, min(samples, len(pool)), replace=False))
        bins, strength = _structure(code, angles)
        if edges is None:
            edges = np.quantile(strength.ravel()[pick], np.linspace(0, 1, strengths + 1)[1:-1])
        r, c = np.divmod(pick, w)
        feats = _features(_padded(code, radius), radius, r, c).astype(np.float64)
        want = target.reshape(-1, 3)[pick].astype(np.float64)
        bucket = _buckets(bins.ravel()[pick], strength.ravel()[pick], edges, angles)
        held = rng.random(len(pick)) < HELD_OUT
        for part, sel in (("fit", ~held), ("test", held)):
            a, b = acc[part]
            for k in np.unique(bucket[sel]):
                s = sel & (bucket == k)
                a[k] += feats[s].T @ feats[s]
                b[k] += feats[s].T @ want[s]
        test_rows.append((feats[held].astype(np.float32), want[held], bucket[held]))
        frames += 1
        drawn += len(pick)
    bank = FilterBank(radius=radius, angles=angles, strengths=strengths,
                      edges=np.zeros(strengths - 1) if edges is None else edges, weights=None, lam=float(lam),
                      n_samples=drawn, n_frames=frames, seed=seed)
    if not drawn:
        bank.success, bank.reason = False, "no valid pixels to fit on"
        return bank
    a, b = acc["fit"]
    eye = np.eye(nf)
    shared = np.linalg.solve(a.sum(axis=0) + 1e-6 * eye, b.sum(axis=0))
    weights = np.stack([np.linalg.solve(a[k] + lam * eye, b[k] + lam * shared) for k in range(nb)])
    weights = np.round(weights, 9)  # as saved: what is measured here is what is applied
    centre = (radius * (2 * radius + 1) + radius) * 3
    before = after = 0.0
    n = 0
    for feats, want, bucket in test_rows:
        before += float(((feats[:, centre:centre + 3] - want) ** 2).sum())
        pred = np.einsum("nf,nfc->nc", feats.astype(np.float64), weights[bucket])
        after += float(((pred - want) ** 2).sum())
        n += want.size
    if not n:
        bank.success, bank.reason = False, "no held-out pixels to check the filters on"
        return bank
    bank.held_out_rms = {"input": round(math.sqrt(before / n), 8), "filtered": round(math.sqrt(after / n), 8)}
    if after >= before:
        bank.success = False
        bank.reason = (f"no gain on held-out pixels (rms {bank.held_out_rms['filtered']:.5g} against "
                       f"{bank.held_out_rms['input']:.5g} unfiltered): left as the identity")
        return bank
    bank.weights = weights
    return bank
