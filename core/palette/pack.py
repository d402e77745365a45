"""Pack: the ``reelkit.palette/1`` file format (palette + index map + metadata).

Layout (two files, written atomically)
    ``NAME.npz``  a zip of ``.npy`` arrays and one JSON member, in this order:
        ``metadata.json``        the header below (UTF-8, sorted keys)
        ``index.npy``            ``HW`` uint8 / uint16, masked = dtype max
        ``palette.npy``          ``(K, 3)`` float32, fit space (OKLab / Lab)
        ``palette_acescg.npy``   ``(K, 3)`` float32, ACEScg
        ``positions.npy``        ``(K,)`` float32, gradient positions 0..1
        ``counts.npy``           ``(K,)`` int64, pixels per entry
        ``distance.npy``         ``HW`` float16, ΔE units (only with ``distance=True``)
    ``NAME.json`` the same header plus ``data`` (the npz file name),
        ``data_sha256`` and ``bytes`` (sizes), for tools that read no numpy.

Header: ``format`` (``"reelkit.palette/1"``), ``width``, ``height``, ``k``,
``space``, ``index_dtype``, ``masked_value``, ``error`` (ΔE of the pixels to
their decoded colour, from the distance map: ``space_units`` ``"ΔE OK x 100"``
or ``"ΔE76"``, ``mean``, ``p95``, ``max``), ``fit`` (the
:class:`~core.palette.PaletteFit` summary: parameters, seed, convergence) and
``tool``/``version``.

Lossless where it matters: the index map, the palette and the positions are
stored bit for bit; :func:`unpack` returns them exactly, and every decoded
pixel is within ``error["max"]`` of its source (in the fit space).

Deterministic: the zip is written by hand with fixed member order, fixed
timestamps (1980-01-01 00:00:00), fixed permissions and ``create_system``,
and deflate level 6, so packing the same encoding twice gives the same bytes
(``numpy.savez_compressed`` stamps the current time). Bytes can differ
between zlib builds, never between runs.

Versioned (:data:`FORMAT`, :mod:`core.formats`): an older payload
(``{"metadata": dict, "arrays": dict}``) is brought to the current version
by the format's upgraders; a newer or unknown version is refused with
:class:`~core.errors.FormatError` naming it.

One-file alternative: :func:`pack_exr` / :func:`unpack_exr` write an OpenEXR
with the reconstruction as RGB, the index (exact: half holds integers up to
2048, float is used for uint16 maps) and gradient as layers, and the header
as the ``reelkit/palette`` string attribute.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ImageReadError, ParameterError
from core.formats import FORMATS
from core.io.atomic import write_bytes_atomic, write_text_atomic
from core.palette.encode import PaletteEncoding, decode, gradient_map, masked_value

#: The pack's format, ``reelkit.palette/1`` (``metadata.format``; the sidecar's ``format``).
FORMAT = FORMATS["reelkit.palette"]
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_ARRAYS = ("index", "palette", "palette_acescg", "positions", "counts", "distance")
EXR_ATTRIBUTE = "reelkit/palette"
#: Where a payload keeps its format tag.
_TAG_AT = ("metadata", "format")


@dataclasses.dataclass(frozen=True)
class PackInfo:
    """What :func:`pack` wrote: paths, byte sizes and the ratio to the source frame."""

    data_path: Path
    sidecar_path: Path
    data_bytes: int
    sidecar_bytes: int
    source_bytes: int | None
    raw_half_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.data_bytes + self.sidecar_bytes

    @property
    def ratio_to_source(self) -> float | None:
        """Packed size / source size (``None`` when no source was given)."""
        return None if not self.source_bytes else self.total_bytes / self.source_bytes

    @property
    def ratio_to_raw_half(self) -> float:
        """Packed size / an uncompressed half-float RGB frame of the same size."""
        return self.total_bytes / self.raw_half_bytes


@dataclasses.dataclass(frozen=True, eq=False)
class PalettePack:
    """An unpacked ``reelkit.palette`` file: exact arrays and the header."""

    index: np.ndarray
    palette: np.ndarray
    palette_acescg: np.ndarray
    positions: np.ndarray
    counts: np.ndarray
    metadata: Mapping[str, Any]
    distance: np.ndarray | None = None

    @property
    def k(self) -> int:
        return int(self.palette.shape[0])

    @property
    def space(self) -> str:
        return str(self.metadata["space"])

    @property
    def shares(self) -> np.ndarray:
        total = self.counts.sum()
        return self.counts / total if total else self.counts.astype(np.float64)

    def decode(self) -> np.ndarray:
        """``HW3`` float32 ACEScg reconstruction (masked pixels 0)."""
        return decode(self.index, self.palette_acescg)

    def gradient(self) -> np.ndarray:
        """``HW`` float32 gradient map (masked pixels 0)."""
        return gradient_map(self.index, self.positions)


# -- writing ---------------------------------------------------------------------------------------


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(arr), version=(1, 0), allow_pickle=False)
    return buf.getvalue()


def _zip_bytes(members: list[tuple[str, bytes]]) -> bytes:
    """A zip with fixed timestamps/attributes (deterministic bytes for the same input)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, data, compresslevel=6)
    return buf.getvalue()


