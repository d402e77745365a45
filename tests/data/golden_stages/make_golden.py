"""Make tests/data/golden_stages/: a restore project whose 5 stage.json records were written by reelkit
before core.stages (issue 17 item 3). Run once (done 2026-12-07 at 727f173), from the repo root:
    PYTHONPATH=. python tests/data/golden_stages/make_golden.py WORK tests/data/golden_stages/project
"""
import json, os, shutil, sys
from pathlib import Path

import torch

torch.set_num_threads(1)
from core.demo import make_footage
from core.pipeline.project import Project, STAGES, TRAINING_DEFAULTS, project_status, run_project
from core.train.config import merge
from tests.test_pipeline_project import TINY  # the values project.json holds

work = Path(sys.argv[1]).resolve()
dst = Path(sys.argv[2]).resolve() if len(sys.argv) > 2 else None
shutil.rmtree(work, ignore_errors=True)
proj = work / "project"
proj.mkdir(parents=True)
os.chdir(proj)
src, ref = make_footage("inputs", width=96, shot_length=6, seed=7)
stages = {s.key: dict(TINY.get(s.key) or {}) for s in STAGES}
stages["training"] = merge(TRAINING_DEFAULTS, stages["training"])
p = Project(path=Path("."), name="golden", source=src, reference=ref, seed=3, stages=stages,
            created="2026-12-07T00:00:00+0000")
for s in STAGES:
    p.folder(s).mkdir(parents=True, exist_ok=True)
p.notes.parent.mkdir(parents=True, exist_ok=True)
p.notes.write_text("# Experiments: golden\n")
p.save()
status = run_project(".", "1-5")
print([s.line() for s in status])
assert [s.state for s in status] == ["done"] * 5

# Pack: the files project_status reads whole are kept; every other file is listed in placeholders.json with its
# size and mtime (the input digest reads only names, sizes and times; output digests only check files exist).
KEEP = {"project.json", "pipeline/01_dataset_curation/pairs.json", "pipeline/02_alignment/manifest.json",
        "pipeline/03_training/model.onnx", "pipeline/04_inference_render/manifest.json",
        "pipeline/05_validation/metrics.json"} | {f"pipeline/{s.folder}/stage.json" for s in STAGES}
if dst is not None:
    shutil.rmtree(dst, ignore_errors=True)
    others = {}
    for f in sorted(proj.rglob("*")):
        if f.is_file():
            rel = f.relative_to(proj).as_posix()
            if rel in KEEP:
                (dst / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, dst / rel)
            else:
                others[rel] = [f.stat().st_size, f.stat().st_mtime_ns]
    (dst / "placeholders.json").write_text(json.dumps(others, indent=0, sort_keys=True) + "\n")
