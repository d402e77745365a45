"""The validation report: one self-contained ``report.html`` plus its PNGs in ``report/``.

First line: the verdict (who won, by how much, what is recommended: the
``verdict`` and ``damaged_verdict`` sentences of
:func:`core.validate.verdict.decide`). Sections: per-stage summary (rows
the pipeline passes as ``stages``), the metric summary (best value per
metric in bold), the same over the damaged frames when they are known, per-shot tables, the grade
fits, plots over frames, side-by-side comparison strips and a wipe
(slider) between any two of source / baselines / candidates / reference,
and the experiment log (this run's parameters, seed, config hash and
timings, then the entries of ``notes/experiments.md`` when given). Every
picture is also embedded (base64), so the page can be mailed on its own.
Crops are 8-bit sRGB previews of ACEScg (:func:`core.color.acescg_to_srgb_preview`,
``view="clip"``).
"""

from __future__ import annotations

import base64
import html
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPORT = "report.html"
REPORT_DIR = "report"
PLOTTED = (("psnr", "PSNR (dB, higher is better)"), ("ssim", "SSIM (higher is better)"),
           ("delta_e", "mean dE2000 (lower is better)"), ("flicker", "flicker vs reference (stops, lower is better)"),
           ("variance_drift", "local variance drift vs reference (stops, lower is better)"))
_LABELS = {"psnr": "PSNR dB", "ssim": "SSIM", "delta_e": "ΔE2000", "flicker": "flicker (stops)",
           "variance_drift": "variance drift (stops)"}


def _png(path: Path, image: np.ndarray) -> Path:
    from core import io

    return io.write_image(path, image.astype(np.float32) / 255.0, colorspace="srgb", bit_depth=8, overwrite=True)


def crop_window(reference: np.ndarray, mask, size: int) -> tuple[int, int, int, int]:
    """``(y, x, h, w)`` of the comparison crop: of 9 evenly placed windows, the most detailed valid one."""
    h, w = reference.shape[:2]
    ch, cw = min(size, h), min(size, w)
    lum = reference[..., :3].mean(axis=-1)
    grad = np.abs(np.diff(lum, axis=0, append=lum[-1:])) + np.abs(np.diff(lum, axis=1, append=lum[:, -1:]))
    valid = np.ones((h, w), bool) if mask is None else np.asarray(mask) > 0.5
    best, best_score = (0, 0), -1.0
    for y in np.linspace(0, h - ch, 3).round().astype(int):
        for x in np.linspace(0, w - cw, 3).round().astype(int):
            v = valid[y:y + ch, x:x + cw]
            score = float(np.where(v, grad[y:y + ch, x:x + cw], 0).mean()) * (0.1 + v.mean())
            if score > best_score:
                best, best_score = (int(y), int(x)), score
    return best[0], best[1], ch, cw


def crops_folder(out: Path, frame) -> Path:
    """Where :func:`write_crops` puts one frame's crops: ``report/crops/NNNN`` (``still`` for a still)."""
    return Path(out) / REPORT_DIR / "crops" / ("still" if frame is None else f"{frame:04d}")


def compare_strip(out: Path, frame) -> Path:
    """Where :func:`write_report` puts one comparison frame's side-by-side strip: ``report/compare.NNNN.png``."""
    return Path(out) / REPORT_DIR / f"compare.{'still' if frame is None else f'{frame:04d}'}.png"


def write_crops(out: Path, frame, images: Mapping[str, np.ndarray], mask, size: int) -> dict[str, str]:
    """8-bit sRGB crops of every image of one frame; ``{name: path relative to out}``."""
    from core.color import acescg_to_srgb_preview
    from core.validate.run import safe_name

    y, x, h, w = crop_window(images["reference"], mask, size)
    folder = crops_folder(out, frame)
    paths = {}
    for name, img in images.items():
        tile = acescg_to_srgb_preview(np.ascontiguousarray(img[y:y + h, x:x + w, :3]), nonfinite="pass")
        p = _png(folder / f"{safe_name(name)}.png", tile)
        paths[name] = p.relative_to(out).as_posix()
    return paths


def _read_png(path: Path) -> np.ndarray:
    from core import io

    return np.round(io.read_image(path).pixels[..., :3] * 255.0).astype(np.uint8)


