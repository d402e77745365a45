"""Test charts in scene-linear ACEScg: ColorChecker 24, SMPTE RP 219 bars, zone plate, slanted edge,
grey step wedge, Siemens star.

- ``colorchecker``: the 24 patches (6 x 4, colour-science's order) on a dark
  surround; values :data:`COLORCHECKER_ACESCG`: colour-science's
  "ColorChecker24 - After November 2014" xyY (D50), Bradford-adapted to D65
  by colour-science and converted to ACEScg by OpenColorIO's built-in CG
  config (:func:`colorchecker_acescg_reference` recomputes them; the tests
  check the table against it to 1e-5).
- ``smpte_bars``: the SMPTE RP 219 HD bars layout (side panels 1/8 of the
  width, seven bars across 3/4; rows 7/12, 1/12, 1/12, 3/12 of the height:
  75% bars, 100% cyan / white / 75% white / blue, 100% yellow / Y ramp /
  red, PLUGE with -2%, +2%, +4%). The chart's R'G'B' code values are decoded
  with the sRGB curve (mirrored below 0 for the -2% PLUGE bar, the only
  negative value) and converted from linear Rec.709 to ACEScg, so the sRGB
  preview PNG shows the code values.
- ``zone_plate``: ``black + (white - black) * (0.5 + 0.5 cos(2 pi phase))`` with
  ``phase = zone_scale * r**2 / (2 R)`` (r the distance from the centre in
  pixels, R half the smaller side): the local frequency ``zone_scale * r / R``
  / 2 cycles per pixel reaches Nyquist at ``r = R`` for ``zone_scale`` 1.
- ``slanted_edge``: an ISO 12233-style edge ``edge_angle`` degrees
  (2..10) counter-clockwise from vertical through the centre, ``black`` left and
  ``white`` right, anti-aliased by a 1-pixel box across the edge.
- ``step_wedge``: ``steps`` vertical bands, left to right from
  ``grey * 2**stop_min`` to ``grey * 2**stop_max`` in equal stops.
- ``star_chart``: a Siemens star of ``spokes`` black/white cycles, radius 0.45
  of the height, on the mean grey; edges anti-aliased from the arc distance.

Output: ``float32`` ``HW3`` scene-linear ACEScg. The seed is unused.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.generate import sdf
from core.generate._math import atan2_turns, exact_scalar_exp2, power, sin_cos_degrees, sin_cos_turns
from core.generate._tiles import pixel_centres, render_bands
from core.generate.family import Family
from core.params import Param, ParamSet

CHARTS = ("colorchecker", "smpte_bars", "zone_plate", "slanted_edge", "step_wedge", "star_chart")

#: ColorChecker 24 in ACEScg (see the module docstring for provenance), colour-science's patch order.
COLORCHECKER_ACESCG = (
    ("dark skin", (0.1357483, 0.08509003, 0.05818094)),
    ("light skin", (0.4474175, 0.2963224, 0.2253501)),
    ("blue sky", (0.143623, 0.1848452, 0.3089402)),
    ("foliage", (0.1184291, 0.1462419, 0.0629106)),
    ("blue flower", (0.2317827, 0.216325, 0.3988689)),
    ("bluish green", (0.2624673, 0.4786126, 0.415561)),
    ("orange", (0.5273836, 0.2379286, 0.06348004)),
    ("purplish blue", (0.08875116, 0.1020546, 0.3495512)),
    ("moderate red", (0.3760785, 0.1142589, 0.1199769)),
    ("purple", (0.0877423, 0.04799954, 0.1269981)),
    ("yellow green", (0.3749127, 0.4796834, 0.09839264)),
    ("orange yellow", (0.595237, 0.3823098, 0.07287163)),
    ("blue", (0.0424564, 0.04885044, 0.2527697)),
    ("green", (0.1303138, 0.2716767, 0.08641792)),
    ("red", (0.2878436, 0.06518526, 0.04844372)),
    ("yellow", (0.7113079, 0.5854315, 0.08431327)),
    ("magenta", (0.3603989, 0.1118202, 0.2709176)),
    ("cyan", (0.0702871, 0.2161145, 0.3527688)),
    ("white 9.5 (.05 D)", (0.8793011, 0.8838874, 0.8406825)),
    ("neutral 8 (.23 D)", (0.587133, 0.5914791, 0.5852789)),
    ("neutral 6.5 (.44 D)", (0.3612596, 0.3663653, 0.3652823)),
    ("neutral 5 (.70 D)", (0.190354, 0.1907825, 0.1899209)),
    ("neutral 3.5 (1.05 D)", (0.08707079, 0.08854581, 0.08960064)),
    ("black 2 (1.5 D)", (0.03145008, 0.03149451, 0.03220973)),
)
COLORCHECKER_NAME = "ColorChecker24 - After November 2014"
#: Linear Rec.709 -> ACEScg, :func:`core.color.conversion_matrix` to 10 decimals (a test checks it), so no
#: machine's last bit of a matrix inversion enters a render.
REC709_TO_ACESCG = ((0.6130974024, 0.3395231462, 0.0473794514),
                    (0.0701937225, 0.9163538791, 0.0134523985),
                    (0.0206155929, 0.1095697729, 0.8698146342))

CHART_PARAMS = ParamSet(
    "generate.chart",
    [
        Param("chart", str, "colorchecker", "which chart", choices=CHARTS),
        Param("edge_angle", float, 5.0, "slanted_edge: degrees from vertical (ISO 12233: 2..10)",
              minimum=2.0, maximum=10.0),
        Param("black", float, 0.05, "dark level of zone_plate, slanted_edge, star_chart (ACEScg)",
              minimum=0.0, maximum=1000.0),
        Param("white", float, 0.8, "bright level of zone_plate, slanted_edge, star_chart (ACEScg)",
              minimum=0.0, maximum=1000.0),
        Param("steps", int, 11, "step_wedge: number of steps", minimum=2, maximum=256),
        Param("stop_min", float, -5.0, "step_wedge: first step, stops from grey", minimum=-30.0, maximum=30.0),
        Param("stop_max", float, 5.0, "step_wedge: last step, stops from grey", minimum=-30.0, maximum=30.0),
        Param("grey", float, 0.18, "step_wedge: the 0-stop grey (ACEScg)", minimum=1e-6, maximum=1000.0),
        Param("spokes", int, 36, "star_chart: black/white cycles around the star", minimum=2, maximum=720),
        Param("zone_scale", float, 1.0, "zone_plate: frequency scale (1: Nyquist at half the smaller side)",
              minimum=0.001, maximum=100.0),
    ],
)


def colorchecker_acescg_reference() -> np.ndarray:
    """The 24 ColorChecker patches in ACEScg, recomputed: colour-science's xyY (D50) -> XYZ -> Bradford to D65
    (colour-science) -> ACEScg (OpenColorIO, ``ocio://cg-config-latest``). ``float32`` ``(24, 3)``.

    Needs colour-science (``pip install 'reelkit[dev]'``); the render uses the table
    :data:`COLORCHECKER_ACESCG`, which this reproduces to 1e-5.
    """
    from core.color.reference import ocio_convert
    from core.errors import require

    colour = require("colour", "dev")
    chart = colour.CCS_COLOURCHECKERS[COLORCHECKER_NAME]
    xyy = np.array(list(chart.data.values()), np.float64)
    white_d65 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]
    xyz = colour.adaptation.chromatic_adaptation_VonKries(
        colour.xyY_to_XYZ(xyy), colour.xy_to_XYZ(chart.illuminant), colour.xy_to_XYZ(white_d65), transform="Bradford")
    return ocio_convert(xyz.astype(np.float32).reshape(1, -1, 3), "XYZ", "ACEScg").reshape(-1, 3)


def _codes_to_acescg(codes) -> np.ndarray:
    """R'G'B' code values ``(N, 3)`` (0..1, sRGB curve, mirrored below 0) -> ACEScg ``float32`` ``(N, 3)``,
    with exact operations only."""
    v = np.asarray(codes, np.float64).reshape(-1, 3)
    a = np.abs(v)
    lin = np.where(a <= 0.04045, a / 12.92, power((a + 0.055) / 1.055, 2.4)) * np.sign(v)
    m = REC709_TO_ACESCG
    cols = [m[r][0] * lin[:, 0] + m[r][1] * lin[:, 1] + m[r][2] * lin[:, 2] for r in range(3)]
    return np.stack(cols, axis=1).astype(np.float32)


def _smpte_layout(width: int, height: int) -> list[tuple[int, int, int, int, Any]]:
    """(x0, x1, y0, y1, colour or 'ramp') rectangles of RP 219 scaled to the image."""
    d = width / 8.0
    c = width * 0.75 / 7.0
    rows = [0, round(height * 7 / 12), round(height * 8 / 12), round(height * 9 / 12), height]
    g40, g15 = (0.4,) * 3, (0.15,) * 3
    bars75 = [(0.75, 0.75, 0.75), (0.75, 0.75, 0.0), (0.0, 0.75, 0.75), (0.0, 0.75, 0.0),
              (0.75, 0.0, 0.75), (0.75, 0.0, 0.0), (0.0, 0.0, 0.75)]
    x = lambda v: int(round(v))  # noqa: E731
    out = [(0, x(d), rows[0], rows[1], g40), (x(d + 7 * c), width, rows[0], rows[1], g40)]
    out += [(x(d + i * c), x(d + (i + 1) * c), rows[0], rows[1], col) for i, col in enumerate(bars75)]
    out += [(0, x(d), rows[1], rows[2], (0.0, 1.0, 1.0)), (x(d), x(d + c), rows[1], rows[2], (1.0, 1.0, 1.0)),
            (x(d + c), x(d + 7 * c), rows[1], rows[2], (0.75, 0.75, 0.75)),
            (x(d + 7 * c), width, rows[1], rows[2], (0.0, 0.0, 1.0))]
    out += [(0, x(d), rows[2], rows[3], (1.0, 1.0, 0.0)), (x(d), x(d + 7 * c), rows[2], rows[3], "ramp"),
            (x(d + 7 * c), width, rows[2], rows[3], (1.0, 0.0, 0.0))]
    edges = [0.0, d, d + 1.5 * c, d + 3.5 * c, d + 3.5 * c + 5 * c / 6, d + 4.5 * c + c / 6, d + 4.5 * c + c / 2,
             d + 4.5 * c + 5 * c / 6, d + 5.5 * c + c / 6, d + 5.5 * c + c / 2, d + 7 * c, float(width)]
    levels = [g15, (0.0,) * 3, (1.0,) * 3, (0.0,) * 3, (-0.02,) * 3, (0.0,) * 3, (0.02,) * 3, (0.0,) * 3,
              (0.04,) * 3, (0.0,) * 3, g15]
    out += [(x(a), x(b), rows[3], rows[4], lev) for a, b, lev in zip(edges[:-1], edges[1:], levels)]
    return out


def render_chart(p: dict[str, Any], seed: int, width: int, height: int, threads: int | None = None) -> np.ndarray:
    """The ``chart`` family: ``float32`` ``HW3`` ACEScg (see the module docstring)."""
    del seed
    chart = p["chart"]
    if chart in ("colorchecker", "smpte_bars", "step_wedge"):
        return _flat_chart(p, width, height)
    black, white = np.float32(p["black"]), np.float32(p["white"])
    cx, cy = np.float32(width / 2), np.float32(height / 2)
    px = pixel_centres(width)[None, :] - cx
    s, c = sin_cos_degrees(p["edge_angle"])
    r_half = min(width, height) / 2.0

    def rows(y0: int, y1: int) -> np.ndarray:
        py = pixel_centres(y1 - y0, y0)[:, None] - cy
        if chart == "slanted_edge":
            # normal of an edge turned counter-clockwise (on screen) from vertical: (cos, -sin), y down
            d = px * np.float32(c) - py * np.float32(s)
            t = np.clip(np.float32(0.5) + d, np.float32(0), np.float32(1))
        elif chart == "zone_plate":
            x64, y64 = px.astype(np.float64), py.astype(np.float64)
            phase = p["zone_scale"] * (x64 * x64 + y64 * y64) / (4.0 * r_half)
            t = (0.5 + 0.5 * sin_cos_turns(phase)[1]).astype(np.float32)
        else:  # star_chart
            x64, y64 = np.broadcast_arrays(px.astype(np.float64), py.astype(np.float64))
            rho = np.sqrt(x64 * x64 + y64 * y64)
            a = atan2_turns(-y64, x64) * (2 * p["spokes"])       # half-cycles around the star
            frac = a - np.floor(a)                                 # position within a half-cycle
            bright = np.mod(np.floor(a), 2.0) == 0
            edge = np.minimum(frac, 1.0 - frac) * rho * (np.pi / p["spokes"])  # arc distance to the nearest edge, px
            inside = np.clip(0.5 + edge, 0.0, 1.0)
            t = np.where(bright, inside, 1.0 - inside)
            disc = sdf.coverage(sdf.circle(px, py, 0.45 * height), 1.0).astype(np.float64)
            t = (0.5 + (t - 0.5) * disc).astype(np.float32)
        t = np.broadcast_to(t, (y1 - y0, width))
        return np.repeat((black + (white - black) * t)[..., None], 3, axis=2)

    return render_bands(width, height, 3, rows, threads=threads)


def _flat_chart(p: dict[str, Any], width: int, height: int) -> np.ndarray:
    """Charts made of flat rectangles: ColorChecker, SMPTE bars, step wedge."""
    chart = p["chart"]
    if chart == "step_wedge":
        out = np.empty((height, width, 3), np.float32)
        n = p["steps"]
        for i in range(n):
            stop = p["stop_min"] + (p["stop_max"] - p["stop_min"]) * i / (n - 1)
            out[:, i * width // n:(i + 1) * width // n] = np.float32(p["grey"] * exact_scalar_exp2(stop))
        return out
    if chart == "colorchecker":
        out = np.full((height, width, 3), np.float32(0.01))
        cell = min(width / 6.0, height / 4.0) * 0.94
        ox, oy = (width - 6 * cell) / 2.0, (height - 4 * cell) / 2.0
        gap = cell * 0.08
        for k, (_, rgb) in enumerate(COLORCHECKER_ACESCG):
            row, col = divmod(k, 6)
            x0, x1 = int(round(ox + col * cell + gap)), int(round(ox + (col + 1) * cell - gap))
            y0, y1 = int(round(oy + row * cell + gap)), int(round(oy + (row + 1) * cell - gap))
            out[y0:y1, x0:x1] = np.array(rgb, np.float32)
        return out
    out = np.zeros((height, width, 3), np.float32)
    for x0, x1, y0, y1, colour in _smpte_layout(width, height):
        if colour == "ramp":
            n = max(x1 - x0, 1)
            codes = (np.arange(n, dtype=np.float64) + 0.5) / n
            out[y0:y1, x0:x1] = _codes_to_acescg(np.repeat(codes[:, None], 3, axis=1))[None, :, :]
        else:
            out[y0:y1, x0:x1] = _codes_to_acescg(colour)[0]
    return out


FAMILY = Family("chart", CHART_PARAMS, render_chart,
                "ColorChecker 24, SMPTE RP 219 bars, zone plate, slanted edge, step wedge, Siemens star",
                {"chart": None, "edge_angle": (2.0, 10.0), "black": (0.01, 0.2), "white": (0.4, 1.0),
                 "steps": (5, 21), "spokes": (12, 72), "zone_scale": (0.25, 2.0)})
