"""Peak memory of per-frame commands on one huge frame, as a multiple of the frame's float32 size.

    python benchmarks/memory_bench.py [--size 16384] [--commands convert-png,convert-exr,degrade,infer,palette]
                                      [--workdir /tmp/reelkit_memory] [--limit-gb 12]

The frame is made once into ``--workdir`` (kept for later runs): a
``size x size`` RGB half OpenEXR tagged ACEScg holding smooth gradients
(R along x, G along y, B along the diagonal, 0..1), so the file is small
(a 16k frame is ~11 MB with ZIP) while the decoded frame is not. For
``palette`` the input is a real photo instead: scikit-image's ``astronaut``
upscaled (OpenCV bicubic) to 2560x1600 and written as a JPEG.

Each command runs in its own process (``python -m core.cli.main ...``, one
at a time, ``OMP_NUM_THREADS=1``); its peak resident set size is the
child's ``ru_maxrss`` from ``os.wait4``. The same command on a 64x64 frame
gives the interpreter-and-libraries baseline. Printed per command: peak
RSS, baseline, and ``(peak - baseline) / frame float32 size`` (the frame
is ``size^2 x 3 x 4`` bytes). Targets (issue 15 item 7, issue 25 item 11):
below 3x for convert / degrade / infer, below 4x for palette report.

``--limit-gb`` caps each child's address space (``RLIMIT_AS``) so that a
command that would take the machine's memory fails with MemoryError
instead; such a run prints ``over the limit``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GIB = 1024**3
PALETTE_SIZE = (2560, 1600)


def make_gradient_exr(path: Path, size: int) -> None:
    """A ``size x size`` RGB half EXR of smooth gradients tagged ACEScg, built a band of rows at a time."""
    import OpenEXR

    planes = {c: np.empty((size, size), np.float16) for c in "RGB"}
    x = np.arange(size, dtype=np.float32) / np.float32(max(size - 1, 1))
    band = 1024
    for y0 in range(0, size, band):
        y = (np.arange(y0, min(size, y0 + band), dtype=np.float32) / np.float32(max(size - 1, 1)))[:, None]
        planes["R"][y0:y0 + band] = np.broadcast_to(x[None, :], (y.shape[0], size))
        planes["G"][y0:y0 + band] = np.broadcast_to(y, (y.shape[0], size))
        planes["B"][y0:y0 + band] = (x[None, :] + y) * np.float32(0.5)
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage,
              "reelkit/colorspace": "ACEScg"}
    tmp = path.with_suffix(".tmp.exr")
    OpenEXR.File(header, planes).write(str(tmp))
    os.replace(tmp, path)


def make_photo_jpeg(path: Path) -> None:
    """scikit-image's astronaut upscaled to 2560x1600 (bicubic), JPEG quality 95."""
    import cv2
    from skimage import data

    img = cv2.resize(data.astronaut(), PALETTE_SIZE, interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(path), img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])


def peak_rss(argv: list[str], limit_gb: float | None) -> tuple[int, int, str]:
    """(peak RSS in bytes, exit status, last stderr line) of ``python -m core.cli.main argv``."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")

    def cap():
        if limit_gb:
            lim = int(limit_gb * GIB)
            resource.setrlimit(resource.RLIMIT_AS, (lim, lim))

    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "core.cli.main", *argv], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=err, preexec_fn=cap)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        lines = err.read().decode(errors="replace").strip().splitlines()
    return usage.ru_maxrss * 1024, proc.returncode, lines[-1] if lines else ""


def commands(frame: Path, photo: Path, out: Path) -> dict[str, list[str]]:
    return {
        "convert-png": ["convert", str(frame), "big.png", "--to", "srgb", "-o", str(out / "convert_png"), "-q"],
        "convert-exr": ["convert", str(frame), "big.exr", "--to", "lin_rec709", "-o", str(out / "convert_exr"), "-q"],
        "degrade": ["degrade", str(frame), "big.exr", "--preset", "faded_16mm", "--seed", "7",
                    "-o", str(out / "degrade"), "-q"],
        "infer": ["infer", "--model", "film_restore", str(frame), "big.exr",
                  "-o", str(out / "infer"), "-q"],
        "palette": ["palette", "report", str(photo), "--k", "8", "-o", str(out / "palette"), "-q"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=16384)
    ap.add_argument("--commands", default="convert-png,convert-exr,degrade,infer,palette")
    ap.add_argument("--workdir", default="/tmp/reelkit_memory")
    ap.add_argument("--limit-gb", type=float, default=12.0, help="address-space cap per command (0: none)")
    args = ap.parse_args()

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    frame = work / f"gradient_{args.size}.exr"
    small = work / "gradient_64.exr"
    photo = work / "astronaut_2560x1600.jpg"
    for path, make in ((frame, lambda p: make_gradient_exr(p, args.size)), (small, lambda p: make_gradient_exr(p, 64)),
                       (photo, make_photo_jpeg)):
        if not path.exists():
            make(path)
    sizes = {"palette": PALETTE_SIZE[0] * PALETTE_SIZE[1] * 3 * 4}
    print(f"frame {args.size}x{args.size} RGB: {frame.stat().st_size / 1e6:.1f} MB file, "
          f"{args.size**2 * 3 * 4 / GIB:.2f} GiB as float32; limit {args.limit_gb or 'none'} GiB per command")
    print(f"{'command':12s} {'peak GiB':>9s} {'base GiB':>9s} {'(peak-base)/frame':>18s}  status")
    for name in args.commands.split(","):
        out = work / "out"
        shutil.rmtree(out, ignore_errors=True)
        big = commands(photo if name == "palette" else frame, photo, out)[name]
        base_in = small if name != "palette" else photo
        tiny = commands(base_in, base_in, out / "base")[name]
        if name == "palette":  # baseline: the same command on a 64x64 crop of the photo
            import cv2

            crop = work / "astronaut_64.jpg"
            if not crop.exists():
                cv2.imwrite(str(crop), cv2.imread(str(photo))[:64, :64])
            tiny = commands(crop, crop, out / "base")[name]
        base, _, _ = peak_rss(tiny, args.limit_gb)
        peak, rc, last = peak_rss(big, args.limit_gb)
        size = sizes.get(name, args.size**2 * 3 * 4)
        status = "ok" if rc == 0 else f"exit {rc}: {last[:100]}"
        print(f"{name:12s} {peak / GIB:9.2f} {base / GIB:9.2f} {(peak - base) / size:18.2f}  {status}", flush=True)
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