def _json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _error_stats(encoding: PaletteEncoding) -> dict[str, Any]:
    space = encoding.fit.space
    units = "ΔE OK x 100" if space == "oklab" else "ΔE76"
    if encoding.distance is None:
        return {"space_units": units, "mean": None, "p95": None, "max": None}
    d = encoding.distance if encoding.mask is None else encoding.distance[encoding.mask]
    d = d.astype(np.float64)
    return {"space_units": units, "mean": float(d.mean()), "p95": float(np.percentile(d, 95)), "max": float(d.max())}


def header(encoding: PaletteEncoding) -> dict[str, Any]:
    """The ``metadata.json`` header of an encoding (JSON-ready, deterministic)."""
    from core import __version__

    fit = encoding.fit
    summary = fit.to_dict()
    for key in ("palette", "palette_acescg", "positions"):
        summary.pop(key)
    return {
        "format": FORMAT.tag,
        "width": int(encoding.index.shape[1]),
        "height": int(encoding.index.shape[0]),
        "k": fit.k,
        "space": fit.space,
        "index_dtype": str(encoding.index.dtype),
        "masked_value": masked_value(encoding.index.dtype),
        "masked_pixels": int(np.count_nonzero(~encoding.mask)) if encoding.mask is not None else 0,
        "error": _error_stats(encoding),
        "fit": summary,
        "tool": "reelkit",
        "version": __version__,
    }


def _sidecar_path(data_path: Path) -> Path:
    return data_path.with_suffix(".json")


def pack(path: str | os.PathLike, encoding: PaletteEncoding, *, distance: bool = False,
         source: str | os.PathLike | int | None = None, overwrite: bool = False) -> PackInfo:
    """Write ``encoding`` as ``path`` (``.npz``) and its sidecar (``.json``), atomically.

    ``distance``: also store the distance map (float16). ``source``: the
    source frame's file (or its size in bytes) to report the size ratio.
    Raises :class:`~core.errors.OutputExistsError` if either file exists and
    not ``overwrite``.
    """
    data_path = Path(path)
    if data_path.suffix.lower() != ".npz":
        raise ParameterError(f"{data_path}: a palette pack is written as .npz (with a .json sidecar)")
    if distance and encoding.distance is None:
        raise ParameterError("pack: distance=True but the encoding was made with distance=False")
    side = _sidecar_path(data_path)
    if not overwrite:
        from core.errors import OutputExistsError

        for p in (data_path, side):
            if p.exists():
                raise OutputExistsError(f"{p}: already exists (use --force / overwrite=True to replace it)")
    fit = encoding.fit
    head = header(encoding)
    arrays = {
        "index": encoding.index,
        "palette": fit.palette.astype(np.float32),
        "palette_acescg": fit.palette_acescg.astype(np.float32),
        "positions": fit.positions.astype(np.float32),
        "counts": encoding.counts.astype(np.int64),
    }
    if distance:
        arrays["distance"] = encoding.distance.astype(np.float16)
    members = [("metadata.json", _json(head).encode("utf-8"))]
    members += [(f"{name}.npy", _npy_bytes(arrays[name])) for name in _ARRAYS if name in arrays]
    blob = _zip_bytes(members)
    h, w = encoding.index.shape
    if isinstance(source, (str, os.PathLike)):
        source_bytes = os.path.getsize(source)
    elif source is None:
        source_bytes = None
    else:
        source_bytes = int(source)
    sidecar = dict(head)
    sidecar["data"] = data_path.name
    sidecar["data_sha256"] = hashlib.sha256(blob).hexdigest()
    sidecar["bytes"] = {"data": len(blob), "source": source_bytes, "raw_half_rgb": h * w * 3 * 2}
    text = _json(sidecar)
    write_bytes_atomic(data_path, blob, overwrite=overwrite)
    write_text_atomic(side, text, overwrite=overwrite)
    return PackInfo(data_path=data_path, sidecar_path=side, data_bytes=len(blob),
                    sidecar_bytes=len(text.encode("utf-8")), source_bytes=source_bytes,
                    raw_half_bytes=h * w * 3 * 2)


