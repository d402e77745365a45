"""``reelkit train --pairs MANIFEST --config CFG --output-dir DIR``: train a restoration model (stage 3)."""

from __future__ import annotations


def add_parser(sub) -> None:
    from core.cli.main import add_colorspace_options, add_output_options

    p = sub.add_parser(
        "train",
        help="train a restoration network on degraded -> reference pairs (writes model.onnx + model.json)",
        description="Train a small image-to-image network (CopyCat-style) on the selected pairs of a stage-1 "
        "pair manifest with stage 2's aligned references, or on clean frames degraded on the fly. Options "
        "given here override the config file, which overrides the preset. Re-running the same command "
        "resumes from the newest checkpoint; --force starts over. Under torchrun --nproc_per_node N the "
        "N processes train one model (DistributedDataParallel); rank 0 writes the outputs.",
    )
    p.add_argument("--config", help="training config (JSON, reelkit.train_config/1)")
    p.add_argument("--preset", help="training preset (colour_reference, spatial_gauge, ...)")
    src = p.add_argument_group("data (one source; overrides the config's data section)")
    src.add_argument("--pairs", help="stage-1 pair manifest (pairs.json or its folder)")
    src.add_argument("--aligned", help="stage-2 folder with aligned/ and mask/ (default: 02_alignment beside it)")
    src.add_argument("--clean", nargs="+", metavar="FILE",
                     help="clean frames to degrade on the fly (files, patterns, sample:NAME, skimage:NAME, sklearn:NAME)")
    src.add_argument("--degrade-preset", help="core.degrade preset for --clean (default faded_16mm), or several "
                     "separated by commas, mixed per damage variant (faded_16mm,dusty_35mm)")
    p.add_argument("--steps", type=int, help="optimiser steps")
    p.add_argument("--device", help="auto, cpu or cuda")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--init-from", dest="init_from",
                   help="start from a checkpoint, a state_dict .pt or a shipped model's name (film_restore)")
    p.add_argument("--name", help="model name written into model.json")
    add_colorspace_options(p, writes=False, reference=True)
    add_output_options(p)
    p.set_defaults(func=run)


def build_config(args) -> dict:
    """The raw config mapping: the config file, then the options given on the command line."""
    from core.errors import ParameterError
    from core.io.jsonfile import read_json_object

    raw: dict = {}
    if args.config:
        raw = read_json_object(args.config, "training config")
    for key in ("preset", "steps", "device", "seed", "init_from", "name"):
        value = getattr(args, key)
        if value is not None:
            raw[key] = value
    data = dict(raw.get("data") or {})
    if args.pairs or args.clean:
        if args.pairs and args.clean:
            raise ParameterError("--pairs and --clean: give one source of training pairs")
        data = {k: v for k, v in data.items() if k in ("cache_frames", "min_valid")}
        if args.pairs:
            data["pairs"] = args.pairs
        else:
            data["clean"] = list(args.clean)
    if args.aligned:
        data["aligned"] = args.aligned
    if args.degrade_preset:
        names = [n.strip() for n in args.degrade_preset.split(",") if n.strip()]
        degrade = {k: v for k, v in (data.get("degrade") or {}).items() if k not in ("preset", "presets")}
        degrade.update({"preset": names[0]} if len(names) == 1 else {"presets": names})
        data["degrade"] = degrade
    if data:
        raw["data"] = data
    return raw


def run(args) -> int:
    from core.cli.main import colorspace_values
    from core.cli.progress import progress_bar
    from core.errors import OutputExistsError
    from core.pipeline.project import with_alignment_folder
    from core.train import TrainConfig, train

    from core.train.distributed import ranks_from_env

    spaces = colorspace_values(args)
    config = TrainConfig.from_dict(with_alignment_folder(build_config(args)))
    quiet = args.quiet or not ranks_from_env().main  # under torchrun, rank 0 speaks for every process
    with progress_bar("train", quiet=quiet, unit="step") as update:
        try:
            result = train(config, output_dir=args.output_dir, resume=not args.force,
                           progress=lambda step, steps, info: update(step, steps), **spaces)
        except OutputExistsError as exc:
            raise OutputExistsError(f"{exc} (reelkit train: --force starts over)") from None
    if not quiet:
        m = result.metrics
        resumed = f", resumed from step {result.resumed_from}" if result.resumed_from else ""
        print(f"trained {result.steps} steps on {result.device}{resumed}: loss {m['loss_first']:.4g} -> "
              f"{m['loss_last']:.4g}, preview L1 {m['preview_l1_input']:.4g} -> {m['preview_l1']:.4g} "
              f"-> {result.files['onnx']}")
    return 0
