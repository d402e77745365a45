"""core.infer: encodings, model manifests, tiling and the restorer, with small real ONNX models.

The models are built here with ``onnx.helper`` and run by onnxruntime: an
identity, a 3x3 box blur (receptive field 3), a seeded random-weight
residual CNN (``n`` 3x3 convolutions: receptive field ``2n + 1``) and a
block-average model (2x2 average pool then nearest upsampling: equivariant
only to even shifts, ``multiple_of`` 2). The test image is the shipped
coffee photo (sRGB) converted to ACEScg.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from core import color  # noqa: E402
from core.errors import ImageError, ParameterError, ReelkitError  # noqa: E402
from core.frame import Frame  # noqa: E402
from core.infer import (  # noqa: E402
    ENCODINGS,
    ModelError,
    Restorer,
    decode_pixels,
    encode_pixels,
    load_model_spec,
    sessions_created,
    write_model_manifest,
)
from core.infer.tiling import _crop, _source_span, axis_tiles, resolve_tiling, run_tiled  # noqa: E402
from core.io import samples  # noqa: E402

# -- model builders (shared with tests/test_infer_files.py and benchmarks/infer_bench.py) --------------------


def save_model(path, nodes, initializers=(), *, channels=3, out_channels=None, dtype=np.float32, name="input"):
    """Write an ONNX graph ``name`` (1, C, h, w) -> ``output`` (1, C_out, h', w') with dynamic H/W."""
    elem = TensorProto.FLOAT16 if dtype == np.float16 else TensorProto.FLOAT
    graph = helper.make_graph(
        list(nodes), "reelkit_test",
        [helper.make_tensor_value_info(name, elem, [1, channels, "h", "w"])],
        [helper.make_tensor_value_info("output", elem, [1, out_channels or channels, "h", "w"])],
        [numpy_helper.from_array(np.asarray(a, dtype=dtype), n) for n, a in initializers])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="reelkit-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def conv_weights(rng, c_out, c_in, k=3):
    """He-normal 3x3 weights scaled down (a stable random network) and small biases."""
    w = rng.normal(0.0, math.sqrt(2.0 / (c_in * k * k)) * 0.5, size=(c_out, c_in, k, k))
    return w.astype(np.float32), rng.normal(0.0, 0.01, size=c_out).astype(np.float32)


def residual_cnn(path, *, convs=4, width=8, seed=0, channels=3, dtype=np.float32):
    """x + tail(ReLU(conv(...ReLU(head(x))))): ``convs`` 3x3 convolutions, receptive field ``2 * convs + 1``."""
    rng = np.random.default_rng(seed)
    nodes, inits, prev = [], [], "input"
    for i in range(convs):
        c_in = channels if i == 0 else width
        c_out = channels if i == convs - 1 else width
        w, b = conv_weights(rng, c_out, c_in)
        inits += [(f"w{i}", w), (f"b{i}", b)]
        nodes.append(helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [f"c{i}"], pads=[1, 1, 1, 1]))
        prev = f"c{i}"
        if i < convs - 1:
            nodes.append(helper.make_node("Relu", [prev], [f"r{i}"]))
            prev = f"r{i}"
    nodes.append(helper.make_node("Add", ["input", prev], ["output"]))
    return save_model(path, nodes, inits, channels=channels, dtype=dtype)


def identity_model(path, *, channels=3):
    return save_model(path, [helper.make_node("Identity", ["input"], ["output"])], channels=channels)


def box_blur_model(path, *, channels=3):
    """Per-channel 3x3 mean (depthwise convolution, zero padding inside the graph)."""
    w = np.full((channels, 1, 3, 3), 1.0 / 9.0, np.float32)
    node = helper.make_node("Conv", ["input", "w"], ["output"], pads=[1, 1, 1, 1], group=channels)
    return save_model(path, [node], [("w", w)], channels=channels)


def block_mean_model(path):
    """2x2 average pool then nearest 2x upsampling: each output pixel is the mean of its 2x2 block."""
    nodes = [helper.make_node("AveragePool", ["input"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Resize", ["p", "", "scales"], ["output"], mode="nearest")]
    return save_model(path, nodes, [("scales", np.array([1, 1, 2, 2], np.float32))])


def make_model(tmp_path, kind="cnn", *, name=None, encoding="log2", multiple_of=1, **kw):
    """An ONNX model of ``kind`` with its sidecar manifest; returns the ``.onnx`` path."""
    path = tmp_path / f"{name or kind}.onnx"
    if kind == "cnn":
        residual_cnn(path, **kw)
        receptive_field = 2 * kw.get("convs", 4) + 1
    elif kind == "identity":
        identity_model(path, **kw)
        receptive_field = 1
    elif kind == "blur":
        box_blur_model(path, **kw)
        receptive_field = 3
    elif kind == "blocks":
        block_mean_model(path)
        receptive_field = 3
    else:
        raise ValueError(kind)
    write_model_manifest(path, name=name or kind, version="0.1.0", encoding=encoding, channels=kw.get("channels", 3),
                         multiple_of=multiple_of, receptive_field=receptive_field,
                         training={"note": "built by tests/test_infer.py"})
    return path


@pytest.fixture(scope="module")
def photo():
    """The coffee photo (400 x 600) in ACEScg, float32 HWC."""
    return color.convert_frame(samples.load_sample("coffee.png"), "ACEScg").pixels


# -- encodings ---------------------------------------------------------------------------------------------


def test_encoding_reference_values():
    # ACEScct: S-2016-001 gives 18 % grey -> 0.4135884 and the toe/log break at 2**-7 -> 0.155251141552511
    assert encode_pixels(np.array([0.18]), "acescct")[0] == pytest.approx(0.4135884, abs=1e-7)
    below, above = encode_pixels(np.array([0.0078125, np.nextafter(0.0078125, 1)]), "acescct")
    assert below == pytest.approx(0.155251141552511, abs=1e-7) and above == pytest.approx(below, abs=1e-6)
    # log2: sign(x) log2(1 + 64|x|) / 10
    x = np.array([0.0, 0.18, 1.0, -1.0, 16.0])
    expected = np.sign(x) * np.log2(1 + 64 * np.abs(x)) / 10
    np.testing.assert_allclose(encode_pixels(x, "log2"), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(encode_pixels(x, "linear"), x.astype(np.float32))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_encoding_round_trip_and_monotonic(photo, encoding):
    hdr = np.concatenate([photo.ravel(), np.float32(16.0) * photo.ravel()[:5000],
                          -photo.ravel()[:5000] * np.float32(0.1), [0.0, 65504.0, -65504.0, 1e-7]])
    hdr = hdr.astype(np.float32)
    enc = encode_pixels(hdr, encoding)
    assert enc.dtype == np.float32 and enc.shape == hdr.shape
    back = decode_pixels(enc, encoding)
    atol = 1e-9 if encoding == "acescct" else 0.0  # the ACEScct toe's offset: see core.infer.encoding
    np.testing.assert_allclose(back, hdr, rtol=1e-6, atol=atol)
    ramp = np.linspace(-4, 64, 20001)
    assert np.all(np.diff(encode_pixels(ramp, encoding).astype(np.float64)) > 0)
    # NaN stays NaN (the restorer refuses it before encoding)
    assert np.isnan(encode_pixels(np.array([np.nan]), encoding)[0])


def test_encoding_errors():
    with pytest.raises(ParameterError, match="known: linear, log2, acescct"):
        encode_pixels(np.zeros(3), "gamma")
    with pytest.raises(ImageError, match="float"):
        decode_pixels(np.zeros(3, np.uint8), "log2")


# -- tiling ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("length,tile,overlap,halo,m", [(1000, 256, 32, 4, 1), (37, 16, 8, 2, 4), (5, 64, 3, 1, 1),
                                                       (513, 128, 24, 11, 8)])
def test_axis_weights_sum_to_one_and_skip_the_halo(length, tile, overlap, halo, m):
    tile, overlap = resolve_tiling(tile=tile, overlap=overlap, halo=halo, multiple_of=m)
    ax = axis_tiles(length, tile=tile, overlap=overlap, halo=halo, multiple_of=m)
    total = np.zeros(length)
    for i, origin in enumerate(ax.origins):
        assert origin % m == 0 and ax.size % m == 0
        total[ax.starts[i]:ax.stops[i]] += ax.weights[i]
        # an inner edge's halo gets no weight: the span keeps clear of it
        if i > 0:
            assert ax.starts[i] >= origin
        if i < len(ax.origins) - 1:
            assert ax.stops[i] <= origin + ax.size - 2 * halo
    np.testing.assert_allclose(total, 1.0, atol=1e-6)
    assert ax.padded % m == 0 and ax.padded >= length + 2 * halo


def test_overlap_below_the_receptive_field_is_refused(tmp_path):
    model = make_model(tmp_path, "cnn", convs=5)  # receptive field 11
    with pytest.raises(ParameterError, match="overlap 8 is below the model's receptive field"):
        Restorer(model, tile=64, overlap=8)
    with pytest.raises(ParameterError, match="tile 12 must exceed the overlap 12"):
        Restorer(model, tile=12, overlap=12)


# -- the restorer ------------------------------------------------------------------------------------------


def test_one_tile_is_written_with_the_bits_of_the_weighted_blend(photo):
    """A whole frame (one tile) is added without its weights, which are exactly 1: the same bits as the
    weighted sum, -0.0 turned into +0.0 as 0 + (-0.0 * 1) does."""
    px = photo[:90, :130] - np.float32(0.1)
    px[0, :4] = -0.0
    got, tiles = run_tiled(lambda crop: crop * np.float32(1.5), px, tile=0, overlap=8, halo=3, multiple_of=4)
    rows, cols = (axis_tiles(n, tile=0, overlap=8, halo=3, multiple_of=4) for n in px.shape[:2])
    want = np.zeros_like(px)
    want += (px * np.float32(1.5)) * (rows.weights[0][:, None, None] * cols.weights[0][None, :, None])
    assert tiles == 1 and not np.signbit(got[0, :4]).any()
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def test_crop_copies_reflected_borders_run_by_run_like_fancy_indexing(photo):
    """_crop copies a padded tile block by block; numpy's fancy indexing of the same reflected indices is the
    reference, for frames of 1 to 7 pixels (spans reflected several times) and a photo's corner."""
    def fancy(px, rows, cols):
        return px[rows][:, cols]

    small = photo[:7, :5]
    for h in (1, 2, 7):
        for w in (1, 5):
            px = small[:h, :w]
            for start in range(-9, 2):
                for stop in (start + 1, start + 6, start + 19):
                    rows, cols = _source_span(start, stop, h), _source_span(-4, 9, w)
                    np.testing.assert_array_equal(_crop(px, rows, cols), fancy(px, rows, cols))
                    np.testing.assert_array_equal(_crop(px, slice(0, h), _source_span(start, stop, w)),
                                                  fancy(px, slice(0, h), _source_span(start, stop, w)))
    rows, cols = _source_span(-35, 100, photo.shape[0]), _source_span(-35, 140, photo.shape[1])
    np.testing.assert_array_equal(_crop(photo, rows, cols), fancy(photo, rows, cols))
    view = _crop(photo, slice(2, 9), slice(3, 8))
    assert view.base is not None and np.shares_memory(view, photo)  # inside the frame: a view, no copy


