"""Make tests/data/golden_stages/dataset/: the stage manifests of a dataset run by reelkit before core.stages
(1f84424), on test_dataset_builder's footage and PARAMS, and dataset_status's rows for them then.
    PYTHONPATH=. python tests/data/golden_stages/make_dataset_golden.py WORK tests/data/golden_stages/dataset
Kept of each manifest: what dataset_status reads (status, config with its upstream, config_hash, timings,
counts) and the format fields; 'files', 'frames' and 'inputs' (paths of the machine that made it) are left out.
"""
import json, shutil, sys
from pathlib import Path

from core.dataset import dataset_status, run_dataset
from core.dataset.builder import STAGE_DIRS
from tests.test_dataset_footage import make_footage
from tests.test_dataset_builder import PARAMS

work, dst = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
shutil.rmtree(work, ignore_errors=True)
footage = make_footage(work / "footage")
out = work / "out"
run_dataset(footage.videos, out, PARAMS)
shutil.rmtree(dst, ignore_errors=True)
KEEP = ("format", "command", "status", "config", "config_hash", "seed", "timings", "counts", "dataset_format")
for d in ["", *STAGE_DIRS.values()]:
    m = json.loads((out / d / "manifest.json").read_text("utf-8"))
    (dst / d).mkdir(parents=True, exist_ok=True)
    (dst / d / "manifest.json").write_text(json.dumps({k: m[k] for k in KEEP if k in m}, indent=1) + "\n")
assert dataset_status(dst) == dataset_status(out)  # what is left out is not read
(dst / "status.json").write_text(json.dumps(dataset_status(dst), indent=1) + "\n")
# the cluster stage redone since caption ran (another config hash): caption and assemble are stale
redone = work / "redone"
shutil.copytree(dst, redone)
m = json.loads((redone / "cluster" / "manifest.json").read_text("utf-8"))
m["config_hash"] = "0" * 64
(redone / "cluster" / "manifest.json").write_text(json.dumps(m, indent=1) + "\n")
(dst / "status_cluster_redone.json").write_text(json.dumps(dataset_status(redone), indent=1) + "\n")
