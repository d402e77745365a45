"""Optional compiled kernels: the one rule for choosing between a numpy path and a numba one.

A module with a numba kernel (:mod:`core.palette.compiled`,
:mod:`core.metrics.deltae`) keeps a numpy path that always works and takes a
``kernel`` option, one of :data:`KERNELS`: ``"numpy"``, ``"numba"`` (numba
must import: the ``fast`` extra) or ``"auto"`` (numba when it imports).
:func:`choose` validates the name and says which path runs.
"""

from __future__ import annotations

from collections.abc import Callable

#: ``kernel`` option values.
KERNELS = ("auto", "numpy", "numba")


def choose(kernel: str, available: Callable[[], bool]) -> str:
    """``"numpy"`` or ``"numba"`` for a :data:`KERNELS` name; ``available()``: whether the module's numba kernel
    can run. An unknown name raises :class:`~core.errors.ParameterError`; ``"numba"`` without numba raises
    :class:`~core.errors.MissingDependencyError` naming the ``fast`` extra.

    >>> choose("numpy", lambda: True), choose("auto", lambda: False)
    ('numpy', 'numpy')
    """
    from core.errors import ParameterError, require

    if kernel not in KERNELS:
        raise ParameterError(f"parameter 'kernel': {kernel!r} is not one of {', '.join(KERNELS)}")
    if kernel == "numba" and not available():
        require("numba", "fast")
    if kernel == "auto":
        return "numba" if available() else "numpy"
    return kernel