@pytest.mark.parametrize("tile,overlap", [(64, 9), (96, 0), (128, 40), (200, 17)])
def test_tiled_equals_whole_frame(tmp_path, photo, tile, overlap):
    model = make_model(tmp_path, "cnn", convs=4, width=8, seed=3)  # receptive field 9
    whole = Restorer(model, tile=0).run(photo)
    tiled = Restorer(model, tile=tile, overlap=overlap)
    out = tiled.run(photo)
    assert tiled.tiles_run > 4
    b = 16
    assert np.abs(out - whole)[b:-b, b:-b].max() < 1e-3
    # reflect padding before tiling makes the border match too
    assert np.abs(out - whole).max() < 1e-3
    # and the model does change the picture (the comparison is not between two copies of the input)
    assert np.abs(whole - photo).mean() > 1e-3


def test_tiled_equals_whole_frame_for_a_downsampling_model(tmp_path, photo):
    """Tiles start at multiples of multiple_of: a 2x2-block model gives the same blocks in every tile."""
    model = make_model(tmp_path, "blocks", multiple_of=2)
    crop = photo[:151, :203]  # odd sizes: padded to even
    whole = Restorer(model, tile=0).run(crop)
    out = Restorer(model, tile=48, overlap=3).run(crop)  # overlap rounded up to 4, tile stays 48
    np.testing.assert_allclose(out, whole, rtol=1e-5, atol=1e-6)
    # the model really is block-wise (not equivariant to odd shifts): with the 1-pixel halo in front,
    # blocks cover image rows/columns (1, 2), (3, 4)...
    np.testing.assert_array_equal(out[1], out[2])
    np.testing.assert_array_equal(out[:, 3], out[:, 4])
    assert np.abs(out[2] - out[3]).max() > 1e-3


