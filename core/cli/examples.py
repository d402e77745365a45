"""Examples shown at the end of every subcommand's ``--help`` (its epilog), one table for all of them.

Keys are the command as typed after ``reelkit`` (``"palette encode"``); each
value lists ``(command, what it does)``. tests/test_cli_help.py parses every
example with the real parser, so a renamed option breaks the tests, not the help.
"""

from __future__ import annotations

EXAMPLES: dict[str, tuple[tuple[str, str], ...]] = {
    "info": (
        ("info plate.1001.exr", "size, channels, bit depth, colour space, min/max/mean per channel, NaN/Inf"),
        ("info plate.####.exr --json", "a sequence: its frames and gaps, stats of the first frame, as JSON"),
        ("info clip.mov", "a video: frame count, rate, codec, stats of a representative frame"),
    ),
    "convert": (
        ("convert plate.####.exr out.####.png --to srgb --output-dir previews", "sRGB previews of a sequence"),
        ("convert scan.%04d.exr --from ACES2065-1 --to ACEScg --frames 1001-1100 --output-dir acescg",
         "change colour space for a frame range"),
        ("convert clip.mov frames.####.exr --to ACEScg --output-dir frames", "a video to an EXR sequence"),
    ),
    "degrade": (
        ("degrade clean.####.exr --preset faded_16mm --seed 7 --output-dir damaged", "film damage, repeatable"),
        ("degrade photo.jpg --preset worn_tape_transfer --seed 1 --output-dir damaged",
         "one photo; the JPEG comes out sRGB-encoded"),
    ),
    "pairs build": (
        ("pairs build --source scan.####.exr --reference dvd.mp4 --output-dir pairs",
         "match a damaged scan to a reference video frame by frame"),
        ("pairs build --source scan.####.exr --reference tk.####.png --reference-colorspace srgb --output-dir pairs",
         "a reference sequence in a stated colour space"),
    ),
    "align": (
        ("align --source scan.####.exr --reference dvd.####.exr --output-dir aligned",
         "warp the reference onto the source, with validity masks and a residual report"),
        ("align --source scan.####.exr --reference dvd.mp4 --frames 1001-1048 --output-dir aligned",
         "a video reference, a frame range"),
    ),
    "palette encode": (
        ("palette encode shot.####.exr --k 8 --shared-palette --output-dir palette", "one palette for the shot"),
        ("palette encode shot.1001.exr --k 12 --output-dir palette", "one frame, twelve colours"),
    ),
    "palette decode": (
        ("palette decode palette/packs/shot.####.npz --output-dir decoded", "packs back to ACEScg EXRs"),
        ("palette decode palette/packs/shot.1001.npz --output-dir decoded", "one pack"),
    ),
    "palette report": (
        ("palette report shot.1001.exr --k 8 --output-dir look", "swatches, luma vs palette, metrics.json"),
        ("palette report photo.png --k 6 --input-colorspace srgb --output-dir look", "a photo, its space stated"),
    ),
    "train": (
        ("train --pairs pairs/pairs.json --aligned aligned --init-from film_restore --output-dir training",
         "fine-tune the shipped model on aligned pairs"),
        ("train --pairs pipeline/01_dataset_curation/pairs.json --preset spatial_gauge --steps 4000 "
         "--output-dir pipeline/03_training", "a preset, a step budget"),
    ),
    "vision": (
        ("vision flow plate.####.exr --frames 1001-1100 --output-dir vectors",
         "forward/backward motion vectors in Nuke's channels, with a consistency mask"),
        ("vision matte clip.mov --box 400,120,300,520 --output-dir mattes",
         "a matte from a box on the first frame, carried along the flow"),
        ("vision depth plate.####.exr --model models/depth_small.onnx --output-dir depth",
         "depth from an ONNX model on disk (its 'vision' manifest entry beside it)"),
        ("vision saliency photo.jpg --saliency-method fine_grained --output-dir saliency", "where the eye goes"),
    ),
    "infer": (
        ("infer --model film_restore plate.####.exr --frames 1001-1100 --output-dir restored",
         "restore a frame range with the shipped model"),
        ("infer --model training/model.onnx clip.mov --temporal --output-dir restored",
         "your own model on a video, repairing one-frame defects from the neighbours"),
    ),
    "validate": (
        ("validate --source scan.####.exr --reference ref.####.exr --candidate ml=restored/scan.####.exr "
         "--output-dir validation", "metrics and a report: the model against the baselines"),
        ("validate --source scan.####.exr --reference aligned/ref.####.exr --mask aligned/mask.####.exr "
         "--candidate ml=restored/ml.####.exr --shot opening=1001-1048 --output-dir validation",
         "masked, per shot"),
    ),
    "restore init": (
        ("restore init shot010 --source scan.####.exr --reference dvd.####.png", "a new project folder"),
        ("restore init shot010 --source scan.####.exr --reference tk.mp4 --input-colorspace ACEScg",
         "a video reference, the source's space stated"),
    ),
    "restore run": (
        ("restore run shot010", "every stage that is not up to date"),
        ("restore run shot010 --stages 4-5 --method winner", "render and validate with the best method"),
        ("restore run shot010 --stages 4 --frames 1001-1010", "one farm task: frames 1001-1010 of stage 4"),
    ),
    "restore status": (
        ("restore status shot010", "what each stage did and whether it is stale"),
        ("restore status /projects/reel3/shot020", "another project"),
    ),
    "demo": (
        ("demo --output-dir demo_output", "the whole pipeline on shipped footage, in minutes"),
        ("demo --output-dir demo_output --force", "again from scratch"),
    ),
    "dataset run": (
        ("dataset run reel1.mov reel2.mp4 --output-dir my_set", "a captioned training set from footage"),
        ("dataset run soft_transfer.mov --blur-relative 0.15 --output-dir my_set",
         "keep softer frames of a soft transfer"),
    ),
    "dataset status": (
        ("dataset status my_set", "what each stage did and whether it is stale"),
        ("dataset status /datasets/reel3", "another dataset folder"),
    ),
    "generate": (  # shown under every family (generate noise, generate chart...)
        ("generate noise --seed 7 --size 512x512 --output-dir gt", "one seeded fBm noise image"),
        ("generate chart --chart zone_plate --preview --output-dir charts", "a test chart and its sRGB preview"),
        ("generate shape --count 200 --seed 1 --output-dir shapes", "a batch of 200 seeded variations"),
    ),
    "inverse data": (
        ("inverse data generate:shape --vary shape=circle,box,ring --vary center_x=0.3:0.7 --vary radius "
         "--count 400 --seed 1 --output-dir shapes_train", "a stratified (image, params) set, 64x64"),
        ("inverse data generate:repetition --vary element --vary repeats=1:16 --vary filled --fixed scene_scale=1 "
         "--count 2000 --size 128x128 --output-dir reps", "categorical, integer and boolean params"),
    ),
    "inverse train": (
        ("inverse train shapes_train --steps 300 --output-dir shapes_model", "a CNN for the set, on the CPU"),
        ("inverse train reps --steps 3000 --batch-size 64 --width 32 --seed 2 --output-dir reps_model",
         "a wider network, more steps"),
    ),
    "inverse predict": (
        ("inverse predict shapes_model/model.onnx target.exr --output-dir guess", "params JSON and re-render"),
        ("inverse predict shapes_model/model.onnx a.exr b.exr --refine 200 --loss ssim --output-dir refined",
         "refined by 200 CMA-ES renders each"),
    ),
    "verify": (
        ("verify previews", "re-hash every file the manifests under previews/ record"),
        ("verify pipeline -q", "only the exit status and the mismatches"),
    ),
    "models list": (
        ("models list --json", "the search path and every model found by name: name, version, folder, file"),
        ("models list --folder /studio/models", "a studio folder alone, before it goes on $REELKIT_MODEL_PATH"),
    ),
    "models info": (
        ("models info film_restore", "the shipped model's input spec and training provenance"),
        ("models info my_model", "a model from a folder on $REELKIT_MODEL_PATH"),
    ),
    "models verify": (
        ("models verify film_restore -q", "re-hash one model and its weights; problems only"),
        ("models verify --folder /studio/models", "every model of a studio folder"),
    ),
    "mcp": (
        ("mcp --root /shows/reel3", "serve the tools to an assistant over stdio; nothing outside the root is touched"),
        ("mcp --root shots --root renders --confirm-frames 20", "two roots; calls over 20 frames need the plan's token"),
    ),
    "export-nuke": (
        ("export-nuke film_restore --output-dir nuke_models", "the shipped model as TorchScript + its sidecar"),
        ("export-nuke runs/my_model --output-dir /studio/nuke/cattery --force", "a reelkit train output folder"),
    ),
    "farm export": (
        ("farm export \"infer --model film_restore plate.####.exr --output-dir restored\" --chunk 10 --format openjd "
         "--output-dir farm_job", "an Open Job Description template: one task per 10 frames"),
        ("farm export my_project --stages 2-5 --chunk 20 --format deadline --output-dir farm_job",
         "a restore project: stages 2 and 4 in chunks, one Deadline job per stage"),
    ),
    "nuke install": (
        ("nuke install --target /home/you/.nuke/reelkit", "copy init.py, menu.py and gizmos/ there (the default)"),
        ("nuke install --target /studio/nuke/reelkit --force", "a shared folder, replacing an older install"),
    ),
}


def examples(command: str) -> tuple[tuple[str, str], ...]:
    """The examples of ``command`` ("palette encode"), else of the nearest command above it that has some
    (``generate noise`` shows ``generate``'s); empty when none."""
    words = command.split()
    while words:
        if " ".join(words) in EXAMPLES:
            return EXAMPLES[" ".join(words)]
        words.pop()
    return ()


def epilog(command: str) -> str | None:
    """The ``--help`` epilog of ``command`` ("palette encode"): its :func:`examples`, or ``None``."""
    rows = examples(command)
    if not rows:
        return None
    return "examples:\n" + "\n".join(f"  reelkit {cmd}\n      {what}" for cmd, what in rows)
