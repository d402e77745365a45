"""The parameter spec of alignment and the method table.

:data:`ALIGN_PARAMS` is the one spec the ``reelkit align`` options, config
keys, the Nuke node's knobs and the Qt widgets derive from;
:data:`METHODS` names the interchangeable methods of :func:`core.align.align`
and the stages each runs.
"""

from __future__ import annotations

import dataclasses

from core.align.ecc import MOTIONS
from core.align.flow import FLOW_PRESETS
from core.align.geometry import INTERPOLATIONS
from core.params import Param, ParamSet

#: Stages in the order they run: scale search, phase correlation, ECC, optical flow.
STAGES = ("phase", "ecc", "flow")


@dataclasses.dataclass(frozen=True)
class Method:
    """One entry of the method table: the stages it runs (in :data:`STAGES` order) and a help line."""

    name: str
    stages: tuple[str, ...]
    help: str


#: Method name -> :class:`Method`. ``align(method=...)`` accepts exactly these names.
METHODS: dict[str, Method] = {m.name: m for m in (
    Method("global+local", ("phase", "ecc", "flow"),
           "phase correlation, then ECC (motion), then dense optical flow for what is left (weave, lens)"),
    Method("global", ("phase", "ecc"), "phase correlation, then ECC (motion): one transform for the frame"),
    Method("phase", ("phase",), "phase correlation only: a translation (with scale_search, a similarity)"),
    Method("ecc", ("ecc",), "ECC (motion) only, from the same-framing start"),
    Method("flow", ("flow",), "dense optical flow only, from the same-framing start"),
)}

ALIGN_PARAMS = ParamSet(
    "align",
    [
        Param("method", str, "global+local",
              "alignment method: " + "; ".join(f"{m.name}: {m.help}" for m in METHODS.values()),
              choices=METHODS, label="Method"),
        Param("motion", str, "affine", "global motion model fitted by ECC", choices=MOTIONS, label="Motion"),
        Param("scale_search", str, "none", "find an unknown scale and rotation first (log-polar phase correlation), "
              "for a reference transferred with another crop or zoom; 'none' assumes the same framing",
              choices=("none", "logpolar"), label="Scale search"),
        Param("sharpness_match", bool, True, "measure which image is softer (from their spectra) and blur the "
              "other to match before aligning (a softer source biases local estimates)", label="Sharpness match"),
        Param("tone_match", bool, True, "match the source's luminance histogram to the reference's before "
              "aligning (undoes most of a fade or grade)", label="Tone match"),
        Param("max_size", int, 1024, "alignment runs on a copy halved until its longer side is at most this (px); "
              "the outputs are full size", minimum=64, maximum=16384, label="Working size"),
        Param("presmooth", float, 1.0,
              "Gaussian blur (working px) of both images before aligning, against grain and dust",
              minimum=0.0, maximum=10.0, label="Presmooth"),
        Param("normalize_sigma", float, 16.0, "size (Gaussian sigma, working px) of the local contrast normalisation",
              minimum=2.0, maximum=256.0, label="Normalise size"),
        Param("pyramid_levels", int, 0, "Gaussian pyramid levels for ECC (0 = until the image is about 64 px)",
              minimum=0, maximum=12, label="Pyramid levels"),
        Param("max_shift", float, 0.2, "largest translation searched, as a fraction of the frame's longer side",
              minimum=0.0, maximum=0.5, label="Max shift"),
        Param("phase_min_psr", float, 10.0, "phase correlation fails below this peak-to-sidelobe ratio "
              "(unrelated photos gave 5-11, matching pairs 18-1000 in the tests)", minimum=0.0, maximum=1000.0,
              label="Phase min PSR"),
        Param("ecc_iterations", int, 100, "ECC iterations at most per pyramid level", minimum=1, maximum=10000,
              label="ECC iterations"),
        Param("ecc_eps", float, 1e-6, "ECC stops when the correlation gains less than this", minimum=0.0,
              maximum=1.0, label="ECC epsilon"),
        Param("min_correlation", float, 0.5, "fail when the correlation of the aligned representations is below this",
              minimum=0.0, maximum=1.0, label="Min correlation"),
        Param("flow_preset", str, "medium", "DIS optical flow preset (the flow starts the smooth field and flags "
              "occlusions)", choices=FLOW_PRESETS, label="Flow preset"),
        Param("flow_grid", int, 12, "control points of the smooth local field along the longer side of the frame",
              minimum=2, maximum=32, label="Flow grid"),
        Param("flow_smooth", float, 10.0, "stiffness of the local field: bending is penalised like data over this "
              "length (working px); 0 = none", minimum=0.0, maximum=1000.0, label="Flow smoothness"),
        Param("flow_iterations", int, 6, "Gauss-Newton iterations of the local field at most", minimum=1,
              maximum=1000, label="Flow iterations"),
        Param("flow_min_gain", float, 0.05, "keep the local field only when, fitted on half the frame, it lowers "
              "the robust residual cost of the other half by at least this fraction over the global transform "
              "alone, by more than noise can (a t test over blocks); else the flow is zero",
              minimum=0.0, maximum=1.0, label="Flow min gain"),
        Param("fb_threshold", float, 0.5, "forward-backward optical flow mismatch (px) above which a pixel's flow "
              "does not start the local field", minimum=0.01, maximum=100.0, label="FB threshold"),
        Param("residual_threshold", float, 0.0, "pixels whose aligned residual exceeds this (representation units, "
              "about local standard deviations) are invalid; 0 = off", minimum=0.0, maximum=100.0,
              label="Residual threshold"),
        Param("border_px", float, 1.0, "source pixels that map within this distance (px) of the reference's edge "
              "are invalid", minimum=0.0, maximum=1000.0, label="Border"),
        Param("min_valid_fraction", float, 0.5, "fail when fewer pixels than this fraction are valid", minimum=0.0,
              maximum=1.0, label="Min valid fraction"),
        Param("min_texture", float, 0.05, "fail when less than this fraction of either image has texture",
              minimum=0.0, maximum=1.0, label="Min texture"),
        Param("max_scale_change", float, 1.5, "fail when the global transform scales by more than this "
              "(or less than its inverse) beyond the resolution ratio", minimum=1.0, maximum=10.0,
              label="Max scale change"),
        Param("max_shear", float, 0.05, "fail when the global transform's anisotropy or shear exceeds this",
              minimum=0.0, maximum=1.0, label="Max shear"),
        Param("max_rotation_deg", float, 10.0, "fail when the global transform rotates by more than this (degrees)",
              minimum=0.0, maximum=180.0, label="Max rotation"),
        Param("max_perspective", float, 0.05, "fail when a homography's perspective spreads the homogeneous scale "
              "over the frame by more than this", minimum=0.0, maximum=1.0, label="Max perspective"),
        Param("interpolation", str, "cubic", "resampling of the reference onto the source grid",
              choices=INTERPOLATIONS, label="Interpolation"),
    ],
)
