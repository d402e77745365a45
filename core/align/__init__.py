"""Alignment (restoration stage 2): the reference warped onto the degraded source's pixel grid.

A degraded film scan (the source) and another transfer of the same frame
(the reference: a DVD, a telecine, another print) must match pixel for pixel
before a model can learn from the pair. :func:`align` estimates, per frame,
a global transform (phase correlation, then ECC on a pyramid) and a dense
local refinement (DIS optical flow) on a representation that ignores colour,
exposure and most noise differences (:mod:`core.align.represent`), then
resamples the reference once onto the source grid and says which pixels to
trust. :func:`align_files` does it for file sequences with resume and a report.

Images are ``float32`` ``HWC`` scene-linear ACEScg (C = 1, 3 or 4); the two
may differ in resolution. Transforms map **source pixel coordinates to
reference pixel coordinates** (``x`` right, ``y`` down, pixel centres at
integers; :mod:`core.align.geometry`). Failures are results
(``converged=False`` with a ``reason``), not exceptions.

>>> from core.align import align
>>> from core.color import convert
>>> from core.io.samples import load_sample
>>> photo = convert(load_sample("coffee").pixels, "srgb", "ACEScg")
>>> ref = photo[100:228, 100:292]
>>> src = photo[100:228, 102:294]  # source pixel (x, y) shows reference point (x + 2, y)
>>> res = align(src, ref, method="phase")
>>> res.converged, [round(float(v), 2) + 0.0 for v in res.transform[:2, 2]]
(True, [2.0, 0.0])
"""

from core.align.files import ALIGN_FILE_PARAMS, ALIGN_OUTPUT_PARAMS, align_files, align_output, align_outputs
from core.align.model import WORKING_COLORSPACE, AlignResult, align, resolve
from core.align.params import ALIGN_PARAMS, METHODS, STAGES, Method
from core.align.report import report_image

__all__ = [
    "ALIGN_FILE_PARAMS",
    "ALIGN_OUTPUT_PARAMS",
    "ALIGN_PARAMS",
    "METHODS",
    "STAGES",
    "WORKING_COLORSPACE",
    "AlignResult",
    "Method",
    "align",
    "align_files",
    "align_output",
    "align_outputs",
    "report_image",
    "resolve",
]