def test_blur_model_matches_a_reflect_padded_box_filter(tmp_path, photo):
    import cv2

    model = make_model(tmp_path, "blur", encoding="linear")
    out = Restorer(model, tile=64, overlap=5).run(photo)
    expected = cv2.blur(photo, (3, 3), borderType=cv2.BORDER_REFLECT_101)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_identity_model_round_trips(tmp_path, photo, encoding):
    model = make_model(tmp_path, "identity", encoding=encoding)
    whole = Restorer(model, tile=0).run(photo)
    if encoding == "linear":
        np.testing.assert_array_equal(whole, photo)
    np.testing.assert_allclose(whole, photo, rtol=1e-6, atol=1e-9)
    tiled = Restorer(model, tile=64, overlap=17).run(photo)
    np.testing.assert_allclose(tiled, photo, rtol=1e-6, atol=1e-9)


def test_alpha_passes_through(tmp_path, photo):
    model = make_model(tmp_path, "cnn", convs=3)
    alpha = photo[..., 1:2] / photo[..., 1:2].max()
    rgba = np.concatenate([photo, alpha], axis=2)
    r = Restorer(model, tile=64, overlap=0)
    out = r.run(rgba)
    assert out.shape == rgba.shape
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    np.testing.assert_array_equal(out[..., :3], r.run(photo))


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (5, 7), (37, 53), (64, 64), (65, 130)])
def test_odd_and_small_sizes(tmp_path, photo, size):
    model = make_model(tmp_path, "cnn", convs=3, seed=1)
    crop = photo[100:100 + size[0], 200:200 + size[1]]
    r = Restorer(model, tile=64, overlap=0)
    out = r.run(crop)
    assert out.shape == crop.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, Restorer(model, tile=0).run(crop), rtol=1e-5, atol=1e-5)