# -- reading -------------------------------------------------------------------------------------


def _check_payload(payload: dict[str, Any], where: str) -> PalettePack:
    meta = payload["metadata"]
    arr = payload["arrays"]
    missing = [n for n in _ARRAYS[:-1] if n not in arr]
    if missing:
        raise ImageReadError(f"{where}: missing array(s) {', '.join(missing)}")
    index = arr["index"]
    k = int(meta.get("k", -1))
    if index.ndim != 2 or index.dtype not in (np.uint8, np.uint16) or str(index.dtype) != meta.get("index_dtype"):
        raise ImageReadError(f"{where}: index is {index.dtype} {index.shape}, header says {meta.get('index_dtype')}")
    if index.shape != (meta.get("height"), meta.get("width")):
        raise ImageReadError(f"{where}: index is {index.shape[1]}x{index.shape[0]}, header says "
                             f"{meta.get('width')}x{meta.get('height')}")
    for name, shape in (("palette", (k, 3)), ("palette_acescg", (k, 3)), ("positions", (k,)), ("counts", (k,))):
        if arr[name].shape != shape:
            raise ImageReadError(f"{where}: {name} has shape {arr[name].shape}, expected {shape} for k={k}")
    sentinel = masked_value(index.dtype)
    if ((index >= k) & (index != sentinel)).any():
        raise ImageReadError(f"{where}: index map holds values >= k={k}")
    return PalettePack(index=index, palette=arr["palette"], palette_acescg=arr["palette_acescg"],
                       positions=arr["positions"], counts=arr["counts"], metadata=meta,
                       distance=arr.get("distance"))


def unpack(path: str | os.PathLike, *, upgraders: Mapping[int, Callable] | None = None) -> PalettePack:
    """Read a pack (the ``.npz``, or its ``.json`` sidecar) into a :class:`PalettePack`.

    With the sidecar, the data file's sha256 is checked against it. Older
    versions are upgraded (:data:`FORMAT`'s upgraders, or ``upgraders``);
    foreign and newer files raise :class:`~core.errors.FormatError`, corrupt
    or inconsistent ones :class:`~core.errors.ImageReadError`, naming the file.
    """
    p = Path(path)
    expected_sha = None
    if p.suffix.lower() == ".json":
        try:
            side = json.loads(p.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ImageReadError(f"{p}: cannot read the palette sidecar ({exc})") from None
        FORMAT.version_of(side.get("format"), where=str(p))
        expected_sha = side.get("data_sha256")
        p = p.with_name(str(side.get("data", p.with_suffix(".npz").name)))
    try:
        blob = p.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"{p}: cannot read the palette pack ({exc.strerror or exc})") from None
    if expected_sha is not None and hashlib.sha256(blob).hexdigest() != expected_sha:
        raise ImageReadError(f"{p}: sha256 does not match its sidecar (the file was changed or truncated)")
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            names = zf.namelist()
            if "metadata.json" not in names:
                raise ImageReadError(f"{p}: not a reelkit palette pack (no metadata.json)")
            meta = json.loads(zf.read("metadata.json").decode("utf-8"))
            arrays = {}
            for name in names:
                if name.endswith(".npy"):
                    arrays[name[:-4]] = np.lib.format.read_array(io.BytesIO(zf.read(name)), allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, KeyError, EOFError) as exc:
        raise ImageReadError(f"{p}: corrupt palette pack ({exc})") from None
    payload = FORMAT.read({"metadata": meta, "arrays": arrays}, where=str(p), key=_TAG_AT, upgraders=upgraders)
    return _check_payload(payload, str(p))


# -- one EXR ---------------------------------------------------------------------------------------


