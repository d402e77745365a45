"""``reelkit vision flow|matte|saliency|depth INPUT --output-dir DIR``: analysis passes into EXR channels."""

from __future__ import annotations


def add_parser(sub) -> None:
    from core.cli.main import add_colorspace_options, add_output_options
    from core.vision import PASSES
    from core.vision.files import VISION_PARAMS

    p = sub.add_parser(
        "vision",
        help="optical flow, mattes, saliency and depth of a shot, written as EXR channels Nuke reads",
        description="Run one analysis pass over every frame of a shot (a file, sequence or video) and write "
        "each frame as scene-linear ACEScg OpenEXR with the pass in named channels: flow in Nuke's "
        "forward.u/v and backward.u/v motion channels (+ consistency.backward/forward), matte.A, saliency.Y, "
        "depth.Z. depth (and learned mattes or saliency) need --model: an .onnx on disk with its 'vision' "
        "entry in the manifest.json beside it; nothing is downloaded.",
    )
    p.add_argument("pass_name", metavar="PASS", choices=PASSES, help=f"the pass: {', '.join(PASSES)}")
    p.add_argument("input", help="input file, sequence pattern (plate.####.exr) or video (frames numbered from 0)")
    p.add_argument("output", nargs="?", help="output EXR name or pattern inside --output-dir (default: "
                   "NAME.PASS.####.exr)")
    p.add_argument("--frames", help="frame range, e.g. 1001-1100")
    VISION_PARAMS.add_arguments(p)
    add_colorspace_options(p, writes=False)
    add_output_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from core.cli.main import colorspace_values
    from core.cli.progress import progress_bar
    from core.vision.files import VISION_PARAMS, vision_files

    with progress_bar(f"vision {args.pass_name}", quiet=args.quiet) as update:
        manifest = vision_files(args.pass_name, args.input, output_dir=args.output_dir, output=args.output,
                                params=VISION_PARAMS.from_namespace(args), frames=args.frames, force=args.force,
                                progress=update, **colorspace_values(args))
    frames = manifest.data["frames"]
    resumed = sum(1 for r in frames.values() if r.get("resumed"))
    if not args.quiet:
        print(f"{args.pass_name}: {len(frames) - resumed} frame(s), {resumed} already done -> {manifest.output_dir}")
    return 0
