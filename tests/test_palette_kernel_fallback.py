"""Without numba the palette encoder keeps its numpy path, with the same bits (issue 24 item 3).

numba is declared in the ``fast`` extra (also in ``all`` and ``dev``). A
process where ``import numba`` fails (``sys.modules["numba"] = None``, as
when the extra is not installed) must still encode with ``kernel="auto"``,
giving the index, distance and counts the compiled kernel gives in this
process (when numba is here; else those of the numpy path), and must refuse
``kernel="numba"`` in one line naming the extra to install.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np

from core import color
from core.io.samples import load_sample
from core.palette import compiled, encode, fit_palette

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import sys
sys.modules["numba"] = None  # `import numba` raises ImportError, as without the extra
import numpy as np
from core import color
from core.errors import MissingDependencyError
from core.io.samples import load_sample
from core.palette import compiled, encode, fit_palette

image = color.convert(load_sample("rocket.jpg").pixels, "srgb", "ACEScg")
fit = fit_palette(image, k=16, seed=3, sample_size=20_000)
assert not compiled.available() and compiled.choose("auto") == "numpy"
enc = encode(image, fit)  # kernel="auto"
try:
    encode(image, fit, kernel="numba")
except MissingDependencyError as exc:
    refusal = str(exc)
else:
    refusal = ""
np.savez(sys.argv[1], index=enc.index, distance=enc.distance, counts=enc.counts, palette=fit.palette,
         refusal=np.array(refusal))
"""


def test_extra_declares_numba():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(req.startswith("numba") for req in extras["fast"])
    assert "fast" in extras["all"][0] and "fast" in extras["dev"][0]
    assert "pip install 'reelkit[fast]'" in (ROOT / "docs" / "quickstart-palette.md").read_text("utf-8")


def test_without_numba_auto_encodes_with_numpy_same_bits(tmp_path):
    out = tmp_path / "child.npz"
    run = subprocess.run([sys.executable, "-c", CHILD, str(out)], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    child = np.load(out)
    image = color.convert(load_sample("rocket.jpg").pixels, "srgb", "ACEScg")
    fit = fit_palette(image, k=16, seed=3, sample_size=20_000)
    assert child["palette"].tobytes() == fit.palette.tobytes()  # the fit never used numba
    here = encode(image, fit, kernel="numba" if compiled.available() else "numpy")
    assert child["index"].dtype == here.index.dtype and child["index"].tobytes() == here.index.tobytes()
    assert child["distance"].tobytes() == here.distance.tobytes()
    assert np.array_equal(child["counts"], here.counts)
    refusal = str(child["refusal"])
    assert "numba is required" in refusal and "reelkit[fast]" in refusal and "\n" not in refusal
