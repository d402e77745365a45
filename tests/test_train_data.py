"""core.train.data: training pairs read lazily from files, a pair manifest or clean frames; seeded crops.

Images are crops of the shipped photos (read with OpenCV, decoded from sRGB
with the IEC formula) written as float EXRs, so every value read back can be
compared exactly. No torch needed.
"""

from __future__ import annotations

import numpy as np
import pytest

from core import io
from core.degrade import EFFECTS, degrade_frame
from core.errors import ImageError, ImageReadError, ParameterError, SequenceError
from core.infer.encoding import encode_pixels
from core.pairs import FrameMatch, PairManifest
from core.train import AugmentConfig, PairDataset, SyntheticConfig, TrainConfig
from tests.test_degrade import linear_sample


def write(path, pixels, colorspace="ACEScg"):
    io.write_image(path, pixels, colorspace=colorspace, pixel_type="float")
    return str(path)


@pytest.fixture
def photo_pair(tmp_path):
    """A 48x64 crop of coffee.png (clean reference), a darker degraded copy, and a mask with its left third invalid."""
    ref = linear_sample("coffee.png", (150, 198, 250, 314))
    deg = (ref * 0.6 + 0.01).astype(np.float32)
    mask = np.ones(ref.shape[:2] + (1,), np.float32)
    mask[:, :20] = 0
    return {"degraded": write(tmp_path / "deg.exr", deg), "reference": write(tmp_path / "ref.exr", ref),
            "mask": write(tmp_path / "mask.exr", mask, "raw"), "deg": deg, "ref": ref, "m": mask}


def test_files_are_read_lazily_and_exactly(photo_pair):
    ds = PairDataset.from_files([photo_pair["degraded"]], [photo_pair["reference"]], [photo_pair["mask"]],
                                crop_size=16)
    assert len(ds) == 1 and not ds._cache  # nothing read until asked
    deg, ref, mask = ds.frames(0)
    np.testing.assert_array_equal(deg, photo_pair["deg"])
    np.testing.assert_array_equal(ref, photo_pair["ref"])
    np.testing.assert_array_equal(mask, photo_pair["m"])
    assert ds.input_files() == sorted([photo_pair["degraded"], photo_pair["reference"], photo_pair["mask"]])


def test_crops_are_a_pure_function_of_seed_and_step(photo_pair):
    def make(seed):
        return PairDataset.from_files([photo_pair["degraded"]], [photo_pair["reference"]], crop_size=16,
                                      seed=seed, encoding="log2")

    a, b = make(3).batch(5, 6), make(3).batch(5, 6)
    np.testing.assert_array_equal(a.input, b.input)
    np.testing.assert_array_equal(a.reference, b.reference)
    assert [(c.y, c.x) for c in a.crops] == [(c.y, c.x) for c in b.crops]
    assert [(c.y, c.x) for c in make(3).batch(6, 6).crops] != [(c.y, c.x) for c in a.crops]
    assert [(c.y, c.x) for c in make(4).batch(5, 6).crops] != [(c.y, c.x) for c in a.crops]
    # order of requests does not matter: step 5 after step 9 is still step 5
    ds = make(3)
    ds.batch(9, 6)
    np.testing.assert_array_equal(ds.batch(5, 6).input, a.input)


def test_batches_use_the_inference_encoding_nchw(photo_pair):
    ds = PairDataset.from_files([photo_pair["degraded"]], [photo_pair["reference"]], crop_size=16, encoding="log2")
    b = ds.batch(1, 3)
    assert b.input.shape == (3, 3, 16, 16) and b.mask.shape == (3, 1, 16, 16) and b.input.dtype == np.float32
    for i, c in enumerate(b.crops):
        np.testing.assert_array_equal(b.input[i], encode_pixels(c.input, "log2").transpose(2, 0, 1))
        np.testing.assert_array_equal(b.reference[i], encode_pixels(c.reference, "log2").transpose(2, 0, 1))


def test_no_flip_rotation_or_exposure_unless_configured(photo_pair):
    """Without augmentation every crop is the frame's own pixels at its position, never mirrored."""
    ds = PairDataset.from_files([photo_pair["degraded"]], [photo_pair["reference"]], crop_size=16, seed=1)
    deg, ref = photo_pair["deg"], photo_pair["ref"]
    for step in range(1, 30):
        for c in ds.batch(step, 4).crops:
            assert (c.flip_h, c.flip_v, c.rot90, c.gain) == (False, False, 0, 1.0)
            np.testing.assert_array_equal(c.input, deg[c.y:c.y + 16, c.x:c.x + 16])
            np.testing.assert_array_equal(c.reference, ref[c.y:c.y + 16, c.x:c.x + 16])


