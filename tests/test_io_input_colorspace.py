"""Input colour space like Nuke's Read node (issue #25 item 2): header, else a documented file-type rule.

Real files: EXRs written by OpenEXR itself with no reelkit tag (as renderers and HDRI libraries write them),
with and without chromaticities; OCIO's built-in ACES config and a small config file for ``$OCIO``.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from core import io
from core.cli.main import main
from core.errors import ColorSpaceError
from core.io import samples

#: A config whose scene_linear role is a space reelkit knows by an alias, and one it does not know.
CONFIG = """ocio_profile_version: 2
roles:
  default: {name}
  scene_linear: {name}
colorspaces:
  - !<ColorSpace>
    name: {name}
    family: ""
    isdata: false
"""


def _untagged_exr(path, chromaticities=None):
    """A real photo, linearised, written by OpenEXR with no reelkit attribute (half RGB)."""
    import OpenEXR

    from core import color

    lin = color.srgb_to_lin_rec709(samples.load_sample("chelsea.png").pixels[:32, :48])
    header = {} if chromaticities is None else {"chromaticities": chromaticities}
    OpenEXR.File(header, {c: lin[..., i].astype(np.float16) for i, c in enumerate("RGB")}).write(str(path))
    return path


def test_untagged_exr_is_linear_rec709_by_default(tmp_path):
    frame = io.read_image(_untagged_exr(tmp_path / "hdri.exr"))
    assert (frame.colorspace, frame.metadata["colorspace_source"]) == ("lin_rec709", "default")
    assert io.read_exr_header(tmp_path / "hdri.exr")["colorspace"] == "lin_rec709"


def test_untagged_float_file_takes_the_ocio_scene_linear_role(tmp_path, monkeypatch):
    path = _untagged_exr(tmp_path / "hdri.exr")
    monkeypatch.setenv("OCIO", "ocio://cg-config-latest")  # scene_linear: ACEScg
    assert io.read_image(path).colorspace == "ACEScg"
    cfg = tmp_path / "studio.ocio"
    cfg.write_text(CONFIG.format(name="Utility - Linear - sRGB"))
    monkeypatch.setenv("OCIO", str(cfg))
    assert io.read_image(path).colorspace == "lin_rec709"  # known by its alias
    cfg2 = tmp_path / "other.ocio"
    cfg2.write_text(CONFIG.format(name="lin_studio"))
    monkeypatch.setenv("OCIO", str(cfg2))
    assert io.read_image(path).colorspace == "lin_studio"  # the config's own name
    # 8-bit files stay sRGB whatever $OCIO says; a stated space beats it
    assert io.read_image(samples.sample_path("coffee.png")).colorspace == "srgb"
    assert io.read_image(path, colorspace="ACEScg").colorspace == "ACEScg"
    monkeypatch.setenv("OCIO", str(tmp_path / "missing.ocio"))
    with pytest.raises(ColorSpaceError, match=r"\$OCIO: cannot load OCIO config"):
        io.read_image(path)


def test_auto_is_the_rule(tmp_path):
    path = _untagged_exr(tmp_path / "hdri.exr")
    assert io.read_image(path, colorspace="auto").metadata["colorspace_source"] == "default"
    assert io.colorspace_option("auto") is None
    assert io.colorspace_option("sRGB Encoded Rec.709 (sRGB)") == "srgb"
    with pytest.raises(ColorSpaceError, match="--input-colorspace: unknown colour space 'rec2020'"):
        io.colorspace_option("rec2020", name="--input-colorspace")


def test_stated_colorspace_silences_the_unknown_chromaticities_warning(tmp_path, caplog, capsys):
    # Rec.709 primaries adapted to a D50 white (as some HDRI tools write): no known space matches
    d50 = (0.6484, 0.3309, 0.3212, 0.5978, 0.1559, 0.0660, 0.3457, 0.3585)
    path = _untagged_exr(tmp_path / "d50.exr", chromaticities=d50)
    caplog.set_level(logging.WARNING)
    assert main(["info", str(path), "--json"]) == 0
    assert any("match none" in r.getMessage() and "--input-colorspace" in r.getMessage() for r in caplog.records)
    assert json.loads(capsys.readouterr().out)["colorspace"] == "lin_rec709"
    caplog.clear()
    assert main(["info", str(path), "--json", "--input-colorspace", "ACEScg"]) == 0
    assert not any("match none" in r.getMessage() for r in caplog.records)
    info = json.loads(capsys.readouterr().out)
    assert (info["colorspace"], info["colorspace_source"]) == ("ACEScg", "argument")


def test_degrade_reads_the_stated_colorspace_and_records_it(tmp_path, capsys):
    path = _untagged_exr(tmp_path / "hdri.exr")
    out = tmp_path / "out"
    assert main(["degrade", str(path), "d.exr", "--preset", "none", "--input-colorspace", "Linear Rec.709 (sRGB)",
                 "--output-dir", str(out), "-q"]) == 0
    data = json.loads((out / "manifest.json").read_text())
    assert data["colorspaces"] == {"input": "lin_rec709", "output": "auto"}
    assert data["config"]["input_colorspace"] == "lin_rec709"
    assert data["frames"]["hdri.exr"]["from"] == "lin_rec709"
    # no effect: the ACEScg result equals the input converted from linear Rec.709
    from core import color

    expected = color.convert_frame(io.read_image(path), "ACEScg").pixels
    np.testing.assert_allclose(io.read_image(out / "d.exr").pixels, expected, rtol=2e-3, atol=1e-4)
    # a name nobody knows: one line naming the option, nothing written
    bad = tmp_path / "bad"
    assert main(["degrade", str(path), "--input-colorspace", "rec2020", "--output-dir", str(bad), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--input-colorspace: unknown colour space 'rec2020'" in err[0]
    assert not bad.exists() or not any(bad.iterdir())


def test_infer_reads_the_stated_colorspace_and_records_it(tmp_path):
    pytest.importorskip("onnxruntime")
    from core.infer import Restorer, infer_files
    from tests.test_infer import make_model

    (tmp_path / "models").mkdir()
    model = make_model(tmp_path / "models", "cnn", convs=3, seed=4, name="restore")
    path = _untagged_exr(tmp_path / "hdri.exr")
    job = infer_files(model, str(path), output_dir=tmp_path / "out", params={"tile": 0, "threads": 1},
                      input_colorspace="ACES - ACEScg")
    assert job.data["colorspaces"] == {"input": "ACEScg", "output": "ACEScg"}
    assert job.data["frames"]["hdri.exr"]["from"] == "ACEScg"
    # stated as ACEScg, the pixels go to the model unconverted
    expected = Restorer(model, tile=0).run(io.read_image(path).pixels)
    np.testing.assert_allclose(io.read_image(tmp_path / "out" / "hdri.exr").pixels, expected, rtol=2e-3, atol=1e-4)
    # by default (lin_rec709) they are converted first: another result
    default = infer_files(model, str(path), output_dir=tmp_path / "out2", params={"tile": 0, "threads": 1})
    assert default.data["frames"]["hdri.exr"]["from"] == "lin_rec709"


def test_palette_report_reads_the_stated_colorspace_and_records_it(tmp_path):
    path = _untagged_exr(tmp_path / "hdri.exr")
    assert main(["palette", "report", str(path), "--k", "4", "--output-dir", str(tmp_path / "a"), "-q"]) == 0
    auto = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert auto["colorspace"] == {"input": "auto", "from": "lin_rec709", "source": "default"}
    assert main(["palette", "report", str(path), "--k", "4", "--input-colorspace", "acescg",
                 "--output-dir", str(tmp_path / "b"), "-q"]) == 0
    stated = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert stated["colorspace"] == {"input": "ACEScg", "from": "ACEScg", "source": "argument"}
    # the same pixels read as another space give another palette (the option reaches the fit)
    assert auto["palette"] != stated["palette"]
