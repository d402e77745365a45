"""The damage model: effects in film order, parameters, presets, per-frame and sequence calls.

Effects run in the order damage happens to film (:data:`EFFECTS`): the
gauge's optics, the camera negative's grain, duplication generations, dye
fade of the print, dust and dirt, scratches, flicker, gate weave (film-borne
damage moves with the picture in the gate), and finally the digital and
tape defects of a video transfer, on a few frames. Each is off until its
amount (or rate) parameter is set; a preset sets a coherent look.

Frames are ``float32`` ``HWC`` scene-linear ACEScg with C = 3 (RGB) or 4
(RGBA); alpha passes through untouched. Inputs are expected >= 0: negative
values (outside anything film records) become 0 once any effect runs.
Outputs are ``float32``, same shape, finite, >= 0.

Determinism: a frame's result is a pure function of (pixels, frame number,
parameters, seed). Every effect draws from its own stream derived from
(seed, effect, frame) (:mod:`core.degrade._rng`); persistent damage (weave,
scratches, flicker) is a function of the frame number through seeded smooth
noise, never of earlier frames; so is whether a frame has a digital defect.
Results are bit-identical for the same inputs on the same numpy/OpenCV
build (SIMD paths may differ in the last bits between CPUs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from types import ModuleType
from typing import Any

import numpy as np

from core.degrade import digital, dust, fade, flicker, gauge, generation, grain, scratches, weave
from core.degrade.presets import PRESETS, PresetParam, preset_values
from core.errors import ColorSpaceError, ImageError, ParameterError
from core.formats import FORMATS
from core.frame import Frame, as_hwc_float32, check_finite
from core.params import Param, ParamSet

#: Format tag of :attr:`DegradeResult.record`.
RECORD_FORMAT = FORMATS["reelkit.degrade"].tag
#: Colour space the model works in; frames in any other space must be converted first.
WORKING_COLORSPACE = "ACEScg"

#: Effect name -> module (``PARAMS``, ``enabled(params)``, ``apply(rgb, params, seed=, frame=)``),
#: in the order they are applied.
EFFECTS: dict[str, ModuleType] = {m.NAME: m for m in (gauge, grain, generation, fade, dust, scratches, flicker, weave,
                                                      digital)}

#: Every effect parameter: one spec for CLI options, config keys, Nuke knobs and Qt widgets.
DEGRADE_PARAMS = ParamSet("degrade", [p for m in EFFECTS.values() for p in m.PARAMS])

#: The preset choice and the seed (run options, kept apart from the effect parameters).
PRESET_PARAM = PresetParam("preset", str, None, "named look whose values the other parameters override",
                           choices=PRESETS, optional=True)
SEED_PARAM = Param("seed", int, 0, "random seed: same seed, same damage on every frame",
                   minimum=0, maximum=2**31 - 1)


def preset_name(preset: str | None) -> str | None:
    """The canonical name of ``preset`` (``None`` for no preset); unknown names raise, listing the valid ones."""
    return PRESET_PARAM.value(PRESET_PARAM.coerce(preset))


def resolve_params(preset: str | None = None, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Full, validated parameter values: defaults, then the preset's values (a built-in look or a preset
    file, :func:`core.degrade.presets.preset_values`), then ``params``.

    Raises :class:`~core.errors.ParameterError` naming the valid presets for
    an unknown preset, and the known parameters for an unknown one.

    >>> resolve_params("dusty_35mm", {"dust_count": 5})["dust_count"]
    5.0
    """
    merged = preset_values(preset_name(preset))
    merged.update(params or {})
    return DEGRADE_PARAMS.resolve(merged)


def select_effects(effects: Iterable[str] | None = None) -> tuple[str, ...]:
    """Validate effect names (``None`` = all), returned in the model's order."""
    if effects is None:
        return tuple(EFFECTS)
    if isinstance(effects, str):
        effects = (effects,)
    names = list(effects)
    unknown = [e for e in names if e not in EFFECTS]
    if unknown:
        raise ParameterError(f"degrade: unknown effect(s) {', '.join(map(repr, unknown))}; valid: {', '.join(EFFECTS)}")
    return tuple(e for e in EFFECTS if e in names)


def enabled_effects(values: Mapping[str, Any], effects: Iterable[str] | None = None) -> tuple[str, ...]:
    """The effects that ``values`` (resolved parameters) switch on, in order."""
    return tuple(e for e in select_effects(effects) if EFFECTS[e].enabled(values))