def test_flips_and_exposure_when_asked_transform_input_reference_and_mask_alike(photo_pair):
    aug = AugmentConfig(hflip=True, vflip=True, rot90=True, exposure_stops=1.0)
    ds = PairDataset.from_files([photo_pair["degraded"]], [photo_pair["reference"]], [photo_pair["mask"]],
                                crop_size=16, seed=1, augment=aug, min_valid=0.0)
    seen = set()
    for step in range(1, 40):
        for c in ds.batch(step, 4).crops:
            seen.add((c.flip_h, c.flip_v, c.rot90))
            expect = []
            for src in (photo_pair["deg"], photo_pair["ref"], photo_pair["m"]):
                a = src[c.y:c.y + 16, c.x:c.x + 16]
                a = a[:, ::-1] if c.flip_h else a
                a = a[::-1] if c.flip_v else a
                expect.append(np.rot90(a, c.rot90, axes=(0, 1)))
            assert 0.5 <= c.gain <= 2.0
            np.testing.assert_allclose(c.input, expect[0] * np.float32(c.gain), rtol=1e-6)
            np.testing.assert_allclose(c.reference, expect[1] * np.float32(c.gain), rtol=1e-6)
            np.testing.assert_array_equal(c.mask, expect[2])
    assert len(seen) > 8  # the augmentation really happens


def test_crops_avoid_invalid_regions(photo_pair):
    ds = PairDataset.from_files([photo_pair["degraded"]], [photo_pair["reference"]], [photo_pair["mask"]],
                                crop_size=16, seed=2, min_valid=0.9)
    valid = [float(c.mask.mean()) for s in range(1, 20) for c in ds.batch(s, 4).crops]
    assert min(valid) >= 0.9
    loose = PairDataset.from_files([photo_pair["degraded"]], [photo_pair["reference"]], [photo_pair["mask"]],
                                   crop_size=16, seed=2, min_valid=0.0)
    assert min(float(c.mask.mean()) for s in range(1, 20) for c in loose.batch(s, 4).crops) < 0.9


def test_cache_is_bounded(tmp_path):
    pairs = [(write(tmp_path / f"d{i}.exr", np.full((16, 16, 3), i, np.float32)),
              write(tmp_path / f"r{i}.exr", np.full((16, 16, 3), i, np.float32))) for i in range(5)]
    ds = PairDataset.from_files([d for d, _ in pairs], [r for _, r in pairs], crop_size=8, cache_frames=2)
    for s in range(1, 10):
        ds.batch(s, 4)
        assert len(ds._cache) <= 2
    assert {int(c.input[0, 0, 0]) for s in range(1, 10) for c in ds.batch(s, 4).crops} == set(range(5))


def test_sequence_patterns_pair_frame_numbers(tmp_path):
    for n in (7, 8):
        write(tmp_path / f"deg.{n:04d}.exr", np.full((16, 16, 3), n, np.float32))
        write(tmp_path / f"ref.{n:04d}.exr", np.full((16, 16, 3), n + 0.5, np.float32))
    ds = PairDataset.from_files([str(tmp_path / "deg.####.exr")], [str(tmp_path / "ref.####.exr")], crop_size=8)
    assert len(ds) == 2
    for i in range(2):
        deg, ref, _ = ds.frames(i)
        assert ref[0, 0, 0] == deg[0, 0, 0] + 0.5


def test_file_errors(tmp_path, photo_pair):
    small = write(tmp_path / "small.exr", np.zeros((20, 30, 3), np.float32))
    with pytest.raises(ImageReadError, match="nope.exr: no such file"):
        PairDataset.from_files([str(tmp_path / "nope.exr")], [photo_pair["reference"]], crop_size=8)
    with pytest.raises(ImageError, match="degraded is 30x20, reference 64x48"):
        PairDataset.from_files([small], [photo_pair["reference"]], crop_size=8).frames(0)
    with pytest.raises(ParameterError, match=r"crop_size: 32 px is larger than training pair .* \(30x20\)"):
        PairDataset.from_files([small], [small], crop_size=32).frames(0)
    with pytest.raises(ParameterError, match="is a sequence pattern"):
        PairDataset.from_files([str(tmp_path / "a.####.exr")], [small], crop_size=8)
    with pytest.raises(SequenceError):
        PairDataset.from_files([str(tmp_path / "a.####.exr")], [str(tmp_path / "b.####.exr")], crop_size=8)


def test_nan_in_the_reference_is_allowed_only_where_the_mask_is_invalid(tmp_path, photo_pair):
    ref = photo_pair["ref"].copy()
    ref[:, :5] = np.nan  # inside the invalid left third
    ok = write(tmp_path / "ref_nan_masked.exr", ref)
    ds = PairDataset.from_files([photo_pair["degraded"]], [ok], [photo_pair["mask"]], crop_size=16)
    assert np.isnan(ds.frames(0)[1]).any()
    ref[10, 40] = np.nan
    bad = write(tmp_path / "ref_nan.exr", ref)
    with pytest.raises(ImageError, match=r"3 non-finite values where the mask is valid; first at x=40 y=10"):
        PairDataset.from_files([photo_pair["degraded"]], [bad], [photo_pair["mask"]], crop_size=16).frames(0)


