"""Who won: core.validate.verdict.decide on reported tables and on planted cases at the rule's edges."""

from __future__ import annotations

import math

import pytest

from core.validate.verdict import FLICKER_FLOOR, FLICKER_RATIO, FLICKER_TRADE_DB, decide, flicker_limit

#: Stage 5's table of the real pair of issue #14 (270 frames, 4 shots): the 3D LUT beats ML by 0.47 dB and ML
#: flickers 2.3x the source.
ISSUE_14 = {
    "source": {"psnr": 39.26, "ssim": 0.9481, "delta_e": 1.279, "flicker": 0.0087},
    "grade_lut3d": {"psnr": 39.79, "ssim": 0.9569, "delta_e": 1.158, "flicker": 0.0081},
    "dust_bust+denoise_nlm+grade_lut3d": {"psnr": 38.88, "ssim": 0.9583, "delta_e": 1.122, "flicker": 0.0082},
    "ml": {"psnr": 39.32, "ssim": 0.9485, "delta_e": 1.251, "flicker": 0.0203},
}
KINDS = {"source": "source", "grade_lut3d": "baseline", "dust_bust+denoise_nlm+grade_lut3d": "baseline",
         "ml": "candidate"}


def table(**rows):
    """``name=(psnr, flicker)`` rows over a source at 30 dB / 0.01 stops; names starting ``ml`` are candidates."""
    summary = {"source": {"psnr": 30.0, "ssim": 0.9, "delta_e": 3.0, "flicker": 0.01}}
    kinds = {"source": "source"}
    for name, (psnr, flick) in rows.items():
        summary[name] = {"psnr": psnr, "ssim": 0.9, "delta_e": 2.0, "flicker": flick}
        kinds[name] = "candidate" if name.startswith("ml") else "baseline"
    return summary, kinds


def test_the_reported_case_says_the_lut_won_and_recommends_it():
    v = decide(ISSUE_14, KINDS, frames=270)
    assert v["winner"] == "grade_lut3d" and v["winner_kind"] == "baseline" and v["versus"] == "ml"
    assert v["margin_db"] == pytest.approx(0.47)
    assert set(v["flagged"]) == {"ml"} and "2.3x" in v["flagged"]["ml"]
    assert v["recommend"] == "grade_lut3d"
    line = v["line"]
    assert line.startswith("all frames (270): baseline grade_lut3d wins with 39.79 dB PSNR, +0.47 dB over "
                           "candidate ml (39.32 dB)")
    assert "Recommended: grade_lut3d." in line and "Flagged for flicker: ml" in line


def test_ml_that_wins_says_by_how_much():
    summary, kinds = table(grade_lut3d=(32.0, 0.009), ml=(33.5, 0.0095))
    v = decide(summary, kinds)
    assert (v["winner"], v["versus"], v["recommend"]) == ("ml", "grade_lut3d", "ml")
    assert v["margin_db"] == pytest.approx(1.5) and not v["flagged"]
    assert "candidate ml wins with 33.50 dB PSNR, +1.50 dB over baseline grade_lut3d (32.00 dB)" in v["line"]


def test_a_flickering_winner_gives_way_to_a_steadier_method_within_the_trade():
    summary, kinds = table(grade_lut3d=(32.0, 0.009), ml=(32.0 + FLICKER_TRADE_DB, 0.03))
    v = decide(summary, kinds)
    assert v["winner"] == "ml" and "ml" in v["flagged"] and v["recommend"] == "grade_lut3d"
    assert "Recommended: grade_lut3d (32.00 dB: ml gains 1 dB or less over it and flickers)" in v["line"]
    # a larger gain is worth it, and the line says to check the flicker
    summary, kinds = table(grade_lut3d=(32.0, 0.009), ml=(32.0 + FLICKER_TRADE_DB + 0.01, 0.03))
    v = decide(summary, kinds)
    assert v["recommend"] == "ml" and "check its flicker" in v["line"]


def test_the_flicker_limit_is_a_ratio_with_a_floor():
    assert flicker_limit(0.02) == pytest.approx(FLICKER_RATIO * 0.02)  # the ratio decides above the floor
    assert flicker_limit(0.001) == pytest.approx(0.001 + FLICKER_FLOOR)  # a nearly steady source: the floor
    limit = flicker_limit(0.01)
    summary, kinds = table(at=(31.0, limit), above=(31.5, limit + 1e-6))
    assert set(decide(summary, kinds)["flagged"]) == {"above"}


def test_nothing_better_than_the_source_recommends_keeping_it():
    summary, kinds = table(grade_matrix=(29.0, 0.01), ml=(28.0, 0.01))
    v = decide(summary, kinds)
    assert v["winner"] == "grade_matrix" and v["recommend"] == "source"
    assert "Recommended: keep the source" in v["line"]


def test_one_kind_is_measured_against_the_runner_up_and_edge_cases():
    summary, kinds = table(grade_matrix=(31.0, 0.01), grade_lut3d=(32.0, 0.01))
    v = decide(summary, kinds, scope="damaged frames", frames=3)
    assert (v["winner"], v["versus"]) == ("grade_lut3d", "grade_matrix") and v["margin_db"] == pytest.approx(1.0)
    assert v["line"].startswith("damaged frames (3): grade_lut3d wins")
    # no contender; a still (no flicker): nothing flagged; ties keep the table's order
    assert decide(table()[0], table()[1])["winner"] is None
    summary, kinds = table(a=(31.0, float("nan")), b=(31.0, float("nan")))
    summary["source"]["flicker"] = float("nan")
    v = decide(summary, kinds)
    assert v["winner"] == "a" and not v["flagged"] and math.isclose(v["margin_db"], 0.0)
