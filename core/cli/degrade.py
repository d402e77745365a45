"""``reelkit degrade IN [OUT] --preset faded_16mm --seed 7``: seeded film damage."""

from __future__ import annotations

import os


def add_parser(sub) -> None:
    from core.cli.main import add_colorspace_options, add_output_options
    from core.degrade import DEGRADE_OUTPUT_PARAMS, DEGRADE_PARAMS

    p = sub.add_parser(
        "degrade",
        help="add physically plausible film damage (grain, dust, scratches, fade, gauge, flicker, weave)",
        description="Degrade a clean file or sequence with a seeded film damage model, to build "
        "supervised training pairs or test footage. Effect options override the preset; --preset also takes a "
        "preset file (.json). 'reelkit degrade match SCAN' matches a scan's damage instead (see its --help).",
    )
    from core.cli.degrade_match import install

    install(p)  # reelkit degrade match ...
    p.add_argument("input", help="input file or sequence pattern (EXR, PNG, TIFF, JPEG) or video (frames numbered from 0)")
    p.add_argument("output", nargs="?", help="output file name or pattern inside --output-dir (default: the input's name)")
    DEGRADE_OUTPUT_PARAMS.add_arguments(p)
    add_colorspace_options(p)
    DEGRADE_PARAMS.add_arguments(p.add_argument_group("effects (override the preset)"))
    add_output_options(p, scheduler=True, frames=True)
    p.set_defaults(func=run)


def run(args) -> int:
    from core.cli.main import colorspace_values
    from core.cli.progress import progress_bar
    from core.degrade import DEGRADE_OUTPUT_PARAMS, DEGRADE_PARAMS, degrade_files, preset_name

    run_opts = DEGRADE_OUTPUT_PARAMS.from_namespace(args)
    # only the effect options the user typed: the rest come from the preset
    given = DEGRADE_PARAMS.given(args)
    output = args.output or os.path.basename(args.input)
    preset = preset_name(run_opts["preset"])
    with progress_bar("degrade", quiet=args.quiet) as update:
        manifest = degrade_files(args.input, output, output_dir=args.output_dir, preset=preset, params=given,
                                 seed=run_opts["seed"], frames=args.frames, force=args.force, progress=update,
                                 pixel_type=run_opts["pixel_type"], compression=run_opts["compression"],
                                 **colorspace_values(args))
    frames = manifest.data["frames"]
    resumed = sum(1 for r in frames.values() if r.get("resumed"))
    if not args.quiet:
        print(f"degraded {len(frames) - resumed} frame(s), {resumed} already done -> {manifest.output_dir}")
    return 0