def test_srgb_frames_are_converted_to_acescg(tmp_path):
    from core.color import convert

    png = tmp_path / "grey.png"
    rgb = np.zeros((16, 16, 3), np.float32)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 0.8, 0.4, 0.2
    io.write_image(png, rgb, colorspace="srgb", bit_depth=16)
    ds = PairDataset.from_files([str(png)], [str(png)], crop_size=8)
    expect = convert(io.read_image(png).pixels, "srgb", "ACEScg")
    np.testing.assert_allclose(ds.frames(0)[0], expect, atol=1e-6)


def test_synthetic_pairs_are_the_degrade_model_applied_to_clean_frames(tmp_path):
    clean = linear_sample("coffee.png", (100, 164, 200, 296))
    path = write(tmp_path / "clean.exr", clean)
    degrade = SyntheticConfig(preset="faded_16mm", variants=3)
    ds = PairDataset.synthetic([path], degrade=degrade, crop_size=16, seed=11)
    assert len(ds) == 3 and ds.input_files() == [path]
    effects = tuple(e for e in EFFECTS if e != "weave")
    for v in range(3):
        deg, ref, mask = ds.frames(v)
        expect = degrade_frame(clean, frame=v, seed=11, preset="faded_16mm", effects=effects).pixels
        np.testing.assert_array_equal(deg, expect)
        np.testing.assert_array_equal(ref, clean)
        assert mask.min() == 1.0
    assert not np.array_equal(ds.frames(0)[0], ds.frames(1)[0])  # each variant its own damage


def test_synthetic_presets_mix_every_look_evenly_and_deterministically(tmp_path):
    presets = ("faded_16mm", "dusty_35mm", "super8_home_movie", "third_generation_dupe")
    cfg = TrainConfig.from_dict({"model": {"type": "resnet_small"}, "crop_size": 16,
                                 "data": {"clean": ["a.png"], "degrade": {"presets": list(presets), "variants": 8}}})
    degrade = cfg.data.degrade
    assert degrade.presets == presets
    raw = cfg.to_dict()
    assert raw["data"]["degrade"]["presets"] == list(presets) and "preset" not in raw["data"]["degrade"]
    assert TrainConfig.from_dict(raw).to_dict() == raw  # round trip
    # every round of 4 variants uses each look once, in a seeded order that differs between seeds
    for seed in (0, 5):
        picks = [degrade.preset_for(v, seed) for v in range(8)]
        assert sorted(picks[:4]) == sorted(picks[4:]) == sorted(presets)
    orders = {tuple(degrade.preset_for(v, s) for v in range(4)) for s in range(6)}
    assert len(orders) > 1
    assert [degrade.preset_for(v, 5) for v in range(8)] == [degrade.preset_for(v, 5) for v in range(8)]
    assert SyntheticConfig(preset="dusty_35mm").preset_for(3, 9) == "dusty_35mm"  # one look: always it
    # the pairs are core.degrade under each variant's look
    clean = linear_sample("coffee.png", (100, 140, 200, 248))
    path = write(tmp_path / "clean.exr", clean)
    mixed = SyntheticConfig(presets=("faded_16mm", "third_generation_dupe"), variants=2)
    ds = PairDataset.synthetic([path], degrade=mixed, crop_size=16, seed=4)
    effects = tuple(e for e in EFFECTS if e != "weave")
    for v in range(2):
        look = mixed.preset_for(v, 4)
        assert look in ds.sources[v].name
        expect = degrade_frame(clean, frame=v, seed=4, preset=look, effects=effects).pixels
        np.testing.assert_array_equal(ds.frames(v)[0], expect)
    assert {mixed.preset_for(v, 4) for v in range(2)} == {"faded_16mm", "third_generation_dupe"}


def test_synthetic_from_a_shipped_sample_via_config():
    cfg = TrainConfig.from_dict({"model": {"type": "resnet_small"}, "crop_size": 32,
                                 "data": {"clean": ["sample:chelsea"], "degrade": {"preset": "dusty_35mm",
                                                                                   "variants": 2}}})
    ds = PairDataset.from_config(cfg.data, crop_size=cfg.crop_size, encoding=cfg.encoding, seed=cfg.seed)
    assert len(ds) == 2 and ds.input_files()[0].endswith("chelsea.png")
    deg, ref, _ = ds.frames(1)
    assert deg.shape == ref.shape == (300, 451, 3) and not np.array_equal(deg, ref)
    with pytest.raises(ParameterError, match="sample 'nope'"):
        PairDataset.synthetic(["sample:nope"], crop_size=8)


