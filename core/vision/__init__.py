"""Vision analysis passes: optical flow, saliency, mattes, and learned passes (depth...) from ONNX models.

The contract, for every pass: a :class:`~core.frame.Frame` in (any colour
space; converted to scene-linear ACEScg) or a ``float32`` ``HWC`` ACEScg
array, C in {1, 3, 4}; a ``float32`` ``HWC`` pass out of the frame's size,
in a range each pass states:

========== ================ =========================================================
pass       channels         values
========== ================ =========================================================
flow       forward.u/v,     pixels (x right, y down here; files: Nuke's y-up ``v``),
           backward.u/v,    :mod:`core.vision.flow`
           consistency      0/1
saliency   saliency         0..1, per-frame maximum 1 (:mod:`core.vision.saliency`)
matte      matte            0..1 straight, 1 = subject (:mod:`core.vision.matte`)
depth      depth            the model's output as its manifest entry states
                            (:mod:`core.vision.learned`)
========== ================ =========================================================

Per-frame functions are pure (:func:`optical_flow`, :func:`saliency`,
:func:`matte`); a :class:`VisionSession` lives for one shot: it checks
that every frame has the shot's size, reuses one onnxruntime session and
its buffers, carries each frame's flow to the next, and propagates mattes
along the flow.
"""

from core.vision.flow import FLOW_METHODS, optical_flow, warp
from core.vision.matte import grabcut, guided_filter, matte, refine
from core.vision.saliency import SALIENCY_METHODS, saliency
from core.vision.session import PASSES, VisionSession

__all__ = [
    "FLOW_METHODS",
    "PASSES",
    "SALIENCY_METHODS",
    "VisionSession",
    "grabcut",
    "guided_filter",
    "matte",
    "optical_flow",
    "refine",
    "saliency",
    "warp",
]
