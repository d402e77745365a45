"""A vision pass that lives for a whole shot: one size, one model session, flow carried from frame to frame.

:class:`VisionSession` runs one pass (:data:`PASSES`) on the frames of a
shot, in order. Against calling the per-frame functions it adds:

- **one size**: the first frame fixes the shot's size; a frame of another
  size is refused with one line naming it (buffers and flows are per size);
- **the memory budget** (:mod:`core.vision.budget`), checked once, before
  the first frame's work;
- **one onnxruntime session** and its buffers for a learned pass
  (:class:`core.vision.learned.LearnedPass`), built on the first frame;
- **flow computed once per pair**: frame ``n``'s forward flow and frame
  ``n+1``'s backward flow are the two halves of one pair
  (:func:`core.vision.flow.flow_pair`), and each frame's flow
  representation is made once;
- **temporal propagation along the flow**: the previous frame's matte,
  pulled along the backward flow, is the next frame's rough mask (GrabCut
  needs a box or mask on the first frame only); mattes and depth are then
  blended with the previous frame's result pulled along the flow where the
  flow is consistent: ``out = (1 - s c) now + s c warped`` (``s`` =
  ``smoothing``, ``c`` = consistency 0/1), which keeps static regions from
  flickering (tests/test_vision_session.py measures it).

Results: ``{layer: float32 HWC}`` of the frame's size — ``flow``:
``forward``, ``backward`` (``dx, dy`` px, y down; zeros where there is no
neighbour) and ``consistency`` (backward, forward: 0/1); ``saliency``,
``matte``, ``depth``: one layer of that name (see :mod:`core.vision`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from core.errors import ImageError, ParameterError
from core.frame import Frame
from core.vision.budget import DEFAULT_SHARE, check_budget, estimate
from core.vision.flow import FLOW_METHODS, flow_pair
from core.vision.image import log_luma, name_of, working_pixels

PASSES = ("flow", "saliency", "matte", "depth")


class VisionSession:
    """One pass over the frames of one shot (see the module doc).

    ``pass_name``: :data:`PASSES`. ``method``: the flow's (:data:`~core.vision.flow.FLOW_METHODS`, default
    ``dis``) or the saliency's (:data:`~core.vision.saliency.SALIENCY_METHODS`). ``model`` (+ ``manifest``): a
    vision model (:mod:`core.vision.learned`) — needed for ``depth``, optional for ``matte`` and ``saliency``
    (instead of GrabCut / the classical maps). ``box`` / ``mask``: the matte's start on the first frame.
    ``smoothing``: temporal blend of mattes and depth (0 = none, no flow computed). ``threshold``: flow
    consistency (px). ``seed``: GrabCut's. ``memory_share``: the budget's share of RAM.
    """

    def __init__(self, pass_name: str, *, method: str | None = None, model: str | os.PathLike | None = None,
                 manifest: str | os.PathLike | Mapping[str, Any] | None = None,
                 box: tuple[int, int, int, int] | None = None, mask: np.ndarray | None = None,
                 smoothing: float = 0.5, threshold: float = 0.5, iterations: int = 2, seed: int = 0,
                 memory_share: float = DEFAULT_SHARE, provider: str = "cpu", threads: int = 0):
        from core.vision.saliency import SALIENCY_METHODS

        if pass_name not in PASSES:
            raise ParameterError(f"pass {pass_name!r}: expected one of {', '.join(PASSES)}")
        if pass_name == "depth" and model is None:
            raise ParameterError("pass 'depth': needs a model (an .onnx with its vision manifest entry, or its id)")
        if pass_name == "flow" and model is not None:
            raise ParameterError("pass 'flow': takes no model")
        methods = FLOW_METHODS if pass_name == "flow" else SALIENCY_METHODS if pass_name == "saliency" else ()
        if method is not None and method not in methods:
            raise ParameterError(f"method {method!r}: the {pass_name} pass takes "
                                 f"{', '.join(methods) if methods else 'no method'}")
        if not 0.0 <= smoothing < 1.0:
            raise ParameterError(f"smoothing {smoothing!r}: expected 0 <= smoothing < 1")
        self.pass_name, self.method = pass_name, method or (methods[0] if methods else None)
        self.box, self.mask = box, mask
        self.smoothing, self.threshold, self.iterations, self.seed = smoothing, threshold, iterations, seed
        self.memory_share = memory_share
        self.learned = None
        if model is not None:
            from core.vision.learned import LearnedPass, check_task

            self.learned = LearnedPass(model, manifest=manifest, provider=provider, threads=threads)
            check_task(self.learned.spec, pass_name)
        self.size: tuple[int, int] | None = None
        self.frames_run = 0
        self._last: tuple[np.ndarray, np.ndarray] | None = None  # (pixels, flow codes) of the last frame seen
        self._pending = None  # (next pixels, next codes, pair): the flow pass's forward pair, the next backward
        self._previous: dict[str, np.ndarray] = {}  # the last frame's result

    # -- shot bookkeeping ---------------------------------------------------------------
    def _start(self, px: np.ndarray, label: str) -> None:
        hw = px.shape[:2]
        if self.size is None:
            extra = self.learned.buffer_bytes(hw) if self.learned is not None else 0
            check_budget(estimate(self.pass_name, *hw, extra=extra), share=self.memory_share,
                         what=f"{label}: the {self.pass_name} pass on {hw[1]}x{hw[0]} frames")
            self.size = hw
        elif hw != self.size:
            raise ImageError(f"{label}: {hw[1]}x{hw[0]} does not match the shot's {self.size[1]}x{self.size[0]} "
                             "(one session is one shot of one size)")

    def _is_pending(self, px: np.ndarray) -> bool:
        return self._pending is not None and (self._pending[0] is px or np.array_equal(self._pending[0], px))

    def _codes(self, px: np.ndarray) -> np.ndarray:
        return self._pending[1] if self._is_pending(px) else log_luma(px)

    def _backward(self, px: np.ndarray, codes: np.ndarray):
        """``(flow to the previous frame, its consistency)`` of this frame, or ``None`` on the shot's first."""
        if self._last is None:
            return None
        if self._is_pending(px):
            pair = self._pending[2]
        else:
            pair = flow_pair(self._last[1], codes, method=self.method if self.pass_name == "flow" else "dis",
                             iterations=self.iterations, threshold=self.threshold)
        return pair.b_to_a, pair.b_consistent

    def resume(self, previous: Frame | np.ndarray, result: Mapping[str, np.ndarray], *,
               name: str | None = None) -> None:
        """Go on with a shot after ``previous``: its frame and the result made for it (read back from its file
        by :func:`core.vision.files.read_pass`; empty when none), as if :meth:`run` had just made it."""
        px = working_pixels(previous, what=self.pass_name, colour=self.pass_name == "matte", name=name)
        self._start(px, name_of(previous, name))
        self._last = (px, log_luma(px))
        self._pending = None
        self._previous = {k: np.asarray(v, np.float32) for k, v in result.items()}
        self.frames_run = max(1, self.frames_run)

    # -- running -----------------------------------------------------------------------
    def run(self, frame: Frame | np.ndarray, *, next: Frame | np.ndarray | None = None,
            name: str | None = None) -> dict[str, np.ndarray]:
        """The pass of ``frame`` (the shot's next frame, in order); ``next``: the frame after it (the flow
        pass's forward flow; without it the forward flow is zero). Returns ``{layer: float32 HWC}``."""
        label = name_of(frame, name)
        colour = self.pass_name == "matte" or self.learned is not None
        px = working_pixels(frame, what=self.pass_name, colour=colour, name=name)
        self._start(px, label)
        codes = self._codes(px) if self.pass_name == "flow" or self.smoothing > 0 else None
        back = self._backward(px, codes) if codes is not None and self.frames_run else None
        out = getattr(self, f"_{self.pass_name}")(px, label, codes, back, next)
        self._last = (px, codes) if codes is not None else None
        self._previous = out
        self.frames_run += 1
        return out

    def _flow(self, px, label, codes, back, next):
        h, w = px.shape[:2]
        zeros = np.zeros((h, w, 2), np.float32)
        backward, back_ok = (back if back is not None else (zeros, np.zeros((h, w), np.float32)))
        forward, fwd_ok, self._pending = zeros, np.zeros((h, w), np.float32), None
        if next is not None:
            nxt = working_pixels(next, what="flow", name=None if isinstance(next, Frame) else f"{label} (next)")
            self._start(nxt, name_of(next, None if isinstance(next, Frame) else f"{label} (next)"))
            nxt_codes = log_luma(nxt)
            pair = flow_pair(codes, nxt_codes, method=self.method, iterations=self.iterations,
                             threshold=self.threshold)
            forward, fwd_ok, self._pending = pair.a_to_b, pair.a_consistent, (nxt, nxt_codes, pair)
        return {"forward": forward, "backward": backward, "consistency": np.stack([back_ok, fwd_ok], axis=-1)}

    def _saliency(self, px, label, codes, back, next):
        if self.learned is not None:
            return {"saliency": self._smooth("saliency", self.learned.run(px, name=label), back)}
        from core.vision.saliency import saliency

        return {"saliency": saliency(px, method=self.method)}

    def _depth(self, px, label, codes, back, next):
        return {"depth": self._smooth("depth", self.learned.run(px, name=label), back)}

    def _matte(self, px, label, codes, back, next):
        if self.learned is not None:
            return {"matte": self._smooth("matte", self.learned.run(px, name=label), back)}
        from core.vision.flow import warp
        from core.vision.matte import matte

        if "matte" in self._previous and back is not None:
            rough = warp(self._previous["matte"], back[0])
            now = matte(px, mask=rough, seed=self.seed, name=label)
        elif "matte" in self._previous:  # no flow (smoothing 0): the previous matte where it was
            now = matte(px, mask=self._previous["matte"], seed=self.seed, name=label)
        else:
            if self.box is None and self.mask is None:
                raise ParameterError(f"{label}: the matte pass needs a box or a rough mask on the shot's first frame")
            now = matte(px, box=self.box, mask=self.mask, seed=self.seed, name=label)
        return {"matte": self._smooth("matte", now, back)}

    def _smooth(self, layer: str, now: np.ndarray, back) -> np.ndarray:
        if back is None or layer not in self._previous or self.smoothing == 0:
            return now
        from core.vision.flow import warp

        warped = warp(self._previous[layer], back[0])
        weight = (self.smoothing * back[1])[..., None].astype(np.float32)
        return (now + weight * (warped - now)).astype(np.float32)
