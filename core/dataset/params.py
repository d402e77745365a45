"""Every parameter of the dataset builder: one spec for CLI options, config keys, Nuke knobs and widgets.

:data:`DATASET_PARAMS` holds them all; :data:`STAGE_PARAMS` says which
belong to which stage. A stage's config hash covers only its own values
(plus the hashes of the stages it reads), so changing a caption option
never redoes shot detection.
"""

from __future__ import annotations

from core.dataset.layers import LAYER_METHODS
from core.io._common import COLORSPACE_PARAMS
from core.params import Param, ParamSet
from core.shots.video import DETECTORS

#: The stages of :func:`core.dataset.run_dataset`, in order.
STAGES = ("shots", "extract", "filter", "embed", "dedup", "cluster", "caption", "assemble")

EXTRACT_MODES = ("scene", "interval", "hybrid")
LAYOUTS = ("plain", "kohya")

_SEED_MAX = 2**31 - 1

DATASET_PARAMS = ParamSet(
    "dataset",
    [
        # -- shots --------------------------------------------------------------------------------
        Param("detector", str, "adaptive", "PySceneDetect detector: adaptive (rolling average, robust to "
              "camera motion), content (HSV change over a fixed threshold), threshold (fades to/from black), "
              "transnetv2 (neural network; the dataset-transnet extra)",
              choices=DETECTORS, label="Shot detector"),
        Param("detector_threshold", float, 0.0, "the detector's threshold; 0: its own default (adaptive 3.0, "
              "content 27, threshold 12, transnetv2 0.5)", minimum=0.0, maximum=255.0, label="Detector threshold"),
        Param("min_shot_length", int, 15, "cuts closer than this many frames to the previous one are ignored",
              minimum=1, maximum=10000, label="Min shot length"),
        # -- extract ------------------------------------------------------------------------------
        Param("extract_mode", str, "hybrid", "which frames to take: scene (spread evenly over each shot), "
              "interval (one every interval seconds), hybrid (both, merged)", choices=EXTRACT_MODES,
              label="Extraction mode"),
        Param("interval", float, 1.0, "seconds between frames taken in interval and hybrid modes",
              minimum=0.01, maximum=3600.0, label="Interval (s)"),
        Param("per_shot_budget", int, 8, "at most this many frames are taken from one shot",
              minimum=1, maximum=10000, label="Frames per shot"),
        Param("shot_margin", int, 2, "frames next to a cut are skipped (dissolves, motion blur of the cut)",
              minimum=0, maximum=1000, label="Shot margin"),
        # -- filter -------------------------------------------------------------------------------
        Param("blur_relative", float, 0.25, "frames whose Laplacian variance (8-bit grey) is below this "
              "fraction of their video's median (over its frames no other reason rejects) are rejected as "
              "blurred; 0: no relative rule (core.dataset.quality)", minimum=0.0, maximum=1.0,
              label="Blur (relative)"),
        Param("blur_threshold", float, 0.0, "frames whose Laplacian variance (8-bit grey) is below this "
              "absolute value are rejected as blurred, whatever the footage (80 suits sharp 0.1-1 megapixel "
              "frames); 0: off", minimum=0.0, maximum=1e6, label="Blur threshold"),
        Param("dark_threshold", float, 0.06, "frames whose mean luma (0..1, display) is below this are "
              "rejected as underexposed", minimum=0.0, maximum=1.0, label="Dark threshold"),
        Param("bright_threshold", float, 0.94, "frames whose mean luma is above this are rejected as "
              "overexposed", minimum=0.0, maximum=1.0, label="Bright threshold"),
        Param("clip_fraction", float, 0.5, "frames with more than this fraction of pixels crushed (<2/255) "
              "or clipped (>253/255) are rejected", minimum=0.0, maximum=1.0, label="Clip fraction"),
        Param("min_entropy", float, 3.0, "frames whose grey histogram entropy (bits, 0..8) is below this are "
              "rejected as low information (flat, title cards)", minimum=0.0, maximum=8.0,
              label="Min entropy"),
        Param("min_size", int, 128, "frames whose shorter side is below this many pixels are rejected",
              minimum=1, maximum=100000, label="Min size"),
        Param("layers", str, "off", "layered segmentation (core.dataset.layers): grabcut (a subject matte from a "
              "saliency box) or model (the matting model in matte_model); frames with no subject are rejected "
              "(no_subject), the others get character, background and masked-crop layers; off: none",
              choices=LAYER_METHODS, label="Layers"),
        Param("matte_model", str, "", "a vision matte model for layers model: an .onnx with its 'vision' "
              "manifest entry, or its id on the model path (reelkit vision)", label="Matte model"),
        Param("saliency_crop", int, 0, "crop every image of the set to the square window of this side (at most "
              "the frame's short side) holding the most saliency; 0: whole frames", minimum=0, maximum=16384,
              label="Saliency crop"),
        # -- embed --------------------------------------------------------------------------------
        Param("embedder", str, "classical", "image embedding: classical (colour + gradient statistics, no "
              "model), onnx (the vision encoder in onnx_model) or face (dlib face identity + classical; the "
              "dataset-faces extra)", choices=("classical", "onnx", "face"),
              label="Embedder"),
        Param("onnx_model", str, "", "path of an ONNX vision encoder (NCHW float input, one vector out) "
              "for embedder onnx", label="ONNX model"),
        Param("onnx_mean", str, "0.485,0.456,0.406", "per-channel mean subtracted from 0..1 RGB before the "
              "ONNX encoder", label="ONNX mean"),
        Param("onnx_std", str, "0.229,0.224,0.225", "per-channel std the ONNX input is divided by",
              label="ONNX std"),
        Param("cache_dir", str, "", "embedding cache folder (shared between datasets); empty: "
              "OUTPUT_DIR/cache", label="Cache folder"),
        # -- dedup --------------------------------------------------------------------------------
        Param("phash_distance", int, 8, "within a shot, frames whose 64-bit perceptual hashes differ in at most "
              "this many bits are near-duplicate candidates", minimum=0, maximum=64, label="pHash distance"),
        Param("ssim_threshold", float, 0.80, "a candidate pair is a near duplicate when the SSIM of their "
              "grey thumbnails is at least this", minimum=0.0, maximum=1.0, label="SSIM threshold"),
        Param("embedding_distance", float, 0.005, "across shots, frames whose embeddings are closer than this "
              "cosine distance are duplicates; 0 turns the step off (classical embedding: the same shot "
              "from another print measures 0.001-0.003, the same subject with another camera move 0.01-0.015)",
              minimum=0.0, maximum=2.0,
              label="Embedding distance"),
        # -- cluster ------------------------------------------------------------------------------
        Param("pca_components", int, 32, "PCA components kept before UMAP (fewer if there are fewer frames)",
              minimum=2, maximum=4096, label="PCA components"),
        Param("umap_components", int, 8, "UMAP output dimensions; 0: no UMAP (HDBSCAN on the PCA output)",
              minimum=0, maximum=256, label="UMAP components"),
        Param("umap_neighbors", int, 15, "UMAP neighbourhood size", minimum=2, maximum=1000,
              label="UMAP neighbours"),
        Param("umap_epochs", int, 100, "UMAP optimisation epochs (seeded UMAP runs on one core: fewer is "
              "faster; 0: UMAP's own default, 200 above 10,000 frames, else 500)", minimum=0, maximum=5000,
              label="UMAP epochs"),
        Param("min_cluster_size", int, 12, "HDBSCAN: smallest group of frames that is a cluster",
              minimum=2, maximum=100000, label="Min cluster size"),
        Param("min_samples", int, 2, "HDBSCAN: larger is more conservative (more noise)", minimum=1,
              maximum=100000, label="Min samples"),
        Param("seed", int, 0, "seed of PCA, UMAP and the train/val split: same seed, same result",
              minimum=0, maximum=_SEED_MAX, label="Seed"),
        # -- caption ------------------------------------------------------------------------------
        Param("caption_prefix", str, "", "text put before every caption (a trigger word, e.g. 'rkfilm, ')",
              label="Caption prefix"),
        Param("caption_template", str, "{prefix}{character}, {outfit}, {materials}, {lighting}, {camera}",
              "final_caption template over the schema fields (empty fields and their commas are dropped)",
              label="Caption template"),
        Param("min_tokens", int, 40, "captions shorter than this many tokens are flagged "
              "(core.dataset.captions.count_tokens)", minimum=1, maximum=1000, label="Min tokens"),
        Param("max_tokens", int, 77, "captions are shortened to at most this many tokens (CLIP's 77)",
              minimum=1, maximum=1000, label="Max tokens"),
        Param("review_file", str, "", "reelkit.review/1 decisions (cluster names, merges, tags...); "
              "empty: OUTPUT_DIR/review/decisions.json when it exists", label="Review file"),
        # -- assemble -----------------------------------------------------------------------------
        Param("layout", str, "plain", "output layout: plain (images/ + captions/) or kohya "
              "(train/N_name/ and val/N_name/ with image + .txt side by side)", choices=LAYOUTS,
              label="Layout"),
        Param("val_fraction", float, 0.1, "fraction of shots held out for validation (whole shots, never "
              "single frames)", minimum=0.0, maximum=0.9, label="Validation fraction"),
        Param("kohya_repeats", int, 10, "kohya-ss repeats in the folder names (N_name)", minimum=1,
              maximum=10000, label="Kohya repeats"),
        COLORSPACE_PARAMS["input_colorspace"],  # the one spec every reading command shares
    ],
)

