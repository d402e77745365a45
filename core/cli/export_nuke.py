"""``reelkit export-nuke MODEL --output-dir DIR``: TorchScript for Nuke's Inference node (core.train.cattery)."""

from __future__ import annotations


def add_parser(sub) -> None:
    from core.cli.main import add_output_options

    p = sub.add_parser(
        "export-nuke",
        help="write a model as TorchScript for Nuke's CatFileCreator (.cat for the Inference node) + a sidecar",
        description="Rebuild MODEL's network from its torch weights and write NAME.pt (TorchScript: one "
        "1x3xHxW scene-linear input, one output; encoding, padding and the whole-frame context computed "
        "inside) and NAME.cat.json (CatFileCreator's channels, model id and scale; colour space; tile advice). "
        "Needs the train extra (torch). docs/nuke-cattery.md has the CatFileCreator steps.",
    )
    p.add_argument("model", help="a model's name (film_restore), its .onnx, or a reelkit train output folder")
    add_output_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from core.train.cattery import export_cattery

    pt, sidecar = export_cattery(args.model, args.output_dir, overwrite=args.force)
    if not args.quiet:
        print(f"wrote {pt}")
        print(f"wrote {sidecar}")
        print("in Nuke: CatFileCreator, Torchscript File = that .pt, Channels In/Out and Model Id from the .cat.json")
    return 0