@dataclasses.dataclass(frozen=True)
class DegradeResult:
    """A degraded frame and what was done to it.

    Attributes
    ----------
    pixels:
        ``float32`` ``HWC`` scene-linear ACEScg, same shape as the input,
        finite, >= 0; alpha (C = 4) is the input's, untouched.
    frame, seed:
        The frame number and seed the damage was drawn for.
    record:
        JSON-friendly: ``format``, ``frame``, ``seed``, ``preset``,
        ``applied`` (effect names in order) and one entry per applied effect,
        e.g. ``weave`` ``{"dx", "dy", "rotation_deg"}`` (ground truth for
        alignment), ``flicker`` ``{"gain"}``, ``dust`` ``{"count", "specks"...}``,
        ``scratches`` ``{"x": [...]}``, ``digital`` ``{"defects": [...]}``
        (the frame's digital defects, often none).
    masks:
        With ``masks=True``: ``"dust"`` / ``"scratches"`` opacity maps and
        the ``"digital"`` defect mask, ``float32`` ``HW`` in 0..1, where
        those effects ran.
    """

    pixels: np.ndarray
    frame: int
    seed: int
    record: dict[str, Any]
    masks: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    @property
    def weave_offset(self) -> tuple[float, float]:
        """``(dx, dy)`` px the picture moved (``(0, 0)`` without weave)."""
        w = self.record.get("weave")
        return (w["dx"], w["dy"]) if w else (0.0, 0.0)

    @property
    def flicker_gain(self) -> float:
        """Global exposure gain of the frame (1 without flicker)."""
        f = self.record.get("flicker")
        return f["gain"] if f else 1.0

    def summary(self) -> dict[str, Any]:
        """:attr:`record` without the long per-speck / per-track lists (for manifests and file headers)."""
        out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in self.record.items()}
        if "dust" in out:
            out["dust"].pop("specks", None)
        if "scratches" in out:
            out["scratches"].pop("tracks", None)
        return out

    def as_frame(self, template: Frame | None = None) -> Frame:
        """A :class:`~core.frame.Frame` in ACEScg carrying the summary in ``metadata["reelkit/degrade"]``."""
        if template is None:
            return Frame(self.pixels, WORKING_COLORSPACE, frame=self.frame,
                         metadata={"reelkit/degrade": self.summary()})
        return template.replace(pixels=self.pixels, colorspace=WORKING_COLORSPACE, frame=self.frame,
                                metadata={**template.metadata, "reelkit/degrade": self.summary()})


def unpack_image(image: Frame | np.ndarray, frame: int | None) -> tuple[Any, int, str]:
    """``(pixels, frame number, name for messages)`` of an array or an ACEScg Frame."""
    if isinstance(image, Frame):
        if image.colorspace != WORKING_COLORSPACE:
            raise ColorSpaceError(f"{image.describe()}: degrade works on {WORKING_COLORSPACE}, got "
                                  f"{image.colorspace!r}; convert it first (core.color)")
        number = int(frame if frame is not None else (image.frame if image.frame is not None else 0))
        return image.pixels, number, f"{image.path} (frame {number})" if image.path else f"frame {number}"
    number = int(0 if frame is None else frame)
    return image, number, f"frame {number}"


def _degrade(pixels: Any, number: int, name: str, seed: int, values: Mapping[str, Any], chosen: tuple[str, ...],
             preset: str | None, want_masks: bool, consume: bool = False) -> DegradeResult:
    px = as_hwc_float32(pixels, name=name)
    if px.shape[2] not in (3, 4):
        raise ImageError(f"{name}: degrade needs RGB or RGBA (film has three dye layers), got {px.shape[2]} channel(s)")
    check_finite(px, name=name)
    record: dict[str, Any] = {"format": RECORD_FORMAT, "frame": number, "seed": seed,
                              "preset": preset, "applied": []}
    masks: dict[str, np.ndarray] = {}
    rgb = px[..., :3]
    if chosen:
        # the working array the effects write into: the input itself when the caller gives it up, else a copy
        rgb = np.maximum(px, 0.0, out=px) if consume and px.shape[2] == 3 else np.maximum(rgb, 0.0)
        for effect in chosen:
            result = EFFECTS[effect].apply(rgb, values, seed=seed, frame=number)
            if result.pixels is not rgb:  # an effect that made a new array: back into the working one
                rgb[...] = result.pixels
            record[effect] = result.record
            record["applied"].append(effect)
            if want_masks and result.mask is not None:
                masks[effect] = result.mask
        rgb = np.maximum(rgb, 0.0, out=rgb).astype(np.float32, copy=False)  # rgb is this call's own array
    else:
        rgb = rgb.copy()
    out = np.concatenate([rgb, px[..., 3:4]], axis=2) if px.shape[2] == 4 else np.ascontiguousarray(rgb)
    return DegradeResult(out, number, seed, record, masks)


