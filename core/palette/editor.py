"""The palette editor's state: a palette, its index map, and the artist's edits and locks (no Qt).

The palette panel (:mod:`nuke_plugin.panels.palette_panel`) draws it; scripts and tests use it as it is.

A :class:`PaletteModel` holds one palette at a time, loaded from

- an image (fitted here with :func:`core.palette.fit_palette` and encoded,
  so it can be refitted),
- a palette pack (``.npz`` / its ``.json`` sidecar, :func:`core.palette.unpack`), or
- a palette EXR (:func:`core.palette.unpack_exr`), as ``SpectrumEncode`` writes.

Per entry it keeps the current colour (ACEScg), the colour it was loaded
or fitted with, whether the artist locked it, its pixel share and its
gradient position. The rules:

- **Edit** sets an entry's colour (ACEScg, or OKLab converted to ACEScg)
  and locks it, so a refit keeps the edit. The index map is kept: saving
  recolours every pixel of that entry.
- **Lock** marks an entry to keep on refit: :meth:`refit` passes the locked
  colours as ``fixed`` to :func:`core.palette.fit_palette`, which keeps
  them bit for bit and fits the others around them.
- **Hue coverage** (:meth:`PaletteModel.coverage`): whether every OKLab
  hue family holding the refit's ``hue_coverage`` share (1% when that is
  0) of the source image's chroma has an entry, with the families found
  and missed (:mod:`core.palette.hues`). **Pin** (:meth:`PaletteModel.pin_family`)
  gives a missed family an entry in one step: the family's mean colour in
  the image (:func:`core.palette.controller.family_colour`) is locked
  and the image refitted around it, so this refit and every later one
  keep it. Both need the source pixels (an image, not a pack).
- **Save** writes the edited palette with the index map as a pack
  (``.npz`` + ``.json``) or a palette EXR (``.exr``), atomically (core's
  writers); locked entries are recorded in the header (``fit.fixed``) and
  come back locked when the file is opened again.

Entries keep their order and gradient positions when edited; a refit
orders them along a new hue path. Widgets observe the model through
:meth:`PaletteModel.subscribe`: ``callback(event, index)`` with ``event``
``"reset"`` (a new palette), ``"entry"`` (one entry changed: ``index``),
``"selection"``, ``"params"`` or ``"saved"``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ImageReadError, ParameterError

Listener = Callable[[str, "int | None"], None]

#: Refit parameters the panel shows (the rest of ENCODE_PARAMS keep the loaded fit's values).
REFIT_PARAMS = ("k", "space", "seed", "weight", "hue_coverage")
PACK_SUFFIXES = (".npz", ".json")
SPACE_NAMES = {"oklab": "OKLab", "lab": "CIELab"}


@dataclasses.dataclass(frozen=True)
class Entry:
    """One palette entry as the panel shows it.

    ``acescg`` / ``original``: ``(3,)`` float32 scene-linear ACEScg, now and
    as loaded or fitted; ``srgb``: ``(3,)`` uint8 display colour
    (:func:`core.color.acescg_to_srgb_preview`, clipped); ``oklab``: ``(3,)``
    float32; ``share``: fraction of encoded pixels (0..1); ``position``:
    gradient position 0..1.
    """

    index: int
    acescg: np.ndarray
    original: np.ndarray
    srgb: np.ndarray
    oklab: np.ndarray
    share: float
    position: float
    locked: bool

    @property
    def edited(self) -> bool:
        return not np.array_equal(self.acescg, self.original)

    @property
    def hex(self) -> str:
        return "#" + "".join(f"{int(v):02X}" for v in self.srgb)


class PaletteModel:
    """One palette with its edits, locks and selection; see the module docstring for the rules."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._clear()

    # -- observers ----------------------------------------------------------------------------

    def subscribe(self, callback: Listener) -> None:
        self._listeners.append(callback)

    def _emit(self, event: str, index: int | None = None) -> None:
        for callback in list(self._listeners):
            callback(event, index)

    # -- state -------------------------------------------------------------------------------------

    def _clear(self) -> None:
        self.fit = None
        self.index: np.ndarray | None = None
        self.counts: np.ndarray | None = None
        self.image: np.ndarray | None = None
        self.source = ""
        self.kind = ""
        self.colours = np.zeros((0, 3), np.float32)
        self.original = np.zeros((0, 3), np.float32)
        self.locked = np.zeros(0, bool)
        self.selected: int | None = None
        self.params: dict[str, Any] = self._default_params()
        self._hue_shares: tuple[int, np.ndarray] | None = None  # (id of the image, its family shares)

    @staticmethod
    def _default_params() -> dict[str, Any]:
        from core.palette import ENCODE_PARAMS

        return ENCODE_PARAMS.defaults()

    @property
    def k(self) -> int:
        return len(self.colours)

    @property
    def empty(self) -> bool:
        return self.fit is None

    @property
    def can_refit(self) -> bool:
        """A refit needs the source pixels: a palette fitted here from an image has them, a pack does not."""
        return self.image is not None

    @property
    def shares(self) -> np.ndarray:
        counts = self.counts if self.counts is not None else np.zeros(self.k)
        total = counts.sum()
        return counts / total if total else np.zeros(self.k)

    def entry(self, i: int) -> Entry:
        from core.color import acescg_to_oklab, acescg_to_srgb_preview

        i = self._check(i)
        colour = self.colours[i].copy()
        return Entry(index=i, acescg=colour, original=self.original[i].copy(),
                     srgb=acescg_to_srgb_preview(colour[None, :])[0], oklab=acescg_to_oklab(colour[None, :])[0],
                     share=float(self.shares[i]), position=float(self.fit.positions[i]), locked=bool(self.locked[i]))

    def entries(self) -> list[Entry]:
        return [self.entry(i) for i in range(self.k)]

    def display_colours(self) -> np.ndarray:
        """``(K, 3)`` uint8 sRGB display colours of the current palette."""
        from core.color import acescg_to_srgb_preview

        return acescg_to_srgb_preview(self.colours) if self.k else np.zeros((0, 3), np.uint8)

    def summary(self) -> str:
        """One line: size, fit space, fit quality, edits and locks."""
        if self.empty:
            return "no palette"
        fit = self.fit
        bits = [f"{self.k} colours", SPACE_NAMES.get(fit.space, fit.space)]
        if np.isfinite(fit.mean_distance):
            bits.append(f"mean ΔE {fit.mean_distance:.2f}")
        if not fit.converged:
            bits.append("not converged")
        edited = int(sum(not np.array_equal(a, b) for a, b in zip(self.colours, self.original)))
        if edited:
            bits.append(f"{edited} edited")
        if self.locked.any():
            bits.append(f"{int(self.locked.sum())} locked")
        return " · ".join(bits)

    def _check(self, i: Any) -> int:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= int(i) < self.k:
            raise ParameterError(f"palette entry {i!r}: expected 0..{self.k - 1}")
        return int(i)

    # -- loading ----------------------------------------------------------------------------------

    def load_fit(self, fit, *, index: np.ndarray | None = None, counts: np.ndarray | None = None,
                 image: np.ndarray | None = None, source: str = "", kind: str = "fit",
                 locked: np.ndarray | None = None) -> None:
        """Show ``fit`` (a :class:`~core.palette.PaletteFit`); ``index``/``counts`` from its encoding.

        ``image``: the ACEScg pixels it was fitted to (enables :meth:`refit`).
        ``locked``: ``(K,)`` bool (default: the fit's fixed entries).
        """
        self.fit = fit
        self.index = index
        self.counts = np.asarray(counts if counts is not None else fit.counts, np.int64)
        self.image = image
        self.source = source
        self.kind = kind
        self.colours = np.array(fit.palette_acescg, np.float32)
        self.original = self.colours.copy()
        if locked is None:
            locked = fit.fixed if fit.fixed is not None else np.zeros(fit.k, bool)
        self.locked = np.array(locked, bool)
        self.selected = None
        params = self._default_params()
        params.update({key: fit.params[key] for key in params if key in fit.params})
        self.params = params
        self._emit("reset")

    def fit_image(self, image: Any, *, source: str = "", params: Mapping[str, Any] | None = None) -> None:
        """Fit and encode ``image`` (ACEScg array, a :class:`~core.frame.Frame` in any space, or a path)."""
        from core.palette import ENCODE_PARAMS, encode, fit_palette
        from core.palette.controller import check_image
        from core.palette.params import fit_kwargs

        if isinstance(image, (str, os.PathLike)):
            from core.io import read_image

            source = source or os.fspath(image)
            image = read_image(image)
        pixels, label = check_image(image)
        values = ENCODE_PARAMS.resolve({**self.params, **(params or {})})
        fit = fit_palette(pixels, **fit_kwargs(values))
        enc = encode(pixels, fit, distance=False, index_dtype=values["index_dtype"])
        self.load_fit(fit, index=enc.index, counts=enc.counts, image=pixels, source=source or label, kind="image")

    def load_pack(self, path: str | os.PathLike) -> None:
        """Open a pack (``.npz``/``.json``) or a palette EXR; locks come from the header's ``fit.fixed``."""
        from core.palette import fit_from_pack, unpack, unpack_exr

        p = Path(path)
        loaded = unpack_exr(p) if p.suffix.lower() == ".exr" else unpack(p)
        fit = fit_from_pack(loaded)
        locked = np.zeros(fit.k, bool)
        for i in loaded.metadata.get("fit", {}).get("fixed", []):
            if 0 <= int(i) < fit.k:
                locked[int(i)] = True
        self.load_fit(fit, index=loaded.index, counts=loaded.counts, source=os.fspath(p), kind="pack",
                      locked=locked)

    def open(self, path: str | os.PathLike) -> None:
        """Open anything the panel reads: a pack, a palette EXR, or an image to fit (any EXR without a palette)."""
        from core.io import EXTENSIONS

        suffix = Path(path).suffix.lower()
        if suffix in PACK_SUFFIXES:
            self.load_pack(path)
        elif suffix == ".exr":
            try:
                self.load_pack(path)
            except ImageReadError as exc:
                if "not a palette EXR" not in str(exc):
                    raise
                self.fit_image(path)
        elif suffix in EXTENSIONS:
            self.fit_image(path)
        else:
            raise ParameterError(f"{path}: not a palette pack (.npz/.json), palette EXR or image "
                                 f"({', '.join(sorted(EXTENSIONS))})")

    # -- selection, locks, edits --------------------------------------------------------------------

    def select(self, i: int | None) -> None:
        i = None if i is None else self._check(i)
        if i != self.selected:
            self.selected = i
            self._emit("selection", i)

    def set_locked(self, i: int, locked: bool = True) -> None:
        i = self._check(i)
        if bool(self.locked[i]) != bool(locked):
            self.locked[i] = bool(locked)
            self._emit("entry", i)

    def set_colour(self, i: int, acescg: Any) -> None:
        """Set entry ``i`` to ``acescg`` (3 finite scene-linear values) and lock it."""
        i = self._check(i)
        colour = np.asarray(acescg, np.float32).reshape(-1)
        if colour.shape != (3,) or not np.isfinite(colour).all():
            raise ParameterError(f"palette entry {i}: expected 3 finite ACEScg values, got {acescg!r}")
        others = np.delete(self.colours, i, axis=0)
        if any(np.array_equal(colour, c) for c in others):
            raise ParameterError(f"palette entry {i}: another entry already has this colour")
        self.colours[i] = colour
        self.locked[i] = True
        self._emit("entry", i)

    def set_oklab(self, i: int, lab: Any) -> None:
        """Set entry ``i`` from OKLab ``(L, a, b)`` (L 0..1), converted to ACEScg."""
        from core.color import oklab_to_acescg

        lab = np.asarray(lab, np.float32).reshape(1, 3)
        self.set_colour(i, oklab_to_acescg(lab)[0])

    def set_srgb(self, i: int, srgb8: Any) -> None:
        """Set entry ``i`` from an 8-bit sRGB display colour (a colour picker's; display-referred, <= 1.0)."""
        from core.color import convert

        rgb = np.asarray(srgb8, np.float32).reshape(1, 3) / np.float32(255.0)
        self.set_colour(i, convert(rgb, "srgb", "ACEScg")[0])

    def reset(self, i: int) -> None:
        """Entry ``i`` back to its loaded/fitted colour (it stays locked if it was)."""
        i = self._check(i)
        if not np.array_equal(self.colours[i], self.original[i]):
            self.colours[i] = self.original[i]
            self._emit("entry", i)

    # -- hue coverage --------------------------------------------------------------------------------

    def coverage(self):
        """:class:`~core.palette.HueCoverage` of the current colours on the source image, or ``None`` (a pack).

        Families are required at the ``hue_coverage`` parameter's share, or
        at :data:`core.palette.hues.CHECK_SHARE` (1%) when it is 0. The
        image's family shares are measured once per image.
        """
        from core.palette import acescg_to_fit, hues

        if self.image is None or self.empty:
            return None
        if self._hue_shares is None or self._hue_shares[0] != id(self.image):
            from core.palette.controller import image_hue_shares

            self._hue_shares = (id(self.image), image_hue_shares(self.image, **self._alpha()))
        share = self.params.get("hue_coverage") or hues.CHECK_SHARE
        return hues.coverage(self._hue_shares[1], acescg_to_fit(self.colours, "oklab"), share,
                             enforced=bool(self.params.get("hue_coverage")))

    def _alpha(self) -> dict[str, Any]:
        return {"alpha_threshold": self.params["alpha_threshold"], "premultiplied": self.params["premultiplied"]}

    def pin_family(self, family: str) -> None:
        """Give hue ``family`` (a name of :data:`core.palette.hues.FAMILIES`) a locked entry and refit around it.

        The entry is the family's mean colour in the source image (OKLab,
        weighted by the refit's ``weight``; :func:`core.palette.controller.family_colour`);
        the refit keeps it with the other locked entries, and so does every
        later refit. Refused (:class:`~core.errors.ParameterError`): no
        source image, an unknown family or one with no pixels, every entry
        already locked, or that colour already an entry.
        """
        from core.palette.controller import family_colour

        if self.image is None:
            raise ParameterError("pinning a hue family needs the source image: open or fit an image "
                                 "(a pack holds no pixels)")
        if int(self.locked.sum()) >= self.params["k"]:
            raise ParameterError(f"pin: all {self.params['k']} entries are locked; unlock one or raise K")
        colour = family_colour(self.image, family, weight=self.params["weight"], **self._alpha())
        self.refit(extra=colour)

    # -- refit -------------------------------------------------------------------------------------

    def set_param(self, name: str, value: Any) -> None:
        """Set a refit parameter (validated by :data:`core.palette.ENCODE_PARAMS`)."""
        from core.palette import ENCODE_PARAMS

        if name not in ENCODE_PARAMS:
            raise ParameterError(f"unknown palette parameter {name!r}")
        value = ENCODE_PARAMS[name].coerce(value)
        if self.params.get(name) != value:
            self.params[name] = value
            self._emit("params", None)

    def refit(self, *, extra: np.ndarray | None = None) -> None:
        """Fit the source image again with :attr:`params`, keeping the locked entries' colours.

        ``extra``: one more ACEScg colour ``(3,)`` to keep (and lock), as :meth:`pin_family` does.
        """
        from core.palette import encode, fit_palette
        from core.palette.params import fit_kwargs

        if self.image is None:
            raise ParameterError("refit needs the source image: open or fit an image (a pack holds no pixels)")
        keep = self.colours[self.locked]
        if extra is not None:
            extra = np.asarray(extra, np.float32).reshape(1, 3)
            if any(np.array_equal(extra[0], c) for c in keep):
                raise ParameterError("pin: that colour is already a locked entry")
            keep = np.concatenate([keep, extra], axis=0)
        previous = None if self.selected is None or not self.locked[self.selected] else self.colours[self.selected]
        fit = fit_palette(self.image, **fit_kwargs(self.params), fixed=keep if len(keep) else None)
        enc = encode(self.image, fit, distance=False, index_dtype=self.params["index_dtype"])
        self.load_fit(fit, index=enc.index, counts=enc.counts, image=self.image, source=self.source, kind=self.kind)
        if previous is not None:
            match = [i for i in range(self.k) if np.array_equal(self.colours[i], previous)]
            self.select(match[0] if match else None)

    # -- saving ---------------------------------------------------------------------------------

    def edited_fit(self):
        """The loaded fit with the current colours (fit space recomputed) and the locks as ``fixed``."""
        from core.palette import acescg_to_fit

        if self.empty:
            raise ParameterError("no palette to save")
        fit = self.fit
        params = {k: v for k, v in fit.params.items() if k != "fixed"}
        if self.locked.any():
            params["fixed"] = self.colours[self.locked].astype(np.float64).tolist()
        return dataclasses.replace(
            fit, palette=acescg_to_fit(self.colours, fit.space).astype(np.float32),
            palette_acescg=self.colours.copy(), fixed=self.locked.copy() if self.locked.any() else None,
            params=params)

    def encoding(self):
        """A :class:`~core.palette.PaletteEncoding` of the loaded index map with the edited palette."""
        from core.palette import PaletteEncoding
        from core.palette.encode import masked_value

        if self.index is None:
            raise ParameterError("no index map to save with the palette")
        mask = self.index != masked_value(self.index.dtype)
        return PaletteEncoding(index=self.index, distance=None, mask=None if mask.all() else mask,
                               counts=np.asarray(self.counts, np.int64), fit=self.edited_fit())

    def save(self, path: str | os.PathLike) -> Path:
        """Write the edited palette: ``.npz`` pack (+ ``.json`` sidecar) or palette ``.exr``; replaces files."""
        from core.palette import pack, pack_exr

        p = Path(path)
        suffix = p.suffix.lower()
        if suffix == ".npz":
            pack(p, self.encoding(), source=None, overwrite=True)
        elif suffix == ".exr":
            pack_exr(p, self.encoding(), overwrite=True)
        else:
            raise ParameterError(f"{p}: save a palette as .npz (pack) or .exr (palette EXR)")
        self.source, self.kind = os.fspath(p), "pack"
        self._emit("saved", None)
        return p
