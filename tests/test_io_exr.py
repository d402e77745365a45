"""core.io OpenEXR: round trips, layers, attributes, compressions, colour space, windows.

Files written by reelkit are also decoded by a small independent reader
written here from the OpenEXR file-layout specification (scanline files,
NONE / ZIPS / ZIP compression), so a bug shared by our writer and reader
cannot hide.
"""

from __future__ import annotations

import importlib.util
import logging
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from core import io
from core.errors import ImageError, ImageReadError, ParameterError
from core.frame import Frame
from tests.conftest import srgb_sample

# --------------------------------------------------------------------------- independent decoder

_COMPRESSION_CODES = {0: "none", 2: "zips", 3: "zip"}
_LINES_PER_CHUNK = {"none": 1, "zips": 1, "zip": 16}
_PTYPE = {0: np.dtype("<u4"), 1: np.dtype("<f2"), 2: np.dtype("<f4")}


def decode_exr(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """Decode a single-part scanline EXR (NONE/ZIPS/ZIP) with numpy + zlib only.

    Layout per the OpenEXR "File Layout" document: magic, version, header
    attributes (name\\0 type\\0 int32 size, value), offset table (uint64 per
    chunk), chunks (int32 y, int32 size, data); ZIP data is zlib, then a
    byte-delta predictor, then two interleaved halves; inside a chunk each
    scanline holds every channel in name order.
    """
    raw = path.read_bytes()
    assert raw[:4] == b"\x76\x2f\x31\x01"
    pos = 8
    attrs = {}
    while raw[pos] != 0:
        end = raw.index(b"\0", pos)
        name = raw[pos:end].decode()
        tend = raw.index(b"\0", end + 1)
        kind = raw[end + 1:tend].decode()
        (size,) = struct.unpack_from("<i", raw, tend + 1)
        attrs[name] = (kind, raw[tend + 5:tend + 5 + size])
        pos = tend + 5 + size
    pos += 1
    chans, cpos, chl = [], 0, attrs["channels"][1]
    while chl[cpos] != 0:
        end = chl.index(b"\0", cpos)
        (ptype,) = struct.unpack_from("<i", chl, end + 1)
        chans.append((chl[cpos:end].decode(), _PTYPE[ptype]))
        cpos = end + 17
    comp = _COMPRESSION_CODES[attrs["compression"][1][0]]
    x0, y0, x1, y1 = struct.unpack("<4i", attrs["dataWindow"][1])
    w, h = x1 - x0 + 1, y1 - y0 + 1
    per = _LINES_PER_CHUNK[comp]
    n_chunks = -(-h // per)
    offsets = struct.unpack_from(f"<{n_chunks}Q", raw, pos)
    out = {name: np.zeros((h, w), dt) for name, dt in chans}
    for off in offsets:
        y, size = struct.unpack_from("<ii", raw, off)
        data = raw[off + 8:off + 8 + size]
        lines = min(per, y1 - y + 1)
        expected = lines * w * sum(dt.itemsize for _, dt in chans)
        if comp != "none" and size < expected:
            t = np.frombuffer(zlib.decompress(data), np.uint8).astype(np.int64)
            t[1:] -= 128
            t = np.cumsum(t) & 0xFF
            half = (len(t) + 1) // 2
            inter = np.empty(len(t), np.uint8)
            inter[0::2], inter[1::2] = t[:half], t[half:]
            data = inter.tobytes()
        assert len(data) == expected
        p = 0
        for line in range(lines):
            for name, dt in chans:
                n = w * dt.itemsize
                out[name][y - y0 + line] = np.frombuffer(data[p:p + n], dt)
                p += n
    return attrs, out


def _colour_resource(name: str) -> Path:
    spec = importlib.util.find_spec("colour")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("colour-science is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "io" / "tests" / "resources" / name
    if not path.is_file():
        pytest.skip(f"colour-science does not ship {name}")
    return path


@pytest.fixture(scope="module")
def photo_acescg_like() -> np.ndarray:
    """A real photo (coffee.png, sRGB 0..1) cropped small, scaled into an HDR-ish range."""
    px = srgb_sample("coffee.png")[100:164, 200:296]
    return (px ** 2.2 * 4.0).astype(np.float32)


# --------------------------------------------------------------------------- round trips


def test_float_round_trip_is_bit_exact(tmp_path, photo_acescg_like):
    px = photo_acescg_like.copy()
    px[0, 0] = [1e-30, -3.5, 1e30]  # tiny, negative and huge values survive in float
    px[1, 1] = [np.nan, np.inf, -np.inf]
    out = io.write_image(tmp_path / "f.exr", px, colorspace="ACEScg", pixel_type="float")
    back = io.read_image(out)
    assert back.pixels.dtype == np.float32 and back.pixels.shape == px.shape
    assert np.array_equal(back.pixels.view(np.uint32), px.view(np.uint32))
    assert set(io.read_exr_header(out)["pixel_types"].values()) == {"float"}


def test_half_round_trip_exact_for_half_values(tmp_path, photo_acescg_like):
    halfable = photo_acescg_like.astype(np.float16).astype(np.float32)
    back = io.read_image(io.write_image(tmp_path / "h.exr", halfable, colorspace="ACEScg"))
    assert np.array_equal(back.pixels, halfable)
    # values that are not representable round to nearest half (numpy's rounding = OpenEXR's)
    back2 = io.read_image(io.write_image(tmp_path / "h2.exr", photo_acescg_like, colorspace="ACEScg"))
    assert np.array_equal(back2.pixels, halfable)
    assert not np.array_equal(back2.pixels, photo_acescg_like)
    assert set(io.read_exr_header(tmp_path / "h.exr")["pixel_types"].values()) == {"half"}


def test_half_overflow_becomes_inf_and_is_logged(tmp_path, caplog):
    px = np.full((2, 3, 3), 1.0, np.float32)
    px[0, 0, 0] = 65519.0  # rounds to the largest half, 65504: no overflow
    back = io.read_image(io.write_image(tmp_path / "ok.exr", px, colorspace="ACEScg"))
    assert back.pixels[0, 0, 0] == 65504.0
    assert not any("half range" in r.getMessage() for r in caplog.records)
    px[0, 0, 0], px[1, 2, 1] = 70000.0, -1e6
    back = io.read_image(io.write_image(tmp_path / "o.exr", px, colorspace="ACEScg"))
    assert np.isposinf(back.pixels[0, 0, 0]) and np.isneginf(back.pixels[1, 2, 1]) and back.pixels[1, 1, 1] == 1.0
    assert any("o.exr: 2 values beyond the half range" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_y_rgb_rgba_channel_names(tmp_path, channels, photo_acescg_like):
    px = np.dstack([photo_acescg_like, photo_acescg_like[..., :1] * 0.5])[..., :channels] if channels == 4 \
        else photo_acescg_like[..., :channels]
    out = io.write_image(tmp_path / "c.exr", px, colorspace="lin_rec709", pixel_type="float")
    header = io.read_exr_header(out)
    expected = {1: ["Y"], 3: ["B", "G", "R"], 4: ["A", "B", "G", "R"]}[channels]
    assert header["channels"] == expected
    back = io.read_image(out)
    assert back.channels == {1: ("Y",), 3: ("R", "G", "B"), 4: ("R", "G", "B", "A")}[channels]
    assert np.array_equal(back.pixels, px)
    if channels == 4:
        assert np.array_equal(back.alpha[..., 0], px[..., 3])


def test_layers_round_trip_with_names(tmp_path, photo_acescg_like):
    px = photo_acescg_like
    mask = (px[..., :1] > 1.0).astype(np.float32)
    frame = Frame(px, "ACEScg", layers={"diffuse": px * 0.25, "mask": mask})
    out = io.write_image(tmp_path / "layers.exr", frame, pixel_type="float")
    header = io.read_exr_header(out)
    assert {"diffuse.R", "diffuse.G", "diffuse.B", "mask.Y", "R", "G", "B"} == set(header["channels"])
    back = io.read_image(out)
    assert set(back.layers) == {"diffuse", "mask"}
    assert np.array_equal(back.layers["diffuse"], px * 0.25)
    assert np.array_equal(back.layers["mask"], mask)
    assert back.metadata["layer_channels"]["diffuse"] == ["diffuse.R", "diffuse.G", "diffuse.B"]
    # re-writing a read frame keeps the original channel names
    again = io.read_exr_header(io.write_image(tmp_path / "again.exr", back))
    assert set(again["channels"]) == set(header["channels"])


def test_foreign_layer_names_survive_round_trip(tmp_path):
    import OpenEXR

    h, w = 3, 4
    ramp = np.arange(h * w, dtype=np.float32).reshape(h, w)
    chans = {"R": ramp, "G": ramp, "B": ramp, "Z": ramp + 100, "N.X": ramp + 1, "N.Y": ramp + 2, "N.Z": ramp + 3}
    OpenEXR.File({"type": OpenEXR.scanlineimage}, chans).write(str(tmp_path / "n.exr"))
    frame = io.read_image(tmp_path / "n.exr")
    assert frame.metadata["layer_channels"] == {"N": ["N.X", "N.Y", "N.Z"], "Z": ["Z"]}
    assert np.array_equal(frame.layers["N"][..., 2], ramp + 3)  # X, Y, Z order, not alphabetical by accident
    out = io.write_image(tmp_path / "n2.exr", frame, pixel_type="float")
    assert set(io.read_exr_header(out)["channels"]) == set(chans)


def test_layer_with_unnamed_channel_count_is_refused(tmp_path):
    frame = Frame(np.zeros((2, 2, 3)), "ACEScg", layers={"uv": np.zeros((2, 2, 2))})
    with pytest.raises(ImageError, match="layer 'uv' has 2 channels"):
        io.write_image(tmp_path / "uv.exr", frame)
    assert not list(tmp_path.iterdir())


def test_uint_channel_reads_as_float(tmp_path):
    import OpenEXR

    ids = np.arange(12, dtype=np.uint32).reshape(3, 4)
    rgb = np.ones((3, 4), np.float32)
    OpenEXR.File({}, {"R": rgb, "G": rgb, "B": rgb, "id": ids}).write(str(tmp_path / "id.exr"))
    frame = io.read_image(tmp_path / "id.exr")
    assert frame.metadata["pixel_types"]["id"] == "uint"
    assert np.array_equal(frame.layers["id"][..., 0], ids.astype(np.float32))


# --------------------------------------------------------------------------- attributes and colour space


def test_attributes_round_trip(tmp_path):
    attrs = {"reelkit/source_sha256": "ab" * 32, "reelkit/frame": 1001, "reelkit/gain": 0.25, "note": "héllo"}
    out = io.write_image(tmp_path / "a.exr", np.zeros((2, 2, 3)), colorspace="ACEScg", attributes=attrs)
    header = io.read_exr_header(out)
    for k, v in attrs.items():
        assert header["attributes"][k] == v and type(header["attributes"][k]) is type(v)
    assert header["attributes"]["reelkit/colorspace"] == "ACEScg"
    from core import __version__

    assert header["attributes"]["reelkit/version"] == __version__
    assert io.read_image(out).metadata["attributes"]["reelkit/frame"] == 1001


@pytest.mark.parametrize("bad, match", [
    ({"x": [1, 2]}, "str, int or float"),
    ({"x": True}, "str, int or float"),
    ({"x": 2**40}, "32 bits"),
    ({"x": float("nan")}, "non-finite"),
    ({"": "v"}, "non-empty"),
    ({"compression": "zip"}, "written by reelkit"),
    ({"reelkit/colorspace": "srgb"}, "written by reelkit"),
    ({"chromaticities": "x"}, "written by reelkit"),
])
def test_bad_attributes_are_refused(tmp_path, bad, match):
    with pytest.raises(ParameterError, match=match):
        io.write_image(tmp_path / "bad.exr", np.zeros((2, 2, 3)), colorspace="ACEScg", attributes=bad)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("space, interop", [("ACEScg", "lin_ap1_scene"), ("ACES2065-1", "lin_ap0_scene"),
                                            ("lin_rec709", "lin_rec709_scene")])
def test_colorspace_written_as_attribute_and_chromaticities(tmp_path, space, interop):
    import OpenEXR

    out = io.write_image(tmp_path / "cs.exr", np.ones((2, 2, 3)), colorspace=space)
    header = OpenEXR.File(str(out), header_only=True).header()
    assert header["reelkit/colorspace"] == space
    assert header["colorInteropID"] == interop
    # OpenEXR's own table agrees with ours, and finds the metadata consistent
    assert np.allclose(header["chromaticities"], OpenEXR.colorInteropIDToChromaticities(interop), atol=1e-6)
    assert OpenEXR.checkColorMetadata(header) == OpenEXR.ColorMetadataWarning.OK
    frame = io.read_image(out)
    assert (frame.colorspace, frame.metadata["colorspace_source"]) == (space, "header")


def test_srgb_exr_has_no_chromaticities(tmp_path):
    header = io.read_exr_header(io.write_image(tmp_path / "s.exr", np.ones((2, 2, 3)), colorspace="srgb"))
    assert "chromaticities" not in header["attributes"]
    assert (header["colorspace"], header["colorspace_source"]) == ("srgb", "header")


@pytest.mark.parametrize("space", ["ACEScg", "ACES2065-1", "lin_rec709"])
def test_colorspace_from_chromaticities_only(tmp_path, space):
    import OpenEXR

    from core.io.exr import CHROMATICITIES

    ones = np.ones((2, 2), np.float32)
    chans = {"R": ones, "G": ones, "B": ones}
    OpenEXR.File({"chromaticities": CHROMATICITIES[space]}, chans).write(str(tmp_path / "c.exr"))
    frame = io.read_image(tmp_path / "c.exr")
    assert (frame.colorspace, frame.metadata["colorspace_source"]) == (space, "chromaticities")


def test_colorspace_default_and_argument(tmp_path, caplog):
    import OpenEXR

    ones = np.ones((2, 2), np.float32)
    OpenEXR.File({}, {"R": ones, "G": ones, "B": ones}).write(str(tmp_path / "plain.exr"))
    frame = io.read_image(tmp_path / "plain.exr")
    assert (frame.colorspace, frame.metadata["colorspace_source"]) == ("lin_rec709", "default")
    frame = io.read_image(tmp_path / "plain.exr", colorspace="lin_rec709")
    assert (frame.colorspace, frame.metadata["colorspace_source"]) == ("lin_rec709", "argument")
    # the argument also beats the header
    tagged = io.write_image(tmp_path / "tagged.exr", np.ones((2, 2, 3)), colorspace="ACES2065-1")
    assert io.read_image(tagged, colorspace="ACEScg").metadata["colorspace_source"] == "argument"
    # unknown primaries (P3-D65): default, with a warning naming the file
    p3 = OpenEXR.colorInteropIDToChromaticities("lin_p3d65_scene")
    OpenEXR.File({"chromaticities": p3}, {"R": ones, "G": ones, "B": ones}).write(str(tmp_path / "p3.exr"))
    frame = io.read_image(tmp_path / "p3.exr")
    assert (frame.colorspace, frame.metadata["colorspace_source"]) == ("lin_rec709", "default")
    assert any("p3.exr" in r.getMessage() and "match none" in r.getMessage() for r in caplog.records)


# --------------------------------------------------------------------------- compression


@pytest.mark.parametrize("compression", sorted(io.COMPRESSIONS))
def test_every_compression_writes_a_readable_file(tmp_path, compression, photo_acescg_like):
    px = photo_acescg_like.astype(np.float16).astype(np.float32)
    out = io.write_image(tmp_path / f"{compression}.exr", px, colorspace="ACEScg", compression=compression)
    assert io.read_exr_header(out)["compression"] == compression
    back = io.read_image(out)
    if compression in ("none", "rle", "zips", "zip", "piz", "pxr24"):  # pxr24 is lossless for half
        assert np.array_equal(back.pixels, px)
    else:
        rel = np.abs(back.pixels - px) / np.maximum(np.abs(px), 0.05)
        assert np.median(rel) < 0.01 and rel.max() < 0.2, compression


def test_compression_and_pixel_type_are_validated(tmp_path):
    with pytest.raises(ParameterError, match="compression"):
        io.write_image(tmp_path / "x.exr", np.zeros((2, 2, 3)), colorspace="ACEScg", compression="zstd9")
    with pytest.raises(ParameterError, match="pixel_type"):
        io.write_image(tmp_path / "x.exr", np.zeros((2, 2, 3)), colorspace="ACEScg", pixel_type="double")
    with pytest.raises(ParameterError, match="bit_depth"):
        io.write_image(tmp_path / "x.exr", np.zeros((2, 2, 3)), colorspace="ACEScg", bit_depth=16)
    out = io.write_image(tmp_path / "x.exr", np.zeros((2, 2, 3)), colorspace="ACEScg",
                         compression="PIZ", pixel_type="FLOAT")
    assert io.read_exr_header(out)["compression"] == "piz"
    assert not [p for p in tmp_path.iterdir() if p.name != "x.exr"]


# --------------------------------------------------------------------------- independent reader


@pytest.mark.parametrize("compression", ["none", "zips", "zip"])
@pytest.mark.parametrize("pixel_type", ["half", "float"])
def test_independent_decoder_reads_our_files(tmp_path, compression, pixel_type, photo_acescg_like):
    px = np.dstack([photo_acescg_like, photo_acescg_like[..., 1:2]])
    out = io.write_image(tmp_path / "ind.exr", px, colorspace="ACEScg", pixel_type=pixel_type, compression=compression)
    attrs, planes = decode_exr(out)
    assert attrs["reelkit/colorspace"] == ("string", b"ACEScg")
    dt = np.float16 if pixel_type == "half" else np.float32
    for i, name in enumerate("RGBA"):
        assert planes[name].dtype == dt
        assert np.array_equal(planes[name], px[..., i].astype(dt))


def test_reads_nuke_written_colour_science_pattern():
    path = _colour_resource("CMS_Test_Pattern.exr")
    frame = io.read_image(path)
    _, planes = decode_exr(path)  # ZIPS, half: our own decoder is the reference
    assert frame.pixels.shape == (1267, 1274, 3)
    assert frame.metadata["compression"] == "zips"
    for i, name in enumerate("RGB"):
        assert np.array_equal(frame.pixels[..., i], planes[name].astype(np.float32))
    assert (frame.colorspace, frame.metadata["colorspace_source"]) == ("lin_rec709", "default")
    assert frame.pixels.max() > 0.5 and frame.pixels.min() >= 0.0  # a real pattern, not zeros


def test_reads_single_channel_and_rec709_files():
    single = io.read_image(_colour_resource("Single_Channel.exr"))
    assert single.channels == ("R",) and single.pixels.shape == (256, 256, 1)
    assert single.metadata["attributes"]["nuke/version"] == "10.5v2"
    _, planes = decode_exr(_colour_resource("Single_Channel.exr"))
    assert np.array_equal(single.pixels[..., 0], planes["R"].astype(np.float32))
    ohta = io.read_image(_colour_resource("Ohta1997.exr"))
    assert (ohta.colorspace, ohta.metadata["colorspace_source"]) == ("lin_rec709", "chromaticities")
    assert ohta.pixels.shape == (4, 6, 3) and len(ohta.layers) == 1 and ohta.layers["T"].shape[2] == 16


# --------------------------------------------------------------------------- windows and header


def test_data_window_is_placed_in_display_window(tmp_path):
    import OpenEXR

    data = np.arange(2 * 3, dtype=np.float32).reshape(2, 3) + 1
    header = {"dataWindow": (np.array([2, 1], np.int32), np.array([4, 2], np.int32)),
              "displayWindow": (np.array([0, 0], np.int32), np.array([5, 3], np.int32))}
    OpenEXR.File(header, {"R": data, "G": data * 2, "B": data * 3}).write(str(tmp_path / "dw.exr"))
    frame = io.read_image(tmp_path / "dw.exr")
    assert frame.pixels.shape == (4, 6, 3)
    expected = np.zeros((4, 6), np.float32)
    expected[1:3, 2:5] = data
    assert np.array_equal(frame.pixels[..., 0], expected)
    assert np.array_equal(frame.pixels[..., 2], expected * 3)
    assert frame.metadata["data_window"] == [2, 1, 4, 2]
    assert frame.metadata["display_window"] == [0, 0, 5, 3]
    info = io.read_exr_header(tmp_path / "dw.exr")
    assert (info["width"], info["height"]) == (6, 4)


def test_data_window_overscan_is_cropped(tmp_path, caplog):
    import OpenEXR

    data = np.arange(4 * 5, dtype=np.float32).reshape(4, 5)
    header = {"dataWindow": (np.array([-1, -1], np.int32), np.array([3, 2], np.int32)),
              "displayWindow": (np.array([0, 0], np.int32), np.array([2, 1], np.int32))}
    OpenEXR.File(header, {"Y": data}).write(str(tmp_path / "over.exr"))
    with caplog.at_level(logging.WARNING, logger="core"):
        frame = io.read_image(tmp_path / "over.exr")
    assert np.array_equal(frame.pixels[..., 0], data[1:3, 1:4])
    # said, not silent (issue 15.8e): 20 data pixels, 6 inside the display window
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"{tmp_path / 'over.exr'}: 14 data-window pixels outside the display window [0, 0, 2, 1] dropped "
        "(overscan is not kept)"]


def test_data_window_entirely_outside_is_an_error_not_a_black_frame(tmp_path, capsys):
    """Before (issue 15.8e): an all-0 frame, and convert exited 0."""
    import OpenEXR

    data = np.full((2, 3), 0.5, np.float32)
    header = {"dataWindow": (np.array([10, 10], np.int32), np.array([12, 11], np.int32)),
              "displayWindow": (np.array([0, 0], np.int32), np.array([5, 3], np.int32))}
    OpenEXR.File(header, {"R": data, "G": data, "B": data}).write(str(tmp_path / "away.exr"))
    with pytest.raises(ImageReadError, match=r"away.exr: data window \[10, 10, 12, 11\] lies entirely outside "
                                             r"the display window \[0, 0, 5, 3\]"):
        io.read_image(tmp_path / "away.exr")
    from core.cli.main import main

    assert main(["convert", str(tmp_path / "away.exr"), "away.png", "--to", "srgb", "-o", str(tmp_path / "o")]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1 and not (tmp_path / "o" / "away.png").exists()


def test_header_does_not_read_pixels_and_matches(tmp_path, photo_acescg_like):
    out = io.write_image(tmp_path / "hdr.exr", photo_acescg_like, colorspace="lin_rec709", compression="piz",
                         attributes={"shot": "sh010"})
    # cut the pixel data away: the header still reads (no pixels needed)...
    raw = out.read_bytes()
    (tmp_path / "cut.exr").write_bytes(raw[:len(raw) // 3])
    header = io.read_exr_header(tmp_path / "cut.exr")
    assert header["channels"] == ["B", "G", "R"] and header["pixel_types"]["R"] == "half"
    assert (header["width"], header["height"]) == (96, 64)
    assert header["compression"] == "piz" and header["attributes"]["shot"] == "sh010"
    assert (header["colorspace"], header["colorspace_source"]) == ("lin_rec709", "header")
    # ... while reading the pixels fails clearly
    with pytest.raises(ImageReadError, match="cut.exr"):
        io.read_image(tmp_path / "cut.exr")


def test_no_main_image_is_a_clear_error(tmp_path):
    import OpenEXR

    ones = np.ones((2, 2), np.float32)
    OpenEXR.File({}, {"beauty.R": ones, "beauty.G": ones, "depth.Z": ones}).write(str(tmp_path / "multi.exr"))
    with pytest.raises(ImageReadError, match=r"no main image.*beauty\.R"):
        io.read_image(tmp_path / "multi.exr")


def test_tiled_and_multipart_files(tmp_path):
    import OpenEXR

    ramp = np.arange(40 * 50, dtype=np.float32).reshape(40, 50)
    tiles = OpenEXR.TileDescription()
    tiles.xSize = tiles.ySize = 16
    OpenEXR.File({"type": OpenEXR.tiledimage, "tiles": tiles}, {"R": ramp, "G": ramp, "B": -ramp}).write(
        str(tmp_path / "tiled.exr"))
    frame = io.read_image(tmp_path / "tiled.exr")
    assert np.array_equal(frame.pixels[..., 2], -ramp)
    assert io.read_exr_header(tmp_path / "tiled.exr")["type"] == "tiledimage"
    parts = [OpenEXR.Part({}, {"R": ramp, "G": ramp, "B": ramp}, "left"), OpenEXR.Part({}, {"Y": ramp * 2}, "right")]
    OpenEXR.File(parts).write(str(tmp_path / "multi.exr"))
    frame = io.read_image(tmp_path / "multi.exr")  # the first part
    assert frame.channels == ("R", "G", "B") and frame.metadata["parts"] == 2
    assert np.array_equal(frame.pixels[..., 0], ramp)
    # a cut inside the second part is still a truncated file, not a silent one-part read
    raw = (tmp_path / "multi.exr").read_bytes()
    (tmp_path / "multi_cut.exr").write_bytes(raw[:len(raw) * 3 // 4])
    with pytest.raises(ImageReadError, match="multi_cut.exr: truncated or corrupt"):
        io.read_image(tmp_path / "multi_cut.exr")


def test_y_with_alpha_keeps_alpha_as_a_layer(tmp_path):
    import OpenEXR

    y = np.full((2, 3), 0.5, np.float32)
    a = np.full((2, 3), 0.25, np.float32)
    OpenEXR.File({}, {"Y": y, "A": a}).write(str(tmp_path / "ya.exr"))
    frame = io.read_image(tmp_path / "ya.exr")
    assert frame.channels == ("Y",) and np.all(frame.pixels == 0.5)
    assert np.all(frame.layers["A"] == 0.25) and frame.metadata["layer_channels"]["A"] == ["A"]
    again = io.read_exr_header(io.write_image(tmp_path / "ya2.exr", frame))
    assert again["channels"] == ["A", "Y"]
