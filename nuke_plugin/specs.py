"""Parameter specs of a reelkit job run from a Nuke node.

Every reelkit node shows these knobs beside the ones that mirror its core
operation's spec: which frames, where results go, how input frames are
obtained, whether to redo finished frames. They describe the job, not the
image operation. Frames, output folder and force are core's job spec
(:data:`core.jobs.JOB_PARAMS`, also the CLI's ``--frames``/``--output-dir``/
``--force``) in Nuke's words (an empty knob rather than an unset value);
how input frames are obtained is Nuke's own.
"""

from __future__ import annotations

import dataclasses

from core.jobs import JOB_PARAMS as CORE_JOB_PARAMS
from core.params import Param, ParamSet

INPUT_MODES = ("auto", "render")

# Knob classes other than the one derived from the parameter's type.
JOB_KNOB_CLASSES = {"output_dir": "File_Knob"}

#: Nuke's words: what an empty knob means (core's help says what an unset value means), what a node redoes.
_HELP = {"frames": "frames to process, e.g. 1001-1100, 1001-1100x2, 1,5,7-9; empty: the whole frame range "
                   "of the input",
         "output_dir": "folder for the results and their manifest.json; empty: a 'reelkit' "
                       "folder in the system's temporary folder",
         "force": "redo frames that an earlier run with the same settings already made"}


def _knob(name: str) -> Param:
    p = dataclasses.replace(CORE_JOB_PARAMS[name], help=_HELP.get(name, CORE_JOB_PARAMS[name].help))
    return p if p.kind is bool else dataclasses.replace(p, default="", optional=False)


JOB_PARAMS = ParamSet(
    "nuke_job",
    [
        _knob("frames"),
        _knob("output_dir"),
        Param("input_mode", str, "auto", "auto: read the files of an upstream Read that passes them through "
              "unchanged, otherwise render the input to temporary EXR files; render: always render",
              choices=INPUT_MODES, label="Input frames"),
        _knob("force"),
    ],
)
