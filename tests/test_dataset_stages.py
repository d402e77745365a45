"""The dataset stages one by one, on the real footage of test_dataset_footage (known cuts, blur, duplicates)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tests.conftest import srgb_sample
from tests.test_dataset_footage import SHOT_A, make_footage, shot_of_frame


@pytest.fixture(scope="module")
def footage(tmp_path_factory):
    """reel_a.avi and reel_b.avi (see test_dataset_footage)."""
    return make_footage(tmp_path_factory.mktemp("footage"))


def _u8(name: str) -> np.ndarray:
    return np.rint(srgb_sample(name) * 255).astype(np.uint8)


# -- shots -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("detector", ["adaptive", "content"])
def test_shot_detection_finds_every_designed_cut(footage, detector):
    from core.shots import cut_f1, detect_shots

    for video in footage.videos:
        shots = detect_shots(video, detector=detector)
        found = [s.start for s in shots]
        score = cut_f1(found, footage.cuts[video.stem], tolerance=1)
        assert score["f1"] == 1.0, (video.stem, detector, found)
        assert shots[-1].end == (8 * SHOT_A if video.stem == "reel_a" else 120)
        assert all(a.end == b.start for a, b in zip(shots, shots[1:]))


def test_cut_f1_counts_misses_and_false_cuts():
    from core.shots import cut_f1

    s = cut_f1([0, 10, 31, 50], [0, 10, 30, 70], tolerance=1)
    assert (s["precision"], s["recall"]) == (2 / 3, 2 / 3)
    assert cut_f1([0], [0])["f1"] == 1.0


def test_unknown_detector_names_the_choices(footage):
    from core.shots import detect_shots
    from core.errors import ParameterError

    with pytest.raises(ParameterError, match="adaptive"):
        detect_shots(footage.videos[0], detector="magic")


# -- extraction plan ------------------------------------------------------------------------------------


def test_plans_respect_budget_margin_and_modes():
    from core.dataset.extract import plan_shot
    from core.shots import Shot

    long = Shot("v_s0000", "v", 0, 100, 1300, 24.0)
    for mode in ("scene", "interval", "hybrid"):
        plan = plan_shot(long, mode=mode, interval=1.0, budget=8, margin=2)
        assert 1 <= len(plan) <= 8 and all(102 <= f < 1298 for f in plan), mode
    assert plan_shot(long, mode="interval", interval=1.0, budget=100, margin=0)[:3] == [120, 144, 168]
    short = Shot("v_s0001", "v", 1, 40, 44, 24.0)  # shorter than the interval: hybrid keeps its middle
    assert plan_shot(short, mode="hybrid", interval=1.0, budget=8, margin=2) == [42]


# -- quality --------------------------------------------------------------------------------------------


def test_quality_rejects_blur_dark_flat_and_small_with_every_reason():
    import cv2

    from core.dataset.params import DATASET_PARAMS
    from core.dataset.quality import measure, reasons, sharpness_reference

    params = {**DATASET_PARAMS.defaults(), "blur_threshold": 80.0}  # the absolute floor; no reference given

    def why(img, ref=None):
        return reasons(measure(img), params, ref)

    sharp = _u8("chelsea.png")
    assert why(sharp) == []
    soft = cv2.GaussianBlur(sharp, (0, 0), 3.0)
    assert why(soft) == ["blur"]
    # the reasons come in REASONS order, all that apply
    assert why((sharp * 0.04).astype(np.uint8)) == ["blur", "underexposed", "low_information"]
    assert why((sharp * 0.01).astype(np.uint8)) == ["blur", "underexposed", "crushed", "low_information"]
    assert why(np.full_like(sharp, 255)) == ["blur", "overexposed", "clipped", "low_information"]
    flat = np.full((200, 300, 3), 128, np.uint8)
    assert {"blur", "low_information"} <= set(why(flat))
    assert why(sharp[:100, :100])[0] == "too_small"
    # relative to the footage: chelsea softened by sigma 0.7 is this clip's sharpness, sigma 3 is 1/4 of it
    params["blur_threshold"] = 0.0
    clip = [measure(cv2.GaussianBlur(sharp, (0, 0), s)) for s in (0.7, 0.7, 0.8, 3.0)]
    clip.append(measure((sharp * 0.04).astype(np.uint8)))  # dark: left out of the reference
    ref = sharpness_reference(clip, params)
    assert ref == float(np.median([m["laplacian_var"] for m in clip[:4]]))
    assert [reasons(m, params, ref) for m in clip[:4]] == [[], [], [], ["blur"]]
    assert why(soft) == []  # no reference and no floor: no blur rule


# -- embeddings -----------------------------------------------------------------------------------------


def _frames(footage, stem, numbers):
    from core import io
    from core.dataset.extract import to_uint8

    video = next(v for v in footage.videos if v.stem == stem)
    got = {f.frame: to_uint8(f.pixels) for f in io.iter_video_frames(video, sorted(set(numbers)))}
    return [got[n] for n in numbers]


def test_classical_embedding_groups_frames_of_one_photo(footage):
    from core.dataset.embed import ClassicalEmbedder

    # three frames of each of reel_a's eight shots (four photos, each panned and zoomed)
    numbers = [shot * SHOT_A + k for shot in range(8) for k in (5, 17, 30)]
    x = ClassicalEmbedder().embed(_frames(footage, "reel_a", numbers))
    assert x.shape == (24, 154) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, rtol=1e-5)
    d = 1.0 - x @ x.T
    np.fill_diagonal(d, np.inf)
    nearest = d.argmin(axis=1)
    photo = [footage.photo_of_shot[("reel_a", n // SHOT_A)] for n in numbers]
    assert [photo[j] for j in nearest] == photo  # every frame's nearest neighbour shows the same photo


def test_onnx_embedder_runs_a_model_exported_here_and_the_cache_reuses_vectors(tmp_path, footage):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from core.dataset.embed import EmbeddingCache, OnnxEmbedder, embed_records

    torch.manual_seed(0)
    torch.set_num_threads(1)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2), torch.nn.ReLU(), torch.nn.Conv2d(8, 16, 3),
                              torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()).eval()
    path = tmp_path / "enc.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, torch.zeros(1, 3, 32, 32), str(path), input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, dynamo=False)
    emb = OnnxEmbedder(path, size=(32, 32))
    images = _frames(footage, "reel_a", [5, 41])
    got = emb.embed(images)
    # the same computation in torch, on the same resized, normalised input
    x = np.stack([emb._prepare(im) for im in images])
    x = (x - emb.mean) / emb.std
    with torch.no_grad():
        want = net(torch.from_numpy(x.astype(np.float32))).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)

    records = [{"id": str(i), "sha256": f"h{i}", "img": im} for i, im in enumerate(images)]
    cache = EmbeddingCache(tmp_path / "cache", emb.key)
    v1, computed1 = embed_records(records, emb, load=lambda r: r["img"], cache=cache)
    v2, computed2 = embed_records(records, emb, load=lambda r: 1 / 0, cache=EmbeddingCache(tmp_path / "cache", emb.key))
    assert (computed1, computed2) == (2, 0)
    np.testing.assert_array_equal(v1, v2)


def test_face_embedder_matches_the_astronaut_across_a_reframing():
    pytest.importorskip("dlib")
    from core.dataset.embed import FaceEmbedder
    import cv2

    emb = FaceEmbedder()
    astronaut = _u8("astronaut.png")
    reframed = cv2.resize(astronaut[30:400, 40:460], (300, 264), interpolation=cv2.INTER_AREA)
    (box_a, face_a), = [max(emb.faces(astronaut), key=lambda f: f[0][2] - f[0][0])]
    (box_b, face_b), = emb.faces(reframed)
    assert 170 <= box_a[0] <= 185 and 70 <= box_a[1] <= 90  # Eileen Collins' face in skimage's photo
    assert np.linalg.norm(face_a - face_b) < 0.6  # dlib's same-person distance
    assert emb.faces(_u8("coffee.png")) == []
    x = emb.embed([astronaut, reframed, _u8("coffee.png")])
    assert x.shape == (3, 282) and np.linalg.norm(x[2, :128]) == 0.0


# -- dedup ----------------------------------------------------------------------------------------------


def _records(footage, spec):
    """Quality + phash records of (stem, frame) frames, as the filter stage makes them."""
    from core.dataset.extract import content_hash
    from core.dataset.hashing import phash
    from core.dataset.quality import measure

    out, images = [], {}
    for stem, numbers in spec.items():
        for n, img in zip(numbers, _frames(footage, stem, numbers)):
            fid = f"{stem}_f{n:06d}"
            images[fid] = img
            out.append({"id": fid, "shot": f"{stem}_s{shot_of_frame(footage, stem, n):04d}",
                        "sha256": content_hash(img), "phash": f"{phash(img):016x}", "quality": measure(img)})
    return out, images


def test_dedup_keeps_the_sharpest_of_a_focus_pull_and_removes_copies_across_videos(footage):
    from core.dataset.dedup import dedup
    from core.dataset.embed import ClassicalEmbedder

    spec = {"reel_a": [10, 20, 262, 277, 90, 234], "reel_b": list(range(26, 46, 3)) + [58, 68, 94, 109]}
    records, images = _records(footage, spec)
    x = ClassicalEmbedder().embed([images[r["id"]] for r in records])
    res = {r["id"]: r for r in dedup(records, x, load=lambda r: images[r["id"]])}
    # reel_b's third shot is reel_a's first, pixel for pixel
    assert res["reel_b_f000058"] == {**res["reel_b_f000058"], "stage": "exact", "duplicate_of": "reel_a_f000010"}
    assert res["reel_b_f000068"]["duplicate_of"] == "reel_a_f000020"
    # the focus pull: one frame kept, the sharpest (smallest blur sigma)
    pull = [f"reel_b_f{n:06d}" for n in spec["reel_b"][:7]]
    kept = [i for i in pull if res[i]["status"] == "kept"]
    sharpest = min(spec["reel_b"][:7], key=lambda n: footage.blur_sigma[("reel_b", n)])
    assert kept == [f"reel_b_f{sharpest:06d}"]
    assert {res[i]["stage"] for i in pull if i not in kept} == {"phash_ssim"}
    # reel_b's last shot is reel_a's last from a softer, brighter print: caught by the embedding step
    assert res["reel_b_f000094"]["stage"] == "embedding" and res["reel_b_f000094"]["duplicate_of"] == "reel_a_f000262"
    assert res["reel_b_f000109"]["duplicate_of"] == "reel_a_f000277"
    # the same photo with another camera move is not a duplicate
    assert res["reel_a_f000090"]["status"] == res["reel_a_f000234"]["status"] == "kept"


def test_radius_pairs_equal_brute_force_and_respect_groups():
    from core.dataset.dedup import radius_pairs

    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 48)).astype(np.float32)
    x[300:320] = x[:20] + rng.normal(scale=0.05, size=(20, 48))
    groups = np.arange(600) % 7
    i, j, d = radius_pairs(x, 1.0, groups=groups, block=128)
    full = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    want = {(a, b) for a, b in zip(*np.nonzero(full <= 1.0)) if a < b and groups[a] != groups[b]}
    assert set(zip(i.tolist(), j.tolist())) == want and len(want) >= 17
    np.testing.assert_allclose(d, full[i, j], rtol=1e-5)


# -- clustering -----------------------------------------------------------------------------------------


def test_clusters_follow_the_photos_and_new_frames_are_predicted(footage):
    from core.dataset.cluster import cluster_embeddings
    from core.dataset.embed import ClassicalEmbedder

    numbers = [n for shot in range(4) for n in range(shot * SHOT_A + 2, shot * SHOT_A + 34, 2)]  # 16 per shot
    x = ClassicalEmbedder().embed(_frames(footage, "reel_a", numbers))
    truth = np.repeat(np.arange(4), 16)
    res = cluster_embeddings(x, pca_components=16, umap_components=0, min_cluster_size=6, min_samples=2, seed=0)
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(truth, res.labels) > 0.9
    assert res.n_clusters == 4 and set(res.exemplars) == {0, 1, 2, 3}
    for label, rows in res.exemplars.items():
        assert all(res.labels[r] == label for r in rows)
    again = cluster_embeddings(x, pca_components=16, umap_components=0, min_cluster_size=6, min_samples=2, seed=0)
    np.testing.assert_array_equal(res.labels, again.labels)
    # frames of the same shots not seen before land in their photo's cluster
    new = ClassicalEmbedder().embed(_frames(footage, "reel_a", [3, 39, 75, 111]))
    labels, strengths = res.model.predict(new)
    mapping = {t: np.bincount(res.labels[truth == t][res.labels[truth == t] >= 0]).argmax() for t in range(4)}
    assert labels.tolist() == [mapping[t] for t in range(4)]


# -- captions -------------------------------------------------------------------------------------------


def test_captions_fill_the_schema_from_names_tags_and_review():
    from core.dataset.captions import SchemaCaptioner, caption_frame, count_tokens, render
    from core.errors import ParameterError

    template = "{prefix}{character}, {outfit}, {materials}, {lighting}, {camera}"
    frame = {"width": 256, "height": 160, "quality": {"mean_luma": 0.2}, "tags": ["outfit:white spacesuit"]}
    cluster = {"name": "eileen_collins", "tags": ["materials:fabric, metal", "astronaut"]}
    cap = caption_frame(frame, cluster, SchemaCaptioner(), template=template, prefix="rkfilm,",
                        min_tokens=5, max_tokens=77)
    assert cap["final_caption"] == ("rkfilm, eileen collins, astronaut, white spacesuit, fabric, metal, "
                                    "low-key lighting, wide frame")
    assert cap["flags"] == [] and cap["tokens"] == count_tokens(cap["final_caption"])
    # review overrides, truncation at the limit, short flags
    frame2 = {**frame, "caption": {"lighting": "candle light"}}
    assert "candle light" in caption_frame(frame2, cluster, SchemaCaptioner(), template=template)["final_caption"]
    long = caption_frame({**frame, "tags": [f"word{i}" for i in range(90)]}, cluster, SchemaCaptioner(),
                         template=template, max_tokens=77)
    assert long["tokens"] in (76, 77) and long["flags"] == ["truncated"]  # a trailing comma is dropped
    assert caption_frame(frame, {"name": "cluster_003"}, SchemaCaptioner(), template=template)["flags"] == ["short"]
    assert render("{character}, {outfit}", {"character": "", "outfit": "hat"}) == "hat"
    with pytest.raises(ParameterError, match="unknown field"):
        render("{hair}", {})


def test_split_is_by_shot_and_the_leak_check_finds_shared_content():
    from core.dataset.assemble import leak_check, split_shots

    shots = [f"v_s{i:04d}" for i in range(20)]
    val = split_shots(shots * 3, val_fraction=0.1, seed=1)
    assert len(val) == 2 and val == split_shots(shots, val_fraction=0.1, seed=1)
    frames = [{"id": "a", "split": "train", "shot": "s1", "sha256": "x", "phash": "ff00ff00ff00ff00"},
              {"id": "b", "split": "val", "shot": "s2", "sha256": "y", "phash": "ff00ff00ff00ff01"},
              {"id": "c", "split": "val", "shot": "s3", "sha256": "z", "phash": "00ff00ff00ff00ff"}]
    assert leak_check(frames, phash_distance=8) == [{"kind": "phash", "train": "a", "val": "b", "bits": 1}]