def degrade_frame(image: Frame | np.ndarray, *, frame: int | None = None, seed: int = 0, preset: str | None = None,
                  params: Mapping[str, Any] | None = None, effects: Iterable[str] | None = None,
                  masks: bool = False, consume: bool = False) -> DegradeResult:
    """Degrade one frame like aged film.

    Parameters
    ----------
    image:
        ``float32`` (or any float/int, converted without rescaling) ``HWC``
        scene-linear ACEScg, C = 3 or 4, values >= 0; or a
        :class:`~core.frame.Frame` in ACEScg.
    frame:
        Frame number the damage is drawn for (default: the Frame's number, else 0).
    seed:
        Job seed, 0 .. 2**31-1.
    preset, params:
        A name from :data:`PRESETS` and/or parameter values over
        :data:`DEGRADE_PARAMS` (``params`` override the preset).
    effects:
        Only these effects (names from :data:`EFFECTS`) among those the
        parameters switch on; default all of them.
    masks:
        Also return the dust / scratch opacity masks.
    consume:
        The caller gives the input pixels up (never reads them again): an
        RGB ``float32`` input is degraded in place and becomes the result's
        pixels, so a frame degrades in about twice its size instead of three
        times. Same values either way.

    Raises :class:`~core.errors.ImageError` (naming the frame) for NaN/Inf,
    bad shapes or channel counts, :class:`~core.errors.ColorSpaceError` for a
    Frame not in ACEScg and :class:`~core.errors.ParameterError` for unknown
    presets, parameters or effects, or out-of-range values.
    """
    values = resolve_params(preset, params)
    seed = SEED_PARAM.coerce(seed)
    chosen = enabled_effects(values, effects)
    pixels, number, name = unpack_image(image, frame)
    return _degrade(pixels, number, name, seed, values, chosen, preset_name(preset), masks, consume)


def degrade_sequence(frames: Iterable[Frame | np.ndarray], *, seed: int = 0, preset: str | None = None,
                     params: Mapping[str, Any] | None = None, first_frame: int = 0,
                     effects: Iterable[str] | None = None, masks: bool = False) -> Iterator[DegradeResult]:
    """Degrade frames one at a time, lazily; yields a :class:`DegradeResult` per input frame.

    Frame numbers come from each :class:`~core.frame.Frame` when it has one,
    else ``first_frame`` + index. Each result equals :func:`degrade_frame` of
    that frame alone. Parameters are validated before the first frame is
    read (this function raises at once; the returned iterator does the work).
    """
    values = resolve_params(preset, params)
    seed = SEED_PARAM.coerce(seed)
    chosen = enabled_effects(values, effects)
    first = int(first_frame)
    preset = preset_name(preset)

    def run() -> Iterator[DegradeResult]:
        for i, image in enumerate(frames):
            number = image.frame if isinstance(image, Frame) and image.frame is not None else first + i
            pixels, number, name = unpack_image(image, number)
            yield _degrade(pixels, number, name, seed, values, chosen, preset, masks)

    return run()


def weave_offsets(frame: int, *, seed: int = 0, preset: str | None = None,
                  params: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Gate weave ``{"dx", "dy", "rotation_deg"}`` of ``frame`` without any pixels (zeros when off)."""
    values = resolve_params(preset, params)
    if not weave.enabled(values):
        return {"dx": 0.0, "dy": 0.0, "rotation_deg": 0.0}
    return weave.weave_offsets(values, seed=SEED_PARAM.coerce(seed), frame=int(frame))


def flicker_gain(frame: int, *, seed: int = 0, preset: str | None = None,
                 params: Mapping[str, Any] | None = None) -> float:
    """Global flicker gain of ``frame`` without any pixels (1 when off)."""
    return flicker.flicker_gain(resolve_params(preset, params), seed=SEED_PARAM.coerce(seed), frame=int(frame))


def digital_defects(frame: int, *, seed: int = 0, preset: str | None = None,
                    params: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """The digital defects ``frame`` has (names from :data:`core.degrade.digital.DEFECTS`) without any pixels."""
    values = resolve_params(preset, params)
    if not digital.enabled(values):
        return ()
    return digital.frame_defects(values, seed=SEED_PARAM.coerce(seed), frame=int(frame))


def scratch_positions(frame: int, width: int, *, seed: int = 0, preset: str | None = None,
                      params: Mapping[str, Any] | None = None) -> list[float]:
    """x (px, at mid height) of the scratches visible on ``frame`` for a frame ``width`` px wide."""
    values = resolve_params(preset, params)
    if not scratches.enabled(values):
        return []
    trk = scratches.tracks(values, seed=SEED_PARAM.coerce(seed), frame=int(frame), width=int(width))
    return [t["x"] for t in trk if t["visible"]]
