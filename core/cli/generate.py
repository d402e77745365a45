"""``reelkit generate FAMILY [--param value ...] --seed S --size WxH --count N -o DIR``: procedural ground truth."""

from __future__ import annotations


def add_parser(sub) -> None:
    from core.cli.main import add_output_options
    from core.generate import FAMILIES
    from core.generate.files import GENERATE_RUN_PARAMS

    p = sub.add_parser(
        "generate",
        help="render seeded procedural images and test charts (noise, ramps, shapes, repetition scenes, charts)",
        description="Render ground truth nobody photographed: scene-linear ACEScg OpenEXR half (params and seed "
                    "in the header), a params JSON beside each image, optional sRGB PNG previews. --count N makes "
                    "a batch of seeded variations, the (image, params) data set of the inverse model. Same "
                    "params and seed, same bytes, on any machine. 'reelkit generate --list' prints the families.",
    )
    p.add_argument("--list", action="store_true", help="print every family and its parameters, then exit")
    families = p.add_subparsers(dest="family", metavar="FAMILY")
    for fam in FAMILIES.values():
        f = families.add_parser(fam.name, help=fam.summary, description=f"{fam.name}: {fam.summary}.")
        GENERATE_RUN_PARAMS.add_arguments(f)
        fam.spec.add_arguments(f.add_argument_group(f"{fam.name} parameters"))
        add_output_options(f)
        f.set_defaults(func=run)
    p.set_defaults(func=run)


def list_families(names) -> str:
    """The ``--list`` text: each family, then each parameter with its default, range or choices and help."""
    from core.generate import FAMILIES

    lines = []
    for name in names:
        fam = FAMILIES[name]
        lines.append(f"{fam.name}: {fam.summary}")
        for param in fam.spec:
            if param.choices:
                allowed = "{" + ",".join(param.choices) + "}"
            elif param.minimum is not None or param.maximum is not None:
                allowed = f"{param.minimum:g}..{param.maximum:g}"
            else:
                allowed = param.kind.__name__
            lines.append(f"  {param.flag:<22} {allowed:<36} default {param.default!r}: {param.help}")
    return "\n".join(lines)


def run(args) -> int:
    from core.cli.progress import progress_bar
    from core.errors import ParameterError
    from core.generate import FAMILIES, family
    from core.generate.files import GENERATE_RUN_PARAMS, generate_files

    if getattr(args, "list", False):
        print(list_families(list(FAMILIES)))
        return 0
    if not args.family:
        raise ParameterError(f"a FAMILY is required: one of {', '.join(FAMILIES)} (or --list)")
    given = family(args.family).spec.given(args)
    run_opts = GENERATE_RUN_PARAMS.given(args)
    with progress_bar("generate", quiet=args.quiet) as update:
        manifest = generate_files(args.family, given, output_dir=args.output_dir, force=args.force, progress=update,
                                  **run_opts)
    frames = manifest.data["frames"]
    resumed = sum(1 for r in frames.values() if r.get("resumed"))
    if not args.quiet:
        print(f"generated {len(frames) - resumed} image(s), {resumed} already done -> {manifest.output_dir}")
    return 0