def test_identity_on_a_single_pixel(tmp_path):
    model = make_model(tmp_path, "blur", encoding="linear")
    out = Restorer(model, tile=32, overlap=0).run(np.array([[[0.25, 0.5, 2.0]]], np.float32))
    np.testing.assert_allclose(out, [[[0.25, 0.5, 2.0]]], rtol=1e-6)  # reflect-padded: a flat field


def test_one_session_serves_every_frame(tmp_path, photo):
    model = make_model(tmp_path, "cnn", convs=3)
    before = sessions_created()
    r = Restorer(model, tile=128, overlap=0)
    session = r.session
    outs = [r.run(photo[i * 50:i * 50 + 100]) for i in range(3)]
    assert sessions_created() - before == 1
    assert r.session is session and r.frames_run == 3
    assert all(o.shape == (100, 600, 3) for o in outs)


def test_run_frame_converts_colour_space_and_keeps_provenance(tmp_path):
    model = make_model(tmp_path, "cnn", convs=3)
    srgb = samples.load_sample("coffee.png")
    frame = srgb.replace(frame=1001, pixels=srgb.pixels[:96, :128])
    r = Restorer(model, tile=64, overlap=0)
    out = r.run_frame(frame)
    assert isinstance(out, Frame) and out.colorspace == "ACEScg" and out.frame == 1001
    assert out.metadata["restored_by"] == "cnn 0.1.0"
    expected = r.run(color.convert_frame(frame, "ACEScg").pixels)
    np.testing.assert_array_equal(out.pixels, expected)
    # a bare array is taken to be in the model's space and comes back as an array
    assert isinstance(r.run_frame(expected), np.ndarray)