def pack_exr(path: str | os.PathLike, encoding: PaletteEncoding, *, overwrite: bool = False) -> Path:
    """Write one OpenEXR: RGB = reconstruction (ACEScg), layers ``palette_index`` / ``palette_gradient``
    (and ``palette_distance`` when the encoding has distances, in ΔE units).

    The index is stored exactly (half for uint8 maps, float for uint16);
    the header goes into the ``reelkit/palette`` string attribute, with the
    palette itself, so :func:`unpack_exr` needs nothing else.
    """
    from core.frame import Frame
    from core.io import write_image

    fit = encoding.fit
    head = header(encoding)
    head["palette"] = fit.palette.astype(np.float64).tolist()
    head["palette_acescg"] = fit.palette_acescg.astype(np.float64).tolist()
    head["positions"] = fit.positions.astype(np.float64).tolist()
    head["counts"] = encoding.counts.astype(np.int64).tolist()
    layers = {"palette_index": encoding.index.astype(np.float32)[..., None],
              "palette_gradient": encoding.gradient()[..., None]}
    if encoding.distance is not None:
        layers["palette_distance"] = encoding.distance[..., None]
    frame = Frame(encoding.reconstruction(), "ACEScg", layers=layers)
    pixel_type = "half" if encoding.index.dtype == np.uint8 else "float"
    return write_image(path, frame, pixel_type=pixel_type, compression="zip",
                       attributes={EXR_ATTRIBUTE: json.dumps(head, sort_keys=True, allow_nan=False)},
                       overwrite=overwrite)


def unpack_exr(path: str | os.PathLike, *, upgraders: Mapping[int, Callable] | None = None) -> PalettePack:
    """Read an EXR written by :func:`pack_exr` back into a :class:`PalettePack` (exact index)."""
    from core.io import read_image

    frame = read_image(path)
    attrs = frame.metadata.get("attributes", {})
    raw = attrs.get(EXR_ATTRIBUTE)
    if raw is None:
        raise ImageReadError(f"{path}: no {EXR_ATTRIBUTE} attribute: not a palette EXR")
    try:
        meta = json.loads(raw)
    except ValueError as exc:
        raise ImageReadError(f"{path}: {EXR_ATTRIBUTE} is not valid JSON ({exc})") from None
    if "palette_index" not in frame.layers:
        raise ImageReadError(f"{path}: no palette_index layer")
    dt = np.dtype(str(meta.get("index_dtype", "uint8")))
    values = frame.layers["palette_index"][..., 0]
    index = np.rint(values).astype(np.int64)
    if not np.array_equal(index, values) or index.min() < 0 or index.max() > masked_value(dt):
        raise ImageReadError(f"{path}: palette_index holds values that are not {dt} integers")
    arrays = {
        "index": index.astype(dt),
        "palette": np.asarray(meta.pop("palette"), np.float32),
        "palette_acescg": np.asarray(meta.pop("palette_acescg"), np.float32),
        "positions": np.asarray(meta.pop("positions"), np.float32),
        "counts": np.asarray(meta.pop("counts"), np.int64),
    }
    payload = FORMAT.read({"metadata": meta, "arrays": arrays}, where=str(path), key=_TAG_AT, upgraders=upgraders)
    return _check_payload(payload, str(path))


def fit_from_pack(pack_: PalettePack):
    """A :class:`~core.palette.PaletteFit` rebuilt from a pack, to encode more frames with the same palette."""
    from core.palette.operator import PaletteFit

    f = dict(pack_.metadata.get("fit", {}))
    counts = np.asarray(f.get("counts", pack_.counts), np.int64)
    total = counts.sum()
    return PaletteFit(
        palette=pack_.palette.astype(np.float32), palette_acescg=pack_.palette_acescg.astype(np.float32),
        positions=pack_.positions.astype(np.float32), counts=counts,
        shares=counts / total if total else counts.astype(np.float64),
        inertia=float(f.get("inertia", float("nan"))), mean_distance=float(f.get("mean_distance", float("nan"))),
        n_iter=int(f.get("n_iter", 0)), converged=bool(f.get("converged", True)),
        message=str(f.get("message", "from a palette pack")), space=pack_.space, seed=int(f.get("seed", 0)),
        params=dict(f.get("params", {})), n_samples=int(f.get("n_samples", 0)),
        n_distinct=int(f.get("n_distinct", 0)), n_frames=int(f.get("n_frames", 1)),
    )

