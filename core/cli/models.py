"""``reelkit models list|info NAME|verify [NAME]``: the models found by name on the model search path."""

from __future__ import annotations

import json
import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "models",
        help="list, describe and check the models found by name (REELKIT_MODEL_PATH, then the shipped ones)",
        description="Models are found by name on a search path: the folders of $REELKIT_MODEL_PATH "
        "(os.pathsep-separated), then the models shipped with reelkit. Each folder holds a manifest.json.",
    )
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    v = verbs.add_parser("list", help="every model found by name: name, version, folder (first on the path wins)",
                         description="Print the search path, then one line per model: name, version, file; then "
                         "one per vision model (reelkit vision): id, 'vision TASK', file.")
    v.add_argument("--json", action="store_true", help="print the search path and the models as JSON")
    v.add_argument("--folder", help="list this model folder alone (check a folder before adding it to the path)")
    v.set_defaults(func=run_list)
    v = verbs.add_parser("info", help="a model's manifest entry (input spec, training provenance) as JSON",
                         description="Print the manifest entry of the model NAME and where it was found.")
    v.add_argument("name", help="a model's name (film_restore)")
    v.set_defaults(func=run_info)
    v = verbs.add_parser("verify", help="re-hash models and weights against their manifests",
                         description="Check the sha256 of every model file and its torch weights (or of NAME's) "
                         "against the manifest.json that lists it; one line per missing or changed file, exit "
                         "status 1 when any.")
    v.add_argument("name", nargs="?", help="only this model (default: every model on the search path)")
    v.add_argument("--folder", help="check this model folder alone, not the search path")
    v.add_argument("--quiet", "-q", action="store_true", help="print problems only")
    v.set_defaults(func=run_verify)


def run_list(args) -> int:
    from pathlib import Path

    from core.infer.model import ModelError
    from core.infer.shipped import MODEL_PATH_ENV, available_models, model_path
    from core.vision.learned import vision_models

    if args.folder is not None and not (Path(args.folder) / "manifest.json").is_file():
        raise ModelError(f"--folder {args.folder}: no manifest.json (a model folder lists its models in one)")
    path = [Path(args.folder)] if args.folder is not None else model_path()
    models = sorted(available_models(args.folder).items())
    vision = sorted(vision_models(args.folder).items())
    if args.json:
        print(json.dumps({"path": [str(p) for p in path],
                          "models": [{"name": name, "version": entry.get("version"), "folder": str(folder),
                                      "file": str(entry.get("file"))} for name, (folder, entry) in models],
                          "vision": [{"id": vid, "task": entry.get("task"), "licence": entry.get("licence"),
                                      "folder": str(folder), "file": str(entry.get("file"))}
                                     for vid, (folder, entry) in vision]},
                         indent=1))
        return 0
    print(f"folder {args.folder}:" if args.folder is not None else f"search path (${MODEL_PATH_ENV}, then shipped):")
    for folder in path:
        print(f"  {folder}" + ("" if (folder / "manifest.json").is_file() else "  (no manifest.json)"))
    for name, (folder, entry) in models:
        print(f"{name}\t{entry.get('version', '?')}\t{folder / str(entry.get('file'))}")
    for vid, (folder, entry) in vision:  # reelkit vision's models (core.vision.learned), by id
        print(f"{vid}\tvision {entry.get('task', '?')}\t{folder / str(entry.get('file'))}")
    return 0


def run_info(args) -> int:
    from core.infer.shipped import available_models, shipped_entry

    entry = shipped_entry(args.name)  # one line listing the folders and names when unknown
    folder = available_models()[args.name][0]
    print(json.dumps({"folder": str(folder), **entry}, indent=1))
    return 0


def run_verify(args) -> int:
    from core.infer.shipped import verify_models

    checked, problems = verify_models(args.name, args.folder)
    for line in problems:
        print(line)
    if not args.quiet:
        print(f"{checked} file(s) checked, {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0