def test_nan_is_refused_naming_the_frame(tmp_path, photo):
    model = make_model(tmp_path, "identity")
    bad = photo[:32, :32].copy()
    bad[5, 7, 1] = np.nan
    r = Restorer(model)
    with pytest.raises(ImageError, match=r"plate\.1001\.exr \(frame 1001\).*1 non-finite.*x=7 y=5"):
        r.run_frame(Frame(bad, "ACEScg", frame=1001, path="plate.1001.exr"))
    bad[5, 7, 1] = np.inf
    with pytest.raises(ImageError, match="shot_a"):
        r.run(bad, name="shot_a")


def test_model_producing_nan_is_reported(tmp_path, photo):
    path = tmp_path / "sqrt.onnx"  # sqrt of negative input -> NaN
    save_model(path, [helper.make_node("Sqrt", ["input"], ["output"])])
    write_model_manifest(path, name="sqrt", version="1", encoding="linear", receptive_field=1)
    neg = -photo[:16, :16] - 0.1
    with pytest.raises(ImageError, match="the model sqrt produced 768 non-finite"):
        Restorer(path).run(neg, name="neg")


# -- manifests and the model contract ----------------------------------------------------------------------


def test_manifest_sha_mismatch_names_the_files(tmp_path):
    model = make_model(tmp_path, "cnn", convs=3, seed=0)
    residual_cnn(model, convs=3, seed=1)  # re-exported after the manifest was written
    with pytest.raises(ModelError, match=r"cnn\.onnx: sha256 [0-9a-f]{64} does not match [0-9a-f]{64} in .*cnn\.json"):
        Restorer(model)
    assert issubclass(ModelError, ReelkitError) and issubclass(ModelError, ValueError)


def test_missing_and_invalid_manifests(tmp_path):
    path = identity_model(tmp_path / "bare.onnx")
    with pytest.raises(ModelError, match=r"bare\.onnx: no model manifest: expected bare\.json"):
        load_model_spec(path)
    model = make_model(tmp_path, "identity")
    doc = json.loads(model.with_suffix(".json").read_text())
    for key, value, message in [("format", "reelkit.model/9", "format reelkit.model/9 is newer than this reelkit reads"),
                                ("encoding", "gamma", "input.encoding 'gamma'"),
                                ("colorspace", "P3-ish", "input.colorspace 'P3-ish'"),
                                ("receptive_field", 0, "input.receptive_field must be an integer"),
                                ("channels", 4, "input.channels must be 1 or 3")]:
        broken = json.loads(json.dumps(doc))
        (broken if key == "format" else broken["input"])[key] = value
        with pytest.raises(ModelError, match=message):
            load_model_spec(model, manifest=broken)
    with pytest.raises(Exception, match="no such model file"):
        load_model_spec(tmp_path / "absent.onnx")