#: Parameter names read by each stage (their values make the stage's config hash).
STAGE_PARAMS: dict[str, tuple[str, ...]] = {
    "shots": ("detector", "detector_threshold", "min_shot_length"),
    "extract": ("extract_mode", "interval", "per_shot_budget", "shot_margin", "input_colorspace"),
    "filter": ("blur_relative", "blur_threshold", "dark_threshold", "bright_threshold", "clip_fraction", "min_entropy",
               "min_size", "layers", "matte_model", "saliency_crop"),
    "embed": ("embedder", "onnx_model", "onnx_mean", "onnx_std"),
    "dedup": ("phash_distance", "ssim_threshold", "embedding_distance"),
    "cluster": ("pca_components", "umap_components", "umap_neighbors", "umap_epochs", "min_cluster_size",
                "min_samples", "seed"),
    "caption": ("caption_prefix", "caption_template", "min_tokens", "max_tokens", "review_file"),
    "assemble": ("layout", "val_fraction", "kohya_repeats", "seed", "review_file"),
}

#: ``cache_dir`` only says where cached embeddings live; it changes no output.
UNHASHED = ("cache_dir",)
#: Options hashed only when set (not at these values): folders built before them stay up to date.
HASHED_WHEN_SET = {"input_colorspace": "auto", "layers": "off", "matte_model": "", "saliency_crop": 0}


def _check_complete() -> None:
    named = {n for names in STAGE_PARAMS.values() for n in names} | set(UNHASHED)
    missing = [p.name for p in DATASET_PARAMS if p.name not in named]
    if missing:  # a programming error, caught by the tests
        raise TypeError(f"DATASET_PARAMS: parameters in no stage: {', '.join(missing)}")


_check_complete()
