"""Integer hashing: the only source of randomness in :mod:`core.generate`.

Every random value a generator draws is a 32-bit integer hash of integer
keys (the seed, the family, an octave, a lattice cell...). Unsigned 32-bit
multiplication, xor and shifts give the same bits on every machine, numpy
build and thread count, so a render is a pure function of (params, seed,
size). Floats made from a hash use its top 24 bits, which ``float32`` holds
exactly.
"""

from __future__ import annotations

import hashlib

import numpy as np

#: Multipliers of a lattice cell's x and y before mixing (odd 32-bit constants).
PRIME_X = np.uint32(0x8DA6B343)
PRIME_Y = np.uint32(0xD8163841)
_M1 = 0x7FEB352D
_M2 = 0x846CA68B
_MASK = 0xFFFFFFFF
#: 2**-24: scales a 24-bit integer to [0, 1) exactly.
UNIT = np.float32(2.0**-24)


def mix32(h: np.ndarray) -> np.ndarray:
    """Mix a ``uint32`` array in place (a low-bias avalanche hash) and return it."""
    h ^= h >> 16
    h *= np.uint32(_M1)
    h ^= h >> 15
    h *= np.uint32(_M2)
    h ^= h >> 16
    return h


def mix_int(*words: int) -> int:
    """The same mix over Python integers: a 32-bit key for any number of integer words.

    >>> mix_int(1, 2) == mix_int(1, 2), mix_int(1, 2) == mix_int(2, 1)
    (True, False)
    """
    h = 0x9E3779B9
    for w in words:
        h = (h ^ (int(w) & _MASK)) & _MASK
        h ^= h >> 16
        h = (h * _M1) & _MASK
        h ^= h >> 15
        h = (h * _M2) & _MASK
        h ^= h >> 16
        h = (h + 0x9E3779B9) & _MASK
    return h


def name_word(name: str) -> int:
    """A stable 32-bit word for a name (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:4], "little")


def seed_key(seed: int, *words: int | str) -> int:
    """The 32-bit key of a stream: the seed (any non-negative integer, all its bits) and named/integer words.

    >>> seed_key(7, "noise", 0) != seed_key(7, "noise", 1)
    True
    """
    seed = int(seed)
    parts = []
    while True:  # every 32-bit word of the seed, so seeds above 2**32 differ too
        parts.append(seed & _MASK)
        seed >>= 32
        if not seed:
            break
    return mix_int(len(parts), *parts, *(name_word(w) if isinstance(w, str) else int(w) for w in words))


def unit_float(h: np.ndarray) -> np.ndarray:
    """``float32`` in [0, 1) from the top 24 bits of a ``uint32`` hash (exact)."""
    return (h >> 8).astype(np.float32) * UNIT


def unit_scalar(key: int) -> float:
    """The scalar counterpart of :func:`unit_float` for a Python key: a float in [0, 1), exact."""
    return (key >> 8) * 2.0**-24
