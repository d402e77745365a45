"""core.infer.context and context models in the restorer: the whole-frame thumbnail, its manifest key, tiling.

References: numpy block means (frames whose sides the thumbnail divides),
a float64 double loop over the band edges (frames it does not divide),
exact integer rounding ``(2 i L + S) // (2 S)`` for the edges, hand-worked
centre-pixel indices for axes shorter than the thumbnail, and, for the
restorer, the torch network the ONNX graph was exported from, run on the
frame reflect-padded with ``numpy.pad`` (the restorer's padding, done here
without the tiling code). The network is ``unshuffle_context`` (8 channels,
1 block, 8x8 context) exported through ``core.train.export`` with its
zero-initialised context layers given seeded random weights, so the
context changes the output. Test frames: the shipped coffee photo in ACEScg.
"""

from __future__ import annotations

import doctest
import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from core import color  # noqa: E402
from core.errors import ImageError, ParameterError  # noqa: E402
from core.infer import ModelError, Restorer, decode_pixels, encode_pixels, load_model_spec, write_model_manifest  # noqa: E402
from core.infer import context as context_module  # noqa: E402
from core.infer.context import MAX_CONTEXT, band_edges, frame_context  # noqa: E402
from core.io import samples  # noqa: E402
from core.train import model_config  # noqa: E402
from core.train.export import export_onnx  # noqa: E402
from tests.test_infer import identity_model  # noqa: E402

SIDE = 8
SPEC = {"type": "unshuffle_context", "channels": 8, "blocks": 1, "context": SIDE}
#: the manifest's ``input`` keys before contexts existed (record() of such a model must keep exactly these)
OLD_INPUT_KEYS = {"colorspace", "encoding", "channels", "multiple_of", "receptive_field"}


@pytest.fixture(scope="module")
def photo():
    """The coffee photo (400 x 600) in ACEScg, float32 HWC."""
    return color.convert_frame(samples.load_sample("coffee.png"), "ACEScg").pixels


@pytest.fixture(scope="module")
def frame(photo):
    """150 x 230: neither side a multiple of the network's 4 nor of the tile."""
    return np.ascontiguousarray(photo[120:270, 200:430])


def band_means(px, size):
    """The reference thumbnail: a float64 double loop over the band edges (sides >= size)."""
    rows, cols = band_edges(px.shape[0], size), band_edges(px.shape[1], size)
    out = np.empty((size, size, px.shape[2]))
    for i in range(size):
        for j in range(size):
            out[i, j] = px[rows[i]:rows[i + 1], cols[j]:cols[j + 1]].astype(np.float64).mean(axis=(0, 1))
    return out


def random_context_weights(net):
    """The context layers start at zero (identity): give them seeded random weights that matter."""
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for layer in (net.context.colour, net.context.film):
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen) * 0.5)
            layer.bias.copy_(torch.randn(layer.bias.shape, generator=gen) * 0.05)