# -- pair manifest + stage 2 folder ----------------------------------------------------------------
def _pipeline(tmp_path, *, align=True):
    """A stage-1 pairs.json selecting source frames 1001 and 1003, and stage 2's aligned/ and mask/."""
    scan = tmp_path / "scan"
    scan.mkdir()
    for n in (1001, 1002, 1003):
        write(scan / f"film.{n}.exr", np.full((24, 24, 3), n - 1000, np.float32))
    stage1 = tmp_path / "pipeline" / "01_dataset_curation"
    stage1.mkdir(parents=True)
    matches = [FrameMatch(n, n + 10, "matched", 0.9) for n in (1001, 1002, 1003)]
    selected = [{"shot": 0, "source_frame": n, "reference_frame": n + 10, "confidence": 0.9} for n in (1001, 1003)]
    PairManifest(source={"path": str(scan / "film.####.exr"), "kind": "sequence"},
                 reference={"path": "dvd.####.png", "kind": "sequence"}, timing={}, framing={}, params={},
                 matches=matches, shots=[], selected=selected, reference_unmatched=[]).save(stage1)
    stage2 = tmp_path / "pipeline" / "02_alignment"
    if align:
        for n in (1001, 1003):
            write(stage2 / "aligned" / f"ref.{n}.exr", np.full((24, 24, 3), n - 1000 + 0.25, np.float32))
            write(stage2 / "mask" / f"mask.{n}.exr", np.ones((24, 24, 1), np.float32), "raw")
    return stage1 / "pairs.json", stage2


def test_pairs_manifest_with_the_aligned_folder(tmp_path):
    from core.pipeline.project import alignment_folder, with_alignment_folder

    pairs, stage2 = _pipeline(tmp_path)
    assert alignment_folder(pairs) == alignment_folder(pairs.parent) == stage2  # the project's layout
    ds = PairDataset.from_pairs(pairs, aligned=stage2, crop_size=8)
    assert len(ds) == 2 and ds.description["aligned"] == str(stage2)
    for i, n in enumerate((1, 3)):
        deg, ref, mask = ds.frames(i)
        assert deg[0, 0, 0] == n and ref[0, 0, 0] == n + 0.25 and mask.min() == 1
    assert str(pairs) in ds.input_files() and len(ds.input_files()) == 7
    cfg = TrainConfig.from_dict({"model": {"type": "resnet_small"}, "crop_size": 8,
                                 "data": {"pairs": str(pairs.parent), "aligned": str(stage2)}})
    assert len(PairDataset.from_config(cfg.data, crop_size=8, encoding="linear")) == 2
    raw = {"model": {"type": "resnet_small"}, "crop_size": 8, "data": {"pairs": str(pairs)}}
    with pytest.raises(ParameterError, match=r"data\.aligned: data\.pairs needs stage 2's folder"):
        TrainConfig.from_dict(raw)
    assert TrainConfig.from_dict(with_alignment_folder(raw)).data.aligned == str(stage2)


def test_pairs_manifest_without_alignment_says_to_run_it(tmp_path):
    pairs, stage2 = _pipeline(tmp_path, align=False)
    with pytest.raises(ImageReadError, match=r"ref\.1001\.exr and 3 more: no such file; .*run reelkit align"):
        PairDataset.from_pairs(pairs, aligned=stage2, crop_size=8)


def test_opencv_samples_are_found_in_the_samples_folder(tmp_path, monkeypatch):
    """``opencv:SUB/NAME`` resolves in $REELKIT_OPENCV_SAMPLES (Debian's opencv-doc examples folder layout)."""
    import shutil

    from core.errors import ImageReadError, MissingDependencyError
    from core.io.samples import sample_path
    from core.train.data import bundled_media_path, clean_frames

    (tmp_path / "data").mkdir()
    shutil.copyfile(sample_path("coffee"), tmp_path / "data" / "coffee.png")
    monkeypatch.setenv("REELKIT_OPENCV_SAMPLES", str(tmp_path))
    assert bundled_media_path("opencv:data/coffee") == tmp_path / "data" / "coffee.png"
    assert clean_frames("opencv:data/coffee") == [(str(tmp_path / "data" / "coffee.png"), None)]
    with pytest.raises(ImageReadError, match=r"opencv:data/nothing: not bundled with Debian's opencv-doc"):
        bundled_media_path("opencv:data/nothing")
    with pytest.raises(ImageReadError, match=r"without '\.\.'"):
        bundled_media_path("opencv:../data/coffee")
    monkeypatch.setenv("REELKIT_OPENCV_SAMPLES", str(tmp_path / "missing"))
    with pytest.raises(MissingDependencyError, match="REELKIT_OPENCV_SAMPLES"):
        bundled_media_path("opencv:data/coffee")
