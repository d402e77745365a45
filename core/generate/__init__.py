"""Ground truth nobody photographed: seeded procedural images and test charts in scene-linear ACEScg.

Families (:data:`FAMILIES`), each a pure function of (params, seed, width,
height) with one parameter spec (CLI options, config keys, Nuke knobs and
the (image, params) data set keys derive from it):

- ``noise`` (:mod:`.noise`): value / gradient / simplex noise, fBm and
  turbulence, Nuke Noise knob names plus a seed;
- ``ramp`` (:mod:`.ramps`): linear, radial, angular, four-corner ramps with
  an exposure in stops;
- ``shape`` (:mod:`.shapes`): anti-aliased signed-distance shapes, unions
  and repetition;
- ``repetition`` (:mod:`.repetition`): an element repeated along scale /
  rotation / alpha / position progressions;
- ``chart`` (:mod:`.charts`): ColorChecker 24, SMPTE RP 219 bars, zone
  plate, slanted edge, step wedge, Siemens star.

Frames are ``float32`` ``HW3`` scene-linear ACEScg. Bit-exact: randomness
is integer hashing (:mod:`._hash`), transcendental functions are built from
exact IEEE operations (:mod:`._math`), and bands of rows are computed the
same way on any number of threads (:mod:`._tiles`), so the same params and
seed give the same bytes on any machine. Files:
:func:`core.generate.files.generate_files` (``reelkit generate``).

>>> frame = generate("noise", {"octaves": 3}, seed=7, width=32, height=16)
>>> frame.pixels.shape, frame.pixels.dtype.name, frame.metadata["seed"]
((16, 32, 3), 'float32', 7)
"""

from core.generate.family import Family
from core.generate.registry import (
    FAMILIES,
    GENERATOR_VERSION,
    MAX_SIZE,
    SEED_PARAM,
    WORKING_COLORSPACE,
    check_seed,
    check_size,
    family,
    generate,
    parse_size,
    resolve,
)

__all__ = [
    "FAMILIES",
    "GENERATOR_VERSION",
    "MAX_SIZE",
    "SEED_PARAM",
    "WORKING_COLORSPACE",
    "Family",
    "check_seed",
    "check_size",
    "family",
    "generate",
    "parse_size",
    "resolve",
]