def export_context_model(folder, spec, name):
    """(onnx path, torch net, model config): ``spec``'s net, random context weights, through the real export."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = model_config(spec)
        torch.manual_seed(0)
        net = cfg.build().eval()
        random_context_weights(net)
        path = folder / f"{name}.onnx"
        export_onnx(net, path, multiple_of=cfg.multiple_of, context=cfg.context, context_detail=cfg.context_detail)
        write_model_manifest(path, name=name, version="0.1.0", encoding="log2", multiple_of=cfg.multiple_of,
                             receptive_field=cfg.receptive_field, context=cfg.context,
                             context_detail=cfg.context_detail, training={"note": "built by the reelkit tests"})
        return path, net, cfg
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def context_model(tmp_path_factory):
    """(onnx path, torch net, model config): a random unshuffle_context net through the real export path."""
    return export_context_model(tmp_path_factory.mktemp("context_model"), SPEC, "ctx")


def relabelled(graph, dst, cfg, **manifest):
    """A copy of the ONNX ``graph`` at ``dst`` under a manifest of its own (``manifest``: more
    :func:`write_model_manifest` options, e.g. another context)."""
    shutil.copyfile(graph, dst)
    write_model_manifest(dst, name=dst.stem, version="1", encoding="log2", multiple_of=cfg.multiple_of,
                         receptive_field=cfg.receptive_field, **manifest)
    return dst


def nchw(px):
    return np.ascontiguousarray(px.transpose(2, 0, 1)[None], dtype=np.float32)


def torch_restore(net, cfg, px, thumb):
    """The restorer's result recomputed with torch: log2 encode, reflect-pad (halo in front, then up to a
    multiple of 4), the net with ``thumb`` (the scene-linear S x S x C thumbnail) encoded, crop, decode."""
    h, w = px.shape[:2]
    halo = cfg.receptive_field // 2
    m = cfg.multiple_of
    pad = [(halo, -(-(n + 2 * halo) // m) * m - n - halo) for n in (h, w)]
    x = np.pad(encode_pixels(px, "log2"), pad + [(0, 0)], mode="reflect")
    with torch.no_grad():
        y = net(torch.from_numpy(nchw(x)), torch.from_numpy(nchw(encode_pixels(thumb, "log2"))))
    y = y[0].numpy().transpose(1, 2, 0)
    return decode_pixels(np.ascontiguousarray(y[halo:halo + h, halo:halo + w]), "log2")


# -- frame_context -----------------------------------------------------------------------------------------


def test_dividing_sizes_are_block_means(photo):
    px = photo[:64, :96]
    expect = px.astype(np.float64).reshape(32, 2, 32, 3, 3).mean(axis=(1, 3))
    out = frame_context(px, 32)
    assert out.shape == (32, 32, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, expect, rtol=1e-6, atol=0)
    # a different layout: 400 x 600 -> 8 (50 x 75 blocks), and one channel
    grey = photo[..., 1:2]
    np.testing.assert_allclose(frame_context(grey, 8),
                               grey.astype(np.float64).reshape(8, 50, 8, 75, 1).mean(axis=(1, 3)), rtol=1e-6)


@pytest.mark.parametrize("shape,size", [((37, 53), 8), ((61, 29), 14), ((9, 100), 7), ((17, 17), 17)])
def test_non_dividing_sizes_equal_a_double_loop_over_the_band_edges(photo, shape, size):
    px = photo[50:50 + shape[0], 70:70 + shape[1]]
    rows, cols = band_edges(shape[0], size), band_edges(shape[1], size)
    np.testing.assert_allclose(frame_context(px, size), band_means(px, size), rtol=1e-6, atol=0)
    # the bands tile the axis without gaps or empty bands
    for edges, n in ((rows, shape[0]), (cols, shape[1])):
        assert edges[0] == 0 and edges[-1] == n and np.all(np.diff(edges) >= 1)


def test_an_axis_shorter_than_the_size_takes_the_pixel_under_each_band_centre(photo):
    # 5 rows -> 8 bands: floor((i + 0.5) * 5 / 8) = floor(0.3125, 0.9375, 1.5625, 2.1875, 2.8125, 3.4375, 4.0625,
    # 4.6875) = 0, 0, 1, 2, 2, 3, 4, 4; 40 columns -> 8 bands of 5 (block means)
    px = photo[200:205, 300:340]
    rows = [0, 0, 1, 2, 2, 3, 4, 4]
    expect = px[rows].astype(np.float64).reshape(8, 8, 5, 3).mean(axis=2)
    np.testing.assert_allclose(frame_context(px, 8), expect, rtol=1e-6, atol=0)
    # both axes short (3 x 2 -> 8): rows floor((i + .5) * 3 / 8), columns floor((i + .5) * 2 / 8); exact picks
    tiny = photo[10:13, 20:22]
    np.testing.assert_array_equal(frame_context(tiny, 8), tiny[np.ix_([0, 0, 0, 1, 1, 2, 2, 2], [0, 0, 0, 0, 1, 1, 1, 1])])
    # a single pixel is a flat thumbnail
    np.testing.assert_array_equal(frame_context(photo[:1, :1], 4), np.broadcast_to(photo[0, 0], (4, 4, 3)))


def test_a_constant_frame_gives_a_constant_thumbnail():
    for shape, size in (((37, 53, 3), 8), ((64, 64, 3), 32), ((5, 300, 1), 16)):
        out = frame_context(np.full(shape, 0.37, np.float32), size)
        assert out.shape == (size, size, shape[2])
        np.testing.assert_array_equal(out, np.float32(0.37))


def test_band_edges_doctest_and_exact_rounding():
    assert band_edges(10, 4).tolist() == [0, 3, 5, 8, 10]  # 0, 2.5 -> 3, 5, 7.5 -> 8, 10: halves round up
    assert band_edges(7, 7).tolist() == list(range(8))
    result = doctest.testmod(context_module)
    assert result.attempted >= 1 and result.failed == 0
    # round(i * L / S), half up, is floor((2 i L + S) / (2 S)) in integers; exact wherever L / S is a binary
    # fraction (S a power of two: the sizes models use)
    for size in (1, 2, 4, 8, 16, 32, 64, 128, 256):
        for length in range(size, 1200, 7):
            i = np.arange(size + 1)
            np.testing.assert_array_equal(band_edges(length, size), (2 * i * length + size) // (2 * size))


def test_band_edges_round_half_up_for_every_size():
    for length, size in ((61, 14), (115, 14), (1920, 12), (2048, 24), (4096, 96), (1080, 80)):
        i = np.arange(size + 1)
        np.testing.assert_array_equal(band_edges(length, size), (2 * i * length + size) // (2 * size),
                                      err_msg=f"band_edges({length}, {size})")


@pytest.mark.parametrize("size", [0, -1, MAX_CONTEXT + 1, 300, True, 2.5, "8", None])
def test_bad_sizes_are_refused_naming_the_context_size(size):
    with pytest.raises(ParameterError, match=r"context size .*expected an integer in 1\.\.256"):
        frame_context(np.zeros((16, 16, 3), np.float32), size)


def test_numpy_integer_sizes_are_accepted():
    out = frame_context(np.ones((16, 16, 3), np.float32), np.int64(4))
    assert out.shape == (4, 4, 3)


@pytest.mark.parametrize("shape", [(16, 16), (1, 16, 16, 3), (0, 16, 3), (16, 0, 3), (16,)])
def test_non_hwc_input_is_refused(shape):
    with pytest.raises(ImageError, match="expected an HWC image"):
        frame_context(np.zeros(shape, np.float32), 4)


# -- a context model in the restorer -----------------------------------------------------------------------


def check_tiled_equals_whole_frame(path, frame):
    whole = Restorer(path, tile=0, threads=1).run(frame)
    r = Restorer(path, tile=64, overlap=40, threads=1)
    tiled = r.run(frame)
    assert r.tiles_run > 9 and whole.shape == frame.shape
    np.testing.assert_allclose(tiled, whole, rtol=0, atol=1e-5)
    assert np.abs(whole - frame).mean() > 1e-3  # the model changes the picture


def test_tiled_equals_whole_frame(context_model, frame):
    check_tiled_equals_whole_frame(context_model[0], frame)


def test_onnxruntime_matches_torch_on_the_same_input_and_context(context_model, photo):
    path, net, _ = context_model
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input", "context"]
    assert session.get_inputs()[1].shape[1:] == [3, SIDE, SIDE]
    for y0, x0, h, w in ((0, 0, 40, 56), (100, 300, 72, 48)):
        px = photo[y0:y0 + h, x0:x0 + w]
        x = nchw(encode_pixels(px, "log2"))
        c = nchw(encode_pixels(frame_context(photo, SIDE), "log2"))
        (y_onnx,) = session.run(["output"], {"input": x, "context": c})
        with torch.no_grad():
            y_torch = net(torch.from_numpy(x), torch.from_numpy(c)).numpy()
        assert y_onnx.shape == x.shape
        np.testing.assert_allclose(y_onnx, y_torch, rtol=0, atol=1e-4)
        # the context does something: another frame's thumbnail gives another output
        other = nchw(encode_pixels(frame_context(photo[::-1, ::-1] * np.float32(3), SIDE), "log2"))
        (y_other,) = session.run(["output"], {"input": x, "context": other})
        assert np.abs(y_other - y_onnx).max() > 1e-2


def test_the_context_is_the_whole_frames(context_model, frame):
    """Brightening the left third changes the right third, beyond any tile's reach, as the torch net says."""
    path, net, cfg = context_model
    h, w = frame.shape[:2]
    brighter = frame.copy()
    brighter[:, :w // 3] *= np.float32(4.0)
    r = Restorer(path, tile=64, overlap=40, threads=1)
    before, after = r.run(frame), r.run(brighter)
    right = slice(2 * w // 3, w)
    assert 2 * w // 3 - w // 3 > cfg.receptive_field  # no output pixel of the right third sees the left third
    assert np.abs(after[:, right] - before[:, right]).max() > 1e-3
    np.testing.assert_allclose(after, torch_restore(net, cfg, brighter, frame_context(brighter, SIDE)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(before, torch_restore(net, cfg, frame, frame_context(frame, SIDE)), rtol=1e-4, atol=1e-5)
    # control: the net fed the unmodified frame's thumbnail would not give the restorer's result
    assert np.abs(after - torch_restore(net, cfg, brighter, frame_context(frame, SIDE)))[:, right].max() > 1e-3


def test_a_context_manifest_needs_a_two_input_graph_and_back(context_model, tmp_path, frame):
    path, _, cfg = context_model
    one = identity_model(tmp_path / "one_input.onnx")
    write_model_manifest(one, name="one_input", version="1", receptive_field=1, context=SIDE)
    with pytest.raises(ModelError, match=r"one_input\.onnx: the model must have two inputs \(image, and the 8x8 "
                                         r"context its manifest declares\).* 1 input"):
        Restorer(one)
    two = relabelled(path, tmp_path / "two_inputs.onnx", cfg)
    with pytest.raises(ModelError, match=r"two_inputs\.onnx: the model must have one input \(its manifest declares "
                                         r"no context\).* 2 input"):
        Restorer(two)
    # a context of another size than the graph's
    wrong = relabelled(path, tmp_path / "wrong_side.onnx", cfg, context=16)
    with pytest.raises(ModelError, match=r"wrong_side\.onnx: context input 'context' .* declares .*\[N, 3, 16, 16\]"):
        Restorer(wrong)


def test_manifest_round_trip_and_old_records_unchanged(context_model, tmp_path):
    path, _, cfg = context_model
    doc = json.loads(path.with_suffix(".json").read_text())
    assert doc["input"]["context"] == SIDE
    spec = load_model_spec(path)
    assert spec.context == SIDE and spec.record()["input"]["context"] == SIDE
    assert set(spec.record()["input"]) == OLD_INPUT_KEYS | {"context"}
    # a model without a context writes no key, reads 0 and records exactly the old keys (old hashes stay)
    plain = identity_model(tmp_path / "plain.onnx")
    write_model_manifest(plain, name="plain", version="1", receptive_field=1)
    assert "context" not in json.loads(plain.with_suffix(".json").read_text())["input"]
    old = load_model_spec(plain)
    assert old.context == 0 and set(old.record()["input"]) == OLD_INPUT_KEYS
    # an explicit 0 is read as none; out-of-range values are refused naming the key
    zero = json.loads(plain.with_suffix(".json").read_text())
    zero["input"]["context"] = 0
    assert load_model_spec(plain, manifest=zero).context == 0
    for bad in (-1, MAX_CONTEXT + 1, 2.5, True, "8"):
        broken = json.loads(json.dumps(doc))
        broken["input"]["context"] = bad
        with pytest.raises(ModelError, match=r"input\.context must be an integer in 0\.\.256"):
            load_model_spec(path, manifest=broken)
