"""OpenColorIO as a reference and for display transforms.

:mod:`core.color` computes its conversions itself; this module runs the same
conversions through OpenColorIO's CPU processor, with the built-in ACES
config ``ocio://cg-config-latest`` (OCIO 2.4+), for comparison (tests,
benchmarks) and for the ACES output transform used by
:func:`core.color.acescg_to_srgb_preview` with ``view="aces"``.

PyOpenColorIO is imported inside these functions only, so ``import
core.color`` stays cheap. Processors are cached per argument set.
"""

from __future__ import annotations

import functools

import numpy as np

from core.color import _engine
from core.color.spaces import OCIO_NAMES, canonical_colorspace
from core.errors import ColorSpaceError, MissingDependencyError

#: The built-in config used by default.
BUILTIN_CONFIG = "ocio://cg-config-latest"
#: The display and view of the ACES 2.0 SDR output transform on an sRGB monitor.
ACES_SDR_DISPLAY = "sRGB - Display"
ACES_SDR_VIEW = "ACES 2.0 - SDR 100 nits (Rec.709)"


def _ocio():
    try:
        import PyOpenColorIO
    except ImportError as exc:  # pragma: no cover - opencolorio is a dependency
        raise MissingDependencyError(
            f"PyOpenColorIO is required for OCIO transforms: pip install opencolorio ({exc})"
        ) from exc
    return PyOpenColorIO


def ocio_colorspace_name(name: str) -> str:
    """The colour space name in ``ocio://cg-config-latest`` for a reelkit name or alias.

    Raises :class:`~core.errors.ColorSpaceError` for spaces OCIO's config
    does not have (``Lab``, ``OKLab``).

    >>> ocio_colorspace_name("lin_srgb")
    'Linear Rec.709 (sRGB)'
    """
    canonical = canonical_colorspace(name)
    ocio_name = OCIO_NAMES[canonical]
    if ocio_name is None:
        raise ColorSpaceError(f"{canonical} has no equivalent in OCIO's built-in configs")
    return ocio_name


@functools.lru_cache(maxsize=16)
def _config(config: str):
    ocio = _ocio()
    try:
        return ocio.Config.CreateFromFile(config)
    except (ocio.Exception, ocio.ExceptionMissingFile) as exc:
        raise ColorSpaceError(f"cannot load OCIO config {config!r}: {exc}") from None


def ocio_scene_linear(config: str) -> str:
    """The colour space of the ``scene_linear`` role of an OCIO config (a file path or ``ocio://`` URI).

    Returns the reelkit canonical name when the space or one of its aliases
    is one reelkit knows (``ocio://cg-config-latest`` -> ``"ACEScg"``), else
    the config's own name. Raises :class:`~core.errors.ColorSpaceError` when
    the config cannot be loaded or has no ``scene_linear`` role.
    """
    ocio = _ocio()
    cfg = _config(config)
    space = cfg.getColorSpace(ocio.ROLE_SCENE_LINEAR)
    if space is None:
        raise ColorSpaceError(f"OCIO config {config!r} has no scene_linear role")
    for name in (space.getName(), *space.getAliases()):
        try:
            return canonical_colorspace(name)
        except ColorSpaceError:
            continue
    return space.getName()


def _resolve(cfg, name: str) -> str:
    """A reelkit name or alias -> its OCIO name; otherwise a name the config knows, as given."""
    try:
        return ocio_colorspace_name(name)
    except ColorSpaceError:
        if isinstance(name, str) and cfg.getColorSpace(name) is not None:
            return name
        raise


@functools.lru_cache(maxsize=64)
def ocio_processor(source: str, target: str, *, config: str = BUILTIN_CONFIG):
    """The default CPU processor of OCIO from ``source`` to ``target`` (reelkit names first, then the config's)."""
    ocio = _ocio()
    cfg = _config(config)
    names = [_resolve(cfg, n) for n in (source, target)]
    try:
        return cfg.getProcessor(*names).getDefaultCPUProcessor()
    except ocio.Exception as exc:
        raise ColorSpaceError(f"OCIO cannot convert {names[0]!r} -> {names[1]!r} with {config}: {exc}") from None


@functools.lru_cache(maxsize=16)
def ocio_view_processor(source: str = "ACEScg", *, display: str = ACES_SDR_DISPLAY, view: str = ACES_SDR_VIEW,
                        config: str = BUILTIN_CONFIG):
    """The default CPU processor of an OCIO display/view transform from ``source``."""
    ocio = _ocio()
    cfg = _config(config)
    src = _resolve(cfg, source)
    try:
        return cfg.getProcessor(src, display, view, ocio.TRANSFORM_DIR_FORWARD).getDefaultCPUProcessor()
    except ocio.Exception as exc:
        raise ColorSpaceError(f"OCIO display {display!r} / view {view!r} unavailable in {config}: {exc}") from None


def _apply(processor, pixels, nonfinite: str) -> np.ndarray:
    check = _engine.check_nonfinite_mode(nonfinite)
    arr = _engine.as_pixels(pixels)
    out = np.array(arr, dtype=np.float32, order="C", copy=True)
    if check and not np.isfinite(out).all():
        raise _engine.nonfinite_error(arr, "pixels")
    if out.size:
        processor.applyRGB(out.reshape(-1))
    return out


def ocio_convert(pixels, source: str, target: str, *, config: str = BUILTIN_CONFIG,
                 nonfinite: str = "raise") -> np.ndarray:
    """Convert ``(..., 3)`` pixels with OCIO's CPU processor (the reference for :func:`core.color.convert`).

    ``source`` and ``target`` are reelkit names, aliases or names of the
    config. Same dtype policy as :mod:`core.color`: float32 out, input never
    modified. Values are OCIO's (its sRGB curve is the C1-continuous variant,
    see :func:`core.color.lin_rec709_to_srgb`).

    >>> ocio_convert(np.array([1.0, 1.0, 1.0], np.float32), "ACEScg", "ACES2065-1").round(4)
    array([1., 1., 1.], dtype=float32)
    """
    return _apply(ocio_processor(source, target, config=config), pixels, nonfinite)


def ocio_display_view(pixels, *, source: str = "ACEScg", display: str = ACES_SDR_DISPLAY, view: str = ACES_SDR_VIEW,
                      config: str = BUILTIN_CONFIG, nonfinite: str = "raise") -> np.ndarray:
    """Apply an OCIO display/view transform; default: the ACES 2.0 SDR 100-nit output for an sRGB monitor.

    Parameters
    ----------
    pixels
        Scene-linear values in ``source`` (default ACEScg), ``(..., 3)``
        float16/32/64.

    Returns
    -------
    numpy.ndarray
        Display-encoded float32 ``(..., 3)`` in 0..1 (sRGB-encoded for the
        default display), tone-mapped by the ACES 2.0 output transform.

    References: Academy ACES 2.0 Output Transforms (2024); OCIO 2.4+
    built-in config ``cg-config-latest``.

    >>> ocio_display_view(np.array([0.18, 0.18, 0.18], np.float32)).round(3)
    array([0.349, 0.349, 0.349], dtype=float32)
    """
    return _apply(ocio_view_processor(source, display=display, view=view, config=config), pixels, nonfinite)
