"""Parameter specs of a reelkit job run from a Nuke node.

Every reelkit node shows these knobs beside the ones that mirror its core
operation's spec: which frames, where results go, how input frames are
obtained, whether to redo finished frames. They describe the job, not the
image operation, and the CLI has the same ideas as hand-written options
(``--frames``, ``--output-dir``, ``--force``).

.. note:: These belong in :mod:`core` (one spec for the CLI and the nodes);
   they live here until core has a shared job spec.
"""

from __future__ import annotations

from core.params import Param, ParamSet

INPUT_MODES = ("auto", "render")

# Knob classes other than the one derived from the parameter's type.
JOB_KNOB_CLASSES = {"output_dir": "File_Knob"}

JOB_PARAMS = ParamSet(
    "nuke_job",
    [
        Param("frames", str, "", "frames to process, e.g. 1001-1100, 1001-1100x2, 1,5,7-9; "
              "empty: the whole frame range of the input", label="Frames"),
        Param("output_dir", str, "", "folder for the results and their manifest.json; empty: a 'reelkit' "
              "folder in the system's temporary folder", label="Output folder"),
        Param("input_mode", str, "auto", "auto: read the files of an upstream Read that passes them through "
              "unchanged, otherwise render the input to temporary EXR files; render: always render",
              choices=INPUT_MODES, label="Input frames"),
        Param("force", bool, False, "redo frames that an earlier run with the same settings already made",
              label="Redo finished frames"),
    ],
)
