"""The main job on built-in sample data: ``reelkit demo``.

Until the five-stage restoration pipeline lands, the demo exercises the
foundation end to end on real photos shipped with reelkit:

1. builds a short ACEScg OpenEXR plate (a slow camera move across a shipped
   photo, decoded from sRGB to scene-linear ACEScg) — ``plate/plate.####.exr``;
2. converts it to sRGB-encoded PNG previews with the same library call as
   ``reelkit convert`` — ``preview/plate.####.png``;
3. encodes the plate with one shared K-means palette (``palette/``: EXRs
   with index / gradient / distance layers, compact packs) and writes a
   palette report for the middle frame (``palette_report/``: swatches, a
   luma-vs-palette comparison, metrics);
4. writes ``manifest.json`` (inputs with sha256, parameters, config hash).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.params import Param, ParamSet

DEMO_PARAMS = ParamSet(
    "demo",
    [
        Param("sample", str, "coffee.png", "shipped photo the plate is made from",
              choices=("chelsea.png", "coffee.png", "rocket.jpg", "astronaut.png")),
        Param("frames", int, 12, "number of plate frames", minimum=2, maximum=240),
        Param("first_frame", int, 1001, "first frame number", minimum=0, maximum=10_000_000),
        Param("width", int, 480, "plate width in pixels", minimum=64, maximum=4096),
        Param("k", int, 8, "palette colours", minimum=2, maximum=256),
    ],
)


def camera_move(image: np.ndarray, n_frames: int, width: int) -> list[tuple[float, float, float]]:
    """A slow push-in and pan: per frame (scale, x0, y0) of a crop of ``image``."""
    h, w = image.shape[:2]
    out = []
    for i in range(n_frames):
        t = i / max(n_frames - 1, 1)
        scale = 1.0 - 0.15 * t
        cw, ch = w * scale, h * scale
        out.append((scale, (w - cw) * t, (h - ch) * 0.5))
    return out


def make_plate_frame(image_acescg: np.ndarray, move: tuple[float, float, float], size: tuple[int, int]) -> np.ndarray:
    """Crop and resample one frame of the camera move (ACEScg, float32 HWC in and out)."""
    import cv2

    scale, x0, y0 = move
    out_w, out_h = size
    zoom = out_w / (image_acescg.shape[1] * scale)
    m = np.array([[zoom, 0.0, -x0 * zoom], [0.0, zoom, -y0 * zoom]], dtype=np.float64)
    out = cv2.warpAffine(image_acescg, m, (out_w, out_h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    return np.maximum(out, 0.0, out=out)  # cubic overshoot must not invent negative light


def run_demo(output_dir: str | os.PathLike, *, params: dict | None = None, force: bool = False,
             progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Build the demo plate and its previews in ``output_dir``; returns a summary dict."""
    from core import color, io
    from core.convert import convert
    from core.manifest import Manifest

    values = DEMO_PARAMS.resolve(params or {})
    out = Path(output_dir)
    manifest = Manifest(out, "demo", {"params": values})
    sample = io.samples.load_sample(values["sample"])
    linear = color.convert(sample.rgb, sample.colorspace, "ACEScg")
    h, w = linear.shape[:2]
    size = (values["width"], int(round(values["width"] * h / w / 2)) * 2)
    moves = camera_move(linear, values["frames"], size[0])
    plate = out / "plate" / "plate.####.exr"
    first = values["first_frame"]
    for i, move in enumerate(moves):
        path = io.sequence_path(str(plate), first + i)
        if force or not Path(path).exists():
            frame = make_plate_frame(linear, move, size)
            io.write_image(path, frame, colorspace="ACEScg", pixel_type="half", overwrite=True,
                           attributes={"reelkit/demo": f"{values['sample']} camera move, frame {i}"})
        if progress:
            progress("plate", i + 1, len(moves))
    frames = f"{first}-{first + len(moves) - 1}"
    conv = convert(str(plate), "plate.####.png", output_dir=out / "preview",
                   params={"source": "ACEScg", "target": "srgb", "bit_depth": "8"}, frames=None, force=force,
                   progress=(lambda d, t, f: progress("preview", d, t)) if progress else None)
    from core.palette.files import encode_files, report

    pal = encode_files(str(plate), output_dir=out / "palette", params={"k": values["k"], "shared": True},
                       force=force, progress=(lambda d, t, f: progress("palette", d, t)) if progress else None)
    middle = io.sequence_path(str(plate), first + len(moves) // 2)
    metrics = report(middle, output_dir=out / "palette_report", params={"k": values["k"]}, force=True)
    manifest.set("outputs", {"plate": str(plate), "preview": str(out / "preview" / "plate.####.png"),
                             "palette": str(out / "palette"), "palette_report": str(out / "palette_report")})
    manifest.set("steps", {"preview": conv.config_hash, "palette": pal.config_hash})
    manifest.set("palette", {"k": values["k"], "de2000_mean": metrics["error"]["de2000_mean"],
                             "luma": metrics["luma"]["summary"]})
    manifest.finish()
    return {"output_dir": str(out), "plate": str(plate), "frames": frames, "previews": len(conv.data["frames"]),
            "palette_de2000": metrics["error"]["de2000_mean"], "palette_luma": metrics["luma"]["summary"]}
