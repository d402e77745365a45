"""The parameter spec of a validation run (CLI options, config keys, ReelValidate knobs)."""

from __future__ import annotations

from core.errors import ParameterError
from core.params import Param, ParamSet
from core.validate.baselines import DEFAULT_BASELINES

VALIDATE_PARAMS = ParamSet("validate", [
    Param("baselines", str, ",".join(DEFAULT_BASELINES),
          "comma-separated baselines to compute (steps joined by '+' run in order), from: grade_matrix, "
          "grade_root_poly, grade_lut3d, dust_bust, denoise_nlm, denoise_bilateral, unsharp"),
    Param("fit_frames", int, 8, "frames the grades are fitted on, evenly spaced over the training pairs "
          "(or, without them, over the validated frames)", minimum=1, maximum=10000),
    Param("max_samples", int, 200_000, "pixels drawn per frame for a grade fit (seeded)", minimum=100,
          maximum=100_000_000, label="Fit samples per frame"),
    Param("root_poly_degree", int, 2, "degree of the root-polynomial grade (2: 6 terms, 3: 13 terms)",
          minimum=2, maximum=3, label="Root-poly degree"),
    Param("lut_size", int, 17, "nodes per axis of the fitted 3D LUT grade", minimum=3, maximum=65,
          label="3D LUT nodes"),
    Param("cube_size", int, 33, "nodes per axis of the .cube files of the matrix and root-polynomial grades "
          "(a 3D LUT grade is written with its own nodes)", minimum=2, maximum=129, label=".cube nodes"),
    Param("dust_threshold", float, 0.5, "dust busting: stops a speck differs from its surroundings and "
          "from the neighbouring frames", minimum=0.01, maximum=10.0),
    Param("dust_motion", float, 0.25, "dust busting: stops of change between frames n-1 and n+1 that count "
          "as motion (spatial repair there)", minimum=0.01, maximum=10.0),
    Param("dust_speck_size", int, 11, "dust busting: median window in pixels (odd, about twice the largest "
          "speck)", minimum=3, maximum=31),
    Param("nlm_strength", float, 0.02, "non-local means strength (shaper units, 1 = about 10 stops)",
          minimum=0.0001, maximum=1.0, label="NLM strength"),
    Param("bilateral_sigma", float, 0.03, "bilateral filter colour sigma (shaper units)", minimum=0.0001,
          maximum=1.0),
    Param("unsharp_amount", float, 0.5, "unsharp mask amount", minimum=0.0, maximum=10.0),
    Param("unsharp_sigma", float, 1.0, "unsharp mask radius (Gaussian sigma, pixels)", minimum=0.1,
          maximum=50.0),
    Param("compare_frames", int, 3, "frames shown as side-by-side and wipe crops in the report",
          minimum=0, maximum=50),
    Param("crop_size", int, 256, "size of the comparison crops in pixels", minimum=32, maximum=4096),
    Param("write_baselines", bool, True, "write each baseline's frames as EXR (baselines/<name>/)"),
    Param("seed", int, 0, "seed of every random choice (grade fit sampling)", minimum=0, maximum=2**31 - 1),
    Param("weight_matte", str, None, "also score PSNR weighted by a matte: a file or sequence pattern (first "
          "channel, or the matte/saliency layer of a 'reelkit vision' EXR; clipped to 0..1) or 'saliency' (the "
          "reference's saliency pass); written as 'weighted' in metrics.json", optional=True,
          label="Weight matte"),
])


def named_values(items, what: str) -> dict[str, str]:
    """``["ml=render/ml.####.exr", ...]`` -> ``{"ml": "render/ml.####.exr"}``: the candidates and shots of a
    validation (``--candidate``, ``--shot``; the MCP tool's arrays). ``what`` names the option in errors; an
    item without ``=`` or a name given twice raises :class:`~core.errors.ParameterError`."""
    out: dict[str, str] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ParameterError(f"{what} {item!r}: expected NAME=VALUE (e.g. ml=render/ml.####.exr)")
        if name.strip() in out:
            raise ParameterError(f"{what} {name.strip()!r} given twice")
        out[name.strip()] = value.strip()
    return out