def test_models_index_entry_is_found(tmp_path):
    model = make_model(tmp_path, "blur")
    entry = json.loads(model.with_suffix(".json").read_text())
    model.with_suffix(".json").unlink()
    entry.pop("format")
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "reelkit.models/1", "models": [entry]}))
    spec = load_model_spec(model)
    assert spec.manifest_path.name == "manifest.json" and spec.receptive_field == 3 and spec.name == "blur"


def test_wrong_model_channels_are_refused(tmp_path, photo):
    path = tmp_path / "four.onnx"
    identity_model(path, channels=4)
    write_model_manifest(path, name="four", version="1", receptive_field=1, channels=3)
    with pytest.raises(ModelError, match=r"four\.onnx: input 'input' has 4 channels .* declares input.channels = 3"):
        Restorer(path)
    rgb = make_model(tmp_path, "identity")
    with pytest.raises(ImageError, match="1 channel.*takes 3"):
        Restorer(rgb).run(photo[..., :1])
    grey = make_model(tmp_path, "blur", name="grey", channels=1, encoding="linear")
    with pytest.raises(ImageError, match="3 channel.*takes 1"):
        Restorer(grey).run(photo)
    out = Restorer(grey, tile=32, overlap=0).run(photo[:40, :50, :1])
    assert out.shape == (40, 50, 1)


def test_models_breaking_the_contract(tmp_path, photo):
    path = tmp_path / "half_size.onnx"
    save_model(path, [helper.make_node("AveragePool", ["input"], ["output"], kernel_shape=[2, 2], strides=[2, 2])])
    write_model_manifest(path, name="half", version="1", receptive_field=2)
    with pytest.raises(ModelError, match="output shape .* the contract is an output of the input's shape"):
        Restorer(path, tile=0).run(photo[:16, :16])
    fixed = tmp_path / "fixed.onnx"
    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "g",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 64, 64])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 64, 64])])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    fixed.write_bytes(m.SerializeToString())
    write_model_manifest(fixed, name="fixed", version="1", receptive_field=1)
    with pytest.raises(ModelError, match="fixed size .* dynamic"):
        Restorer(fixed)


# -- runtime options ---------------------------------------------------------------------------------------


def test_provider_choice(tmp_path):
    import onnxruntime as ort

    model = make_model(tmp_path, "identity")
    has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    r = Restorer(model, provider="auto", threads=1)
    assert r.providers[0] == ("CUDAExecutionProvider" if has_cuda else "CPUExecutionProvider")
    assert Restorer(model, provider="cpu").providers == ["CPUExecutionProvider"]
    if not has_cuda:
        with pytest.raises(ParameterError, match="no CUDAExecutionProvider"):
            Restorer(model, provider="cuda")
    with pytest.raises(ParameterError, match="threads"):
        Restorer(model, threads=-1)


def test_fp16_precision(tmp_path, photo):
    model = make_model(tmp_path, "cnn", convs=3, seed=2)
    crop = photo[:96, :160]
    full = Restorer(model, tile=64, overlap=0).run(crop)
    half = Restorer(model, tile=64, overlap=0, precision="fp16")
    assert half.input_dtype == np.float32  # float16 inside, float32 at the edges
    out = half.run(crop)
    assert np.abs(out - full).max() < 0.01 * max(1.0, float(np.abs(full).max()))
    assert np.abs(out - full).max() > 0  # it did run in float16
    # a model stored in float16 runs as stored, and fp32 refuses it
    stored = tmp_path / "cnn16.onnx"
    residual_cnn(stored, convs=3, seed=2, dtype=np.float16)
    write_model_manifest(stored, name="cnn16", version="1", receptive_field=7)
    r16 = Restorer(stored, tile=64, overlap=0)
    assert r16.input_dtype == np.float16
    assert np.abs(r16.run(crop) - full).max() < 0.01 * max(1.0, float(np.abs(full).max()))
    with pytest.raises(ModelError, match="float16; precision fp32"):
        Restorer(stored, precision="fp32")
