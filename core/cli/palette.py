"""``reelkit palette encode|decode|report``: spectrum-based palette reconstruction."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    from core.cli.main import add_colorspace_options, add_output_options
    from core.palette import ENCODE_PARAMS
    from core.palette.params import REPORT_PARAMS

    p = sub.add_parser("palette", help="K-means palette maps that keep hue identity where luma merges it",
                       description="Fit a palette of an image's dominant colours and map every pixel to it.")
    psub = p.add_subparsers(dest="palette_command", metavar="ACTION", required=True)

    enc = psub.add_parser("encode", help="fit and encode a file or sequence (index, gradient, distance, pack)",
                          description="Per frame: <stem>.####.exr (RGB reconstruction + palette_index, "
                          "palette_gradient, palette_distance layers) and packs/<stem>.####.npz.")
    enc.add_argument("input", help="image file, sequence pattern or video (frames numbered from 0) (any colour space reelkit reads)")
    ENCODE_PARAMS.add_arguments(enc, skip=("output", "shared"))
    enc.add_argument("--shared-palette", dest="shared", action="store_true", default=None,
                     help="fit one palette over the whole shot so the encoding does not flicker")
    enc.add_argument("--stability-threshold", type=float, default=2.0,
                     help="warn when palettes move more than this between frames (ΔE OK x 100; default 2)")
    add_colorspace_options(enc, writes=False)
    add_output_options(enc, scheduler=True, frames=True)
    enc.set_defaults(func=run_encode)

    dec = psub.add_parser("decode", help="decode packs (.npz) or palette EXRs back to ACEScg images")
    dec.add_argument("input", help="pack file or pattern (plate.####.npz) or palette EXR")
    dec.add_argument("output", nargs="?", help="output file name or pattern inside --output-dir")
    add_output_options(dec, scheduler=True, frames=True)
    dec.set_defaults(func=run_decode)

    rep = psub.add_parser("report", help="swatches, luma vs palette comparison and metrics for one image")
    rep.add_argument("input", help="image file")
    REPORT_PARAMS.add_arguments(rep, skip=("output", "shared"))
    add_colorspace_options(rep, writes=False)
    add_output_options(rep)
    rep.set_defaults(func=run_report)


def _values(args) -> dict:
    from core.palette import ENCODE_PARAMS

    return ENCODE_PARAMS.given(args)


def run_encode(args) -> int:
    from core.cli.main import colorspace_values
    from core.cli.progress import progress_bar
    from core.palette.files import encode_files

    with progress_bar("palette encode", quiet=args.quiet) as update:
        manifest = encode_files(args.input, output_dir=args.output_dir, params=_values(args), frames=args.frames,
                                force=args.force, progress=update, stability_threshold=args.stability_threshold,
                                **colorspace_values(args))
    frames = manifest.data["frames"]
    stability = manifest.data.get("stability", {})
    if stability.get("warning"):
        print(f"reelkit palette encode: warning: {stability['warning']}", file=sys.stderr)
    if not args.quiet:
        errors = [r["error"]["de2000_mean"] for r in frames.values() if "error" in r]
        mean = f", mean ΔE00 {sum(errors) / len(errors):.2f}" if errors else ""
        print(f"encoded {len(frames)} frame(s){mean} -> {manifest.output_dir}")
    return 0


def run_decode(args) -> int:
    from core.cli.progress import progress_bar
    from core.palette.files import decode_files

    with progress_bar("palette decode", quiet=args.quiet) as update:
        manifest = decode_files(args.input, args.output, output_dir=args.output_dir, frames=args.frames,
                                force=args.force, progress=update)
    if not args.quiet:
        print(f"decoded {len(manifest.data['frames'])} frame(s) -> {manifest.output_dir}")
    return 0


def run_report(args) -> int:
    from core.cli.main import colorspace_values
    from core.palette.files import report

    metrics = report(args.input, output_dir=args.output_dir, params=_values(args), force=args.force,
                     **colorspace_values(args))
    if not args.quiet:
        e = metrics["error"]
        print(f"K={metrics['palette']['k']}: ΔE00 mean {e['de2000_mean']:.2f} / p95 {e['de2000_p95']:.2f}; "
              f"{metrics['luma']['summary']}")
        print(metrics["hue_coverage"]["message"])
        print(f"wrote swatches.png, luma_vs_palette.png, metrics.json -> {args.output_dir}")
    return 0
