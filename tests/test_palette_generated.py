"""Palette on generated ground truth (issue 18 item 5): core.generate's ColorChecker chart holds exactly 25
colours (the 24 patches, ACEScg values from colour-science through OCIO, and the 0.01 surround), so a 25-entry
palette must find each of them and rebuild the chart, and a smaller one must merge, not invent."""

from __future__ import annotations

import numpy as np

from core.generate import generate
from core.generate.charts import COLORCHECKER_ACESCG
from core.palette import encode, fit_palette

COLOURS = np.array([rgb for _, rgb in COLORCHECKER_ACESCG] + [(0.01, 0.01, 0.01)], np.float32)


def chart() -> np.ndarray:
    return generate("chart", {"chart": "colorchecker"}, width=300, height=200).pixels


def test_a_palette_of_25_finds_every_patch_and_rebuilds_the_chart():
    img = chart()
    fit = fit_palette(img, k=25, seed=1)
    assert fit.converged
    gap = np.abs(fit.palette_acescg[None] - COLOURS[:, None]).max(axis=2)  # (colour, entry)
    assert sorted(gap.argmin(axis=1).tolist()) == list(range(25))       # one entry per colour
    assert gap.min(axis=1).max() < 1e-5                                  # at the colour (OKLab round trip)
    out = encode(img, fit)
    assert np.abs(out.reconstruction() - img).max() < 1e-5
    assert len(np.unique(out.index)) == 25


def test_fewer_entries_merge_patches_without_inventing_colours():
    img = chart()
    fit = fit_palette(img, k=6, seed=1)
    # every entry is a mean of chart colours: inside the chart's ACEScg bounds
    assert (fit.palette_acescg >= COLOURS.min(axis=0) - 1e-6).all()
    assert (fit.palette_acescg <= COLOURS.max(axis=0) + 1e-6).all()
    assert fit.mean_distance > 0
