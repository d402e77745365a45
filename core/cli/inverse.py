"""``reelkit inverse data | train | predict``: image -> params models for a generator (core.inverse)."""

from __future__ import annotations


def add_parser(sub) -> None:
    from core.cli.main import add_output_options
    from core.inverse.refine import LOSSES
    from core.inverse.train import INVERSE_TRAIN_PARAMS

    p = sub.add_parser("inverse", help="learn the parameters of a generator's images: data, train, predict",
                       description="Inverse models (core.inverse): a CNN that reads an image and answers the "
                       "parameters that make it, refined by CMA-ES against the generator's render.")
    cmds = p.add_subparsers(dest="inverse_command", metavar="COMMAND", required=True)

    d = cmds.add_parser("data", help="render a seeded, stratified (image, params) data set",
                        description="Render COUNT samples of GENERATOR (generate:FAMILY) into --output-dir: "
                        "EXR + params JSON per sample and a manifest; every categorical value appears equally. "
                        "Re-running resumes; --force redoes.")
    d.add_argument("generator", help="generate:FAMILY (e.g. generate:shape)")
    d.add_argument("--vary", action="append", required=True, metavar="NAME[=LOW:HIGH|=A,B,C]",
                   help="a parameter to learn, with its range or choices (default: the family's sampling range)")
    d.add_argument("--fixed", action="append", default=[], metavar="NAME=VALUE",
                   help="a value for a parameter not learned (others keep their defaults)")
    d.add_argument("--count", type=int, default=200, help="samples to make (default 200)")
    d.add_argument("--seed", type=int, default=0, help="seed of every draw (default 0)")
    d.add_argument("--size", default="64x64", help="image size WIDTHxHEIGHT (default 64x64)")
    add_output_options(d)
    d.set_defaults(func=run_data)

    t = cmds.add_parser("train", help="train the image -> params CNN on a data set (CPU, deterministic)",
                        description="Train a ResNet-18-style CNN on DATA (a folder made by 'reelkit inverse "
                        "data'); writes model.onnx + model.json, model.pt, loss.csv and a manifest.")
    t.add_argument("data", help="the data set folder")
    INVERSE_TRAIN_PARAMS.add_arguments(t)
    add_output_options(t)
    t.set_defaults(func=run_train)

    r = cmds.add_parser("predict", help="predict (and refine) the params of images",
                        description="Predict the params of each IMAGE with MODEL (model.onnx of 'reelkit inverse "
                        "train'); --refine N refines them with N renders of CMA-ES. Writes NAME.params.json and "
                        "NAME.render.exr per image.")
    r.add_argument("model", help="model.onnx (its model.json beside it)")
    r.add_argument("images", nargs="+", help="images of the model's size")
    r.add_argument("--refine", type=int, default=0, metavar="N", help="CMA-ES renders per image (0: none)")
    r.add_argument("--refine-seconds", type=float, default=None, metavar="S",
                   help="stop each refinement after S seconds (the answer then depends on the machine's speed)")
    r.add_argument("--loss", default="mse", choices=tuple(LOSSES), help="image loss of the refinement")
    r.add_argument("--seed", type=int, default=0, help="seed of the refinement")
    add_output_options(r)
    r.set_defaults(func=run_predict)


def run_data(args) -> int:
    from core.cli.progress import progress_bar
    from core.errors import ParameterError
    from core.generate import parse_size
    from core.inverse.data import make_dataset
    from core.inverse.generators import generator
    from core.inverse.space import ParamSpace, parse_vary

    gen = generator(args.generator)
    fixed = {}
    for item in args.fixed:
        name, eq, value = item.partition("=")
        if not eq:
            raise ParameterError(f"--fixed {item!r}: expected NAME=VALUE")
        fixed[name.strip()] = value.strip()
    vary = parse_vary(args.vary)
    space = ParamSpace.from_spec(gen.spec, {k: gen.sampling.get(k) if v is None else v for k, v in vary.items()},
                                 fixed)
    width, height = parse_size(args.size)
    with progress_bar("inverse data", quiet=args.quiet, unit="image") as update:
        manifest = make_dataset(gen, space, args.output_dir, count=args.count, seed=args.seed, width=width,
                                height=height, force=args.force, progress=update)
    if not args.quiet:
        print(f"{len(manifest.data['frames'])} samples of {gen.name} ({', '.join(space.names)}) -> {args.output_dir}")
    return 0


def run_train(args) -> int:
    from core.cli.progress import progress_bar
    from core.inverse.train import INVERSE_TRAIN_PARAMS, train_inverse

    settings = INVERSE_TRAIN_PARAMS.given(args)
    with progress_bar("inverse train", quiet=args.quiet, unit="step") as update:
        result = train_inverse(args.data, args.output_dir, force=args.force,
                               progress=lambda step, steps, loss: update(step, steps), **settings)
    if not args.quiet:
        print(f"trained {result.settings['steps']} steps, loss {result.metrics['loss']:.4g} -> {result.onnx}")
    return 0


def run_predict(args) -> int:
    from core.cli.progress import progress_bar
    from core.inverse.files import predict_files

    with progress_bar("inverse predict", quiet=args.quiet, unit="image") as update:
        manifest = predict_files(args.model, args.images, output_dir=args.output_dir, refine_evals=args.refine,
                                 refine_seconds=args.refine_seconds, loss=args.loss, seed=args.seed,
                                 force=args.force, progress=update)
    if not args.quiet:
        print(f"predicted {len(manifest.data['frames'])} image(s) -> {args.output_dir}")
    return 0
