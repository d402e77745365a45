"""``reelkit infer --model M.onnx IN --output-dir DIR [--frames A-B]``: restore frames with a model (stage 4)."""

from __future__ import annotations


def add_parser(sub) -> None:
    from core.cli.main import add_colorspace_options, add_output_options
    from core.infer import INFER_PARAMS

    p = sub.add_parser(
        "infer",
        help="restore a file or sequence with an ONNX model, or its torch network (tiled, resumable, scene-linear "
        "EXR out)",
        description="Run a restoration model over every frame: tiled with feathered overlaps (no seams), "
        "alpha passed through, written as scene-linear ACEScg OpenEXR. Frames already rendered with the "
        "same model and settings are skipped; --force redoes them.",
    )
    p.add_argument("--model", "-m", required=True,
                   help="an .onnx file with its manifest beside it, or a shipped model's name (film_restore)")
    p.add_argument("input", help="input file, sequence pattern (plate.####.exr) or video (frames numbered from 0)")
    p.add_argument("output", nargs="?", help="output EXR name or pattern inside --output-dir (default: the "
                   "input's name with .exr)")
    INFER_PARAMS.add_arguments(p)
    add_colorspace_options(p, writes=False)
    add_output_options(p, scheduler=True, frames=True)
    p.set_defaults(func=run)


def run(args) -> int:
    from core.cli.main import colorspace_values
    from core.cli.progress import progress_bar, tile_bar
    from core.infer import INFER_PARAMS, infer_files
    from core.train.torch_model import load_for

    params = INFER_PARAMS.from_namespace(args)
    # resolved, read and hashed once for the whole job; provider torch: its torch network too (no torch: one line)
    model = load_for(args.model, INFER_PARAMS.resolve(params)["provider"])
    with progress_bar("infer", quiet=args.quiet) as update, tile_bar(quiet=args.quiet) as tiles:
        manifest = infer_files(model, args.input, output_dir=args.output_dir, output=args.output,
                               params=params, frames=args.frames, force=args.force,
                               progress=update, tile_progress=tiles, **colorspace_values(args))
    frames = manifest.data["frames"]
    resumed = sum(1 for r in frames.values() if r.get("resumed"))
    if not args.quiet:
        print(f"restored {len(frames) - resumed} frame(s), {resumed} already done with {model.path.name} "
              f"-> {manifest.output_dir}")
    return 0