def _b64(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 100 else f"{v:.2f}"
    return html.escape(str(v))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], bold: set[tuple[int, int]] = frozenset()) -> str:
    out = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"]
    for i, row in enumerate(rows):
        cells = []
        for j, v in enumerate(row):
            text = _cell(v)
            cells.append(f"<td><b>{text}</b></td>" if (i, j) in bold else f"<td>{text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join(out) + "</table>"


def _metric_table(summary: Mapping[str, Mapping[str, float]], methods: Mapping[str, str], metrics,
                  higher: set[str]) -> str:
    names = list(summary)
    bold = set()
    for j, m in enumerate(metrics):
        vals = [(summary[n].get(m, float("nan")), i) for i, n in enumerate(names)
                if methods.get(n) != "source"]
        vals = [(v, i) for v, i in vals if math.isfinite(v)]
        if vals:
            best = (max if m in higher else min)(vals)[1]
            bold.add((best, j + 2))
    rows = [[n, methods.get(n, ""), *(summary[n].get(m) for m in metrics)] for n in names]
    return _table(["method", "kind", *(_LABELS.get(m, m) for m in metrics)], rows, bold)


def write_report(out: Path, data: Mapping[str, Any], *, stages=None, experiments=None, manifest=None,
                 compare: Sequence = ()) -> Path:
    """Write ``report.html`` and the plots and strips beside it; returns the page's path."""
    from core.io.atomic import write_text_atomic
    from core.plot import line_chart
    from core.sheets import contact_sheet

    out = Path(out)
    rdir = out / REPORT_DIR
    rdir.mkdir(parents=True, exist_ok=True)
    methods: Mapping[str, str] = data["methods"]
    metrics = data["metrics"]
    higher = set(data["higher_is_better"])
    rows = data["frames"]
    verdicts = [v for v in (data.get("verdict"), data.get("damaged_verdict")) if v]
    parts = [f"<h1>{html.escape(data['title'])}</h1>"]
    parts += [f"<p class=verdict>{html.escape(v['line'])}</p>" for v in verdicts]
    parts += [f"<p class=meta>config hash <code>{data['config_hash'][:16]}</code> · seed {data['seed']} · "
             f"PSNR/SSIM on {html.escape(data['encoding'])} (sRGB-encoded display values clipped to 0..1), "
             "ΔE2000 on CIE Lab D65 of the scene-linear values, flicker in stops; valid-mask pixels only</p>"]
    if stages:
        keys: list[str] = []
        for s in stages:
            keys += [k for k in s if k not in keys]
        parts += ["<h2>Pipeline stages</h2>", _table(keys, [[s.get(k, "") for k in keys] for s in stages])]
    parts += ["<h2>Summary (mean over frames)</h2>", _metric_table(data["summary"], methods, metrics, higher),
              "<p class=note>Bold: the best baseline or candidate per metric. "
              f"{html.escape((data.get('verdict') or {}).get('rule', ''))}.</p>"]
    damaged = data.get("damaged_frames")
    if data.get("damaged_summary"):
        from core.io import format_frames

        scored = {r["frame"] for r in rows if r.get("damaged") == 1}
        parts += [f"<h2>Damaged frames ({len(scored)}: {html.escape(format_frames(sorted(scored), sep=',', limit=40))})"
                  "</h2>", _metric_table(data["damaged_summary"], methods, metrics, higher),
                  "<p class=note>The frames stage 1 found damaged: what restoration is for.</p>"]
    elif damaged is not None:
        parts.append("<p class=note>No damaged frame was flagged among the scored frames.</p>")
    if len(data["shots"]) > 1:
        parts.append("<h2>Per shot</h2>")
        for shot, summ in data["shots"].items():
            parts += [f"<h3>{html.escape(shot)}</h3>", _metric_table(summ, methods, metrics, higher)]
    if data.get("fits"):
        parts += ["<h2>Grade fits</h2>", f"<p>{html.escape(data.get('fit_note', ''))}</p>",
                  _table(["method", "frames", "samples", "RMS residual", "ok", "note", ".cube"],
                         [[m, f["n_frames"], f["n_samples"], f["rms"], "yes" if f["success"] else "no",
                           f["reason"], f"grades/{m}.cube" if f["success"] else ""]
                          for m, f in data["fits"].items()])]
    # plots over frames
    framed = [r for r in rows if r["frame"] != ""]
    if framed:
        parts.append("<h2>Over frames</h2>")
        for metric, title in PLOTTED:
            series = {}
            for m in methods:
                sel = [r for r in framed if r["method"] == m]
                if sel:
                    series[m] = ([r["frame"] for r in sel], [r[metric] for r in sel])
            p = _png(rdir / f"plot_{metric}.png", line_chart(series, title=title, x_label="frame"))
            parts.append(f'<img class=plot src="{_b64(p)}" alt="{metric}">')
    # comparisons
    crops = _crop_index(out, compare)
    if crops:
        best = _best_baseline(data["summary"], methods)
        parts.append("<h2>Comparison crops</h2>")
        for n, paths in crops.items():
            order = [SOURCE_NAME] + ([best] if best else []) + [m for m in methods if methods[m] == "candidate"]
            order += ["reference"]
            tiles = [(name, _read_png(out / paths[name])) for name in order if name in paths]
            strip = _png(compare_strip(out, n), contact_sheet(tiles, cols=len(tiles), max_width=2400))
            label = "still" if n is None else f"frame {n}"
            parts += [f"<h3>{label}: side by side</h3>", f'<img class=strip src="{_b64(strip)}" alt="{label}">',
                      _wipe(str(n), {name: _b64(out / p) for name, p in paths.items()}, order)]
    # experiment log
    parts.append("<h2>Experiment log</h2>")
    if manifest:
        t = manifest.get("timings", {})
        parts.append(_table(["parameter", "value"], [[k, v] for k, v in data["params"].items()]
                            + [["config hash", data["config_hash"]], ["started", t.get("started", "")],
                               ["tool version", manifest.get("version", "")]]))
    if experiments is not None and Path(experiments).is_file():
        text = Path(experiments).read_text("utf-8")
        parts.append(f"<h3>{html.escape(os.fspath(experiments))}</h3><pre>{html.escape(text[-60000:])}</pre>")
    page = _PAGE.format(title=html.escape(data["title"]), body="\n".join(parts))
    return write_text_atomic(out / REPORT, page, overwrite=True)


SOURCE_NAME = "source"


def _best_baseline(summary, methods) -> str | None:
    vals = {m: s["psnr"] for m, s in summary.items() if methods.get(m) == "baseline" and math.isfinite(s["psnr"])}
    return max(vals, key=vals.get) if vals else None


def _crop_index(out: Path, compare: Sequence) -> dict:
    import json

    found = {}
    for n in compare:
        rec = out / "frames" / f"metrics.{'still' if n is None else f'{n:04d}'}.json"
        if rec.is_file():
            crops = json.loads(rec.read_text("utf-8")).get("crops")
            if crops:
                found[n] = crops
    return found


def _wipe(key: str, images: Mapping[str, str], order: Sequence[str]) -> str:
    names = [n for n in order if n in images] + [n for n in images if n not in order]
    left = names[-2] if len(names) > 2 else names[0]
    right = names[-1]
    opts_a = "".join(f'<option value="{html.escape(n)}"{" selected" if n == left else ""}>{html.escape(n)}</option>'
                     for n in names)
    opts_b = "".join(f'<option value="{html.escape(n)}"{" selected" if n == right else ""}>{html.escape(n)}</option>'
                     for n in names)
    data = "".join(f'<img class=src data-name="{html.escape(n)}" src="{src}" hidden>' for n, src in images.items())
    return (f'<div class=wipe id="wipe{html.escape(key)}">{data}'
            f'<p>wipe: left <select class=a>{opts_a}</select> | right <select class=b>{opts_b}</select> '
            '<input class=pos type=range min=0 max=100 value=50></p>'
            '<div class=stage><img class=ia><img class=ib></div></div>')


_PAGE = """<!doctype html>
<html lang=en><head><meta charset=utf-8><title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}}
table{{border-collapse:collapse;margin:8px 0 16px}} th,td{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
th{{background:#f2f2f2}} td:first-child,th:first-child{{text-align:left}}
.meta,.note{{color:#555;font-size:90%}}
.verdict{{font-size:115%;font-weight:600}} img.plot{{display:block;margin:6px 0}} img.strip{{max-width:100%}}
.wipe .stage{{position:relative;display:inline-block}} .wipe .stage img{{display:block;image-rendering:pixelated}}
.wipe .stage .ib{{position:absolute;left:0;top:0}} pre{{background:#f7f7f7;padding:8px;overflow:auto;max-height:500px}}
</style></head><body>
{body}
<script>
document.querySelectorAll('.wipe').forEach(function(w){{
  function src(n){{var i=w.querySelector('img.src[data-name="'+n+'"]');return i?i.src:'';}}
  var a=w.querySelector('select.a'),b=w.querySelector('select.b'),pos=w.querySelector('input.pos');
  var ia=w.querySelector('img.ia'),ib=w.querySelector('img.ib');
  function draw(){{ia.src=src(a.value);ib.src=src(b.value);
    ib.style.clipPath='inset(0 0 0 '+pos.value+'%)';}}
  a.onchange=b.onchange=pos.oninput=draw;draw();
}});
</script>
</body></html>
"""
