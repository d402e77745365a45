"""Predict (and refine) the params of image files: the library behind ``reelkit inverse predict``.

:func:`predict_files` reads each image (converted to scene-linear ACEScg
from the colour space its reader reports, :func:`core.color.convert_frame`),
runs the model (:class:`~core.inverse.predict.InversePredictor`), refines
the continuous params with CMA-ES when ``refine_evals`` > 0
(:func:`~core.inverse.refine.refine`, the model's generator), and writes
for image ``NAME.EXT`` into ``output_dir``:

- ``NAME.params.json`` (:data:`PREDICTION_FORMAT`): the model, the
  predicted params (flat keys, the generator's full dict), the spread of
  each continuous value (normalised), the class probabilities, and after
  refinement the refined params and the image loss before/after;
- ``NAME.render.exr``: the generator's render of the final params (OpenEXR
  half, ACEScg), to compare with the input;
- ``NAME.sheet.png``: side by side, sRGB-encoded 8-bit: the input, the
  CNN's render and (after refinement) the refined render, each at least
  :data:`SHEET_TILE` pixels high (nearest-neighbour enlarged).

A per-frame job (:func:`core.jobs.run_frame_job`): ``manifest.json``, resume, ``force``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.errors import ImageError, ParameterError
from core.formats import FORMATS
from core.inverse.model import load_inverse_model
from core.jobs import ProgressFn

#: Format of a prediction JSON.
PREDICTION_FORMAT = FORMATS["reelkit.inverse.prediction"]
#: Smallest tile height of the side-by-side sheet (small inputs are enlarged by a whole factor).
SHEET_TILE = 192


def side_by_side(tiles: Sequence[tuple[str, Any]]) -> Any:
    """``(title, float32 HW3 ACEScg)`` pairs -> one ``uint8`` ``HW3`` sRGB-encoded sheet (nearest enlarged)."""
    import numpy as np

    from core.color import acescg_to_srgb_preview
    from core.sheets import contact_sheet

    shown = []
    for title, px in tiles:
        k = max(1, -(-SHEET_TILE // px.shape[0]))
        shown.append((title, np.repeat(np.repeat(acescg_to_srgb_preview(px), k, axis=0), k, axis=1)))
    return contact_sheet(shown)


def predict_files(model: str | os.PathLike, images: Sequence[str | os.PathLike], *, output_dir: str | os.PathLike,
                  refine_evals: int = 0, refine_seconds: float | None = None, loss: str = "mse", seed: int = 0,
                  force: bool = False, progress: ProgressFn | None = None):
    """Predict the params of each of ``images`` into ``output_dir``; returns the finished manifest.

    ``refine_evals`` renders per image refine the prediction (0: none), within ``refine_seconds`` per
    image if given (then the result depends on the machine's speed, and the manifest says so)."""
    from core import io
    import numpy as np

    from core.color import convert_frame
    from core.frame import Frame
    from core.inverse.generators import generator
    from core.inverse.predict import InversePredictor
    from core.inverse.refine import image_loss, refine
    from core.io.atomic import write_text_atomic
    from core.jobs import FrameTask, run_frame_job
    from core.manifest import Manifest

    loaded = load_inverse_model(model)
    if isinstance(refine_evals, bool) or not isinstance(refine_evals, int) or refine_evals < 0:
        raise ParameterError(f"refine_evals: {refine_evals!r} must be an integer >= 0")
    if refine_seconds is not None and not refine_seconds > 0:
        raise ParameterError(f"refine_seconds: {refine_seconds!r} must be above 0")
    image_loss(loss)
    gen = generator(loaded.generator.get("name", "?"))  # an unknown generator fails here, before any file
    if not images:
        raise ParameterError("inverse predict: give at least one image")
    stems = [Path(p).name.rsplit(".", 1)[0] for p in images]
    if len(set(stems)) != len(stems):
        raise ParameterError("inverse predict: two images share a name; their outputs would collide")
    out = Path(output_dir)
    tasks = [FrameTask(stem, None, Path(p), out / f"{stem}.params.json",
                       extra_targets=(out / f"{stem}.render.exr", out / f"{stem}.sheet.png"))
             for stem, p in zip(stems, images)]
    config = {"model_sha256": loaded.document["sha256"], "refine_evals": refine_evals,
              "refine_seconds": refine_seconds, "loss": loss, "seed": seed, "images": [str(p) for p in images]}
    manifest = Manifest(out, "inverse-predict", config, seed=seed)
    predictor = InversePredictor(loaded)

    def make(task: FrameTask) -> dict[str, Any]:
        frame = convert_frame(io.read_image(task.source), "ACEScg")
        if frame.pixels.shape[:2] != (loaded.height, loaded.width):
            raise ImageError(f"{task.source}: {frame.pixels.shape[1]}x{frame.pixels.shape[0]} does not fit the "
                             f"model's input {loaded.width}x{loaded.height}")
        pred = predictor.predict([frame.pixels])[0]
        record: dict[str, Any] = {"format": PREDICTION_FORMAT.tag, "model": loaded.document["name"],
                                  "model_sha256": loaded.document["sha256"], "generator": gen.name,
                                  "image": str(task.source), "params": gen.spec.resolve(pred.params),
                                  "spread": dict(zip([d.name for d in loaded.space.continuous], pred.sigma.tolist())),
                                  "probabilities": pred.probabilities}
        h, w = frame.pixels.shape[:2]
        shown = [("input", frame.pixels), ("CNN", gen.render(record["params"], 0, w, h))]
        if refine_evals:
            r = refine(gen, frame.pixels, pred.params, loaded.space, sigma=pred.sigma, loss=loss, seed=seed,
                       max_evals=refine_evals, max_seconds=refine_seconds)
            record["refined"] = {"params": r.params, "loss": loss, "loss_before": r.loss_before,
                                 "loss_after": r.loss_after, "evaluations": r.evaluations, "stopped": r.stopped}
            shown.append(("refined", gen.render(r.params, 0, w, h)))
        io.write_image(task.extra_targets[0], Frame(shown[-1][1], "ACEScg"), pixel_type="half", overwrite=True)
        io.write_image(task.extra_targets[1], side_by_side(shown).astype(np.float32) / 255.0, colorspace="srgb",
                       bit_depth=8, overwrite=True)
        write_text_atomic(task.target, json.dumps(record, indent=1) + "\n", overwrite=True)
        return {"output": str(task.target)}

    return run_frame_job(manifest, tasks, make, force=force, progress=progress)
