"""reelkit.palette/1 pack: exact round trip, stated ΔE bound, deterministic bytes, versions."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from core.errors import FormatError, ImageReadError, OutputExistsError, ParameterError
from core.palette import FORMAT, acescg_to_fit, encode, fit_from_pack, fit_palette, pack, pack_exr, unpack, unpack_exr
from core.palette.pack import _zip_bytes
from tests.test_palette_operator import KNOWN, exact_random, palette_image


@pytest.fixture(scope="module")
def encoded():
    img = exact_random((48, 64, 4), seed=21) * np.float32(1.2)
    img[..., 3] = np.where(img[..., 3] < 0.1, 0.0, 1.0)
    fit = fit_palette(img, k=9, seed=3)
    return img, fit, encode(img, fit)


def test_round_trip_is_exact(tmp_path, encoded):
    img, fit, enc = encoded
    info = pack(tmp_path / "shot.npz", enc, distance=True)
    assert info.data_path.exists() and info.sidecar_path == tmp_path / "shot.json"
    for source in (info.data_path, info.sidecar_path):
        got = unpack(source)
        assert got.index.dtype == enc.index.dtype and got.index.tobytes() == enc.index.tobytes()
        assert got.palette.tobytes() == fit.palette.tobytes()
        assert got.palette_acescg.tobytes() == fit.palette_acescg.tobytes()
        assert got.positions.tobytes() == fit.positions.tobytes()
        assert got.counts.tolist() == enc.counts.tolist()
        assert got.metadata["format"] == FORMAT.tag == "reelkit.palette/1" and got.k == 9 and got.space == "oklab"
        np.testing.assert_array_equal(got.decode(), enc.reconstruction())
        np.testing.assert_array_equal(got.gradient(), enc.gradient())
        np.testing.assert_allclose(got.distance, enc.distance, rtol=1e-3, atol=1e-3)  # float16


def test_decoded_colours_within_the_stated_delta_e(tmp_path, encoded):
    img, fit, enc = encoded
    pack(tmp_path / "a.npz", enc)
    got = unpack(tmp_path / "a.npz")
    err = got.metadata["error"]
    assert err["space_units"] == "ΔE OK x 100"
    valid = img[..., 3] > 0
    src = acescg_to_fit(img[..., :3][valid], "oklab").astype(np.float64)
    dec = acescg_to_fit(got.decode()[valid], "oklab").astype(np.float64)
    de = np.sqrt(((src - dec) ** 2).sum(-1)) * 100
    assert de.max() <= err["max"] + 1e-3
    assert de.mean() == pytest.approx(err["mean"], abs=1e-3)
    assert got.metadata["masked_pixels"] == int((~valid).sum())
    assert (got.index[~valid] == 255).all()


def test_two_packs_are_byte_identical(tmp_path, encoded):
    _, _, enc = encoded
    a = pack(tmp_path / "one" / "p.npz", enc)
    b = pack(tmp_path / "two" / "p.npz", enc)
    assert a.data_path.read_bytes() == b.data_path.read_bytes()
    assert a.sidecar_path.read_bytes() == b.sidecar_path.read_bytes()
    with zipfile.ZipFile(a.data_path) as zf:
        assert [i.date_time for i in zf.infolist()] == [(1980, 1, 1, 0, 0, 0)] * len(zf.infolist())
        assert zf.namelist()[0] == "metadata.json"


def test_sizes_are_reported(tmp_path, encoded):
    from core.io import write_image

    img, _, enc = encoded
    src = write_image(tmp_path / "src.exr", img, colorspace="ACEScg")
    info = pack(tmp_path / "p.npz", enc, source=src)
    side = json.loads(info.sidecar_path.read_text("utf-8"))
    assert side["bytes"]["data"] == info.data_bytes == info.data_path.stat().st_size
    assert side["bytes"]["source"] == src.stat().st_size
    assert info.ratio_to_source == pytest.approx(info.total_bytes / src.stat().st_size)
    assert info.ratio_to_raw_half < 0.5  # one byte per pixel plus a header, against six


def test_refuses_overwrite_and_bad_names(tmp_path, encoded):
    _, _, enc = encoded
    pack(tmp_path / "p.npz", enc)
    with pytest.raises(OutputExistsError):
        pack(tmp_path / "p.npz", enc)
    pack(tmp_path / "p.npz", enc, overwrite=True)
    with pytest.raises(ParameterError, match=".npz"):
        pack(tmp_path / "p.exr", enc)


def test_sidecar_detects_a_changed_data_file(tmp_path, encoded):
    _, _, enc = encoded
    info = pack(tmp_path / "p.npz", enc)
    data = bytearray(info.data_path.read_bytes())
    data[-30] ^= 0xFF
    info.data_path.write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match="sha256"):
        unpack(info.sidecar_path)


def test_corrupt_and_foreign_files(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ImageReadError, match="corrupt"):
        unpack(bad)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.zeros(3))
    with pytest.raises(ImageReadError, match="no metadata.json"):
        unpack(foreign)
    with pytest.raises(ImageReadError, match="cannot read"):
        unpack(tmp_path / "missing.npz")


def _payload(version: str) -> dict:
    return {"metadata": {"format": version, "k": 2}, "arrays": {}}


def test_newer_version_is_refused_with_a_clear_error(tmp_path, encoded):
    def upgrade(payload):
        return FORMAT.read(payload, where="pack", key=("metadata", "format"))

    with pytest.raises(FormatError, match=r"reelkit.palette/2 is newer than this reelkit reads \(reelkit.palette/1\)"):
        upgrade(_payload("reelkit.palette/2"))
    with pytest.raises(FormatError, match=r"reelkit.palette/0 has no upgrade path"):
        upgrade(_payload("reelkit.palette/0"))
    with pytest.raises(FormatError, match=r"pack: format 'something.else/1', expected reelkit.palette/1 \(a palette"):
        upgrade(_payload("something.else/1"))
    # a whole file written by a future version
    _, _, enc = encoded
    info = pack(tmp_path / "p.npz", enc)
    with zipfile.ZipFile(info.data_path) as zf:
        members = [(n, zf.read(n)) for n in zf.namelist()]
    meta = json.loads(members[0][1])
    meta["format"] = "reelkit.palette/3"
    members[0] = ("metadata.json", json.dumps(meta).encode())
    future = tmp_path / "future.npz"
    future.write_bytes(_zip_bytes(members))
    with pytest.raises(FormatError, match=r"future.npz: format reelkit.palette/3 is newer"):
        unpack(future)


def test_upgrade_path_runs_registered_functions(tmp_path, encoded):
    """A version-0 file (palette under its old name 'colours') is brought to version 1 by its upgrader."""
    _, _, enc = encoded
    info = pack(tmp_path / "p.npz", enc)
    with zipfile.ZipFile(info.data_path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    meta = json.loads(members.pop("metadata.json"))
    meta["format"] = "reelkit.palette/0"
    members["colours.npy"] = members.pop("palette.npy")
    old = tmp_path / "old.npz"
    old.write_bytes(_zip_bytes([("metadata.json", json.dumps(meta).encode())] + sorted(members.items())))

    def v0_to_v1(payload):
        arrays = dict(payload["arrays"])
        arrays["palette"] = arrays.pop("colours")
        return {"metadata": {**payload["metadata"], "format": "reelkit.palette/1"}, "arrays": arrays}

    with pytest.raises(FormatError, match="no upgrade path"):
        unpack(old)
    got = unpack(old, upgraders={0: v0_to_v1})
    assert got.index.tobytes() == enc.index.tobytes()
    assert got.palette.tobytes() == enc.fit.palette.tobytes()

    def broken(payload):
        return payload  # forgets to bump the version

    with pytest.raises(FormatError, match="produced reelkit.palette/0"):
        unpack(old, upgraders={0: broken})


def test_inconsistent_arrays_are_refused(tmp_path, encoded):
    _, _, enc = encoded
    info = pack(tmp_path / "p.npz", enc)
    with zipfile.ZipFile(info.data_path) as zf:
        members = [(n, zf.read(n)) for n in zf.namelist()]
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.zeros((3, 3), np.float32))
    members = [(n, buf.getvalue() if n == "palette.npy" else b) for n, b in members]
    bad = tmp_path / "bad.npz"
    bad.write_bytes(_zip_bytes(members))
    with pytest.raises(ImageReadError, match=r"palette has shape \(3, 3\), expected \(9, 3\)"):
        unpack(bad)


def test_fit_from_pack_encodes_new_frames_identically(tmp_path):
    img = palette_image(KNOWN, noise=0.02)
    fit = fit_palette(img, k=5)
    enc = encode(img, fit)
    pack(tmp_path / "p.npz", enc)
    again = fit_from_pack(unpack(tmp_path / "p.npz"))
    assert encode(img, again).index.tobytes() == enc.index.tobytes()


@pytest.mark.parametrize("k", [9, 256])
def test_exr_pack_round_trip(tmp_path, k):
    img = exact_random((40, 56, 4), seed=k) * np.float32(1.2)
    img[..., 3] = np.where(img[..., 3] < 0.1, 0.0, 1.0)
    fit = fit_palette(img, k=k, seed=3, max_iter=10)
    enc = encode(img, fit)
    a = pack_exr(tmp_path / "a.exr", enc)
    b = pack_exr(tmp_path / "b.exr", enc)
    assert a.read_bytes() == b.read_bytes()
    got = unpack_exr(a)
    assert got.index.dtype == enc.index.dtype and got.index.tobytes() == enc.index.tobytes()
    assert got.palette.tobytes() == fit.palette.tobytes()
    assert got.positions.tobytes() == fit.positions.tobytes()
    np.testing.assert_array_equal(got.decode(), enc.reconstruction())
