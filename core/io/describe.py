"""Describe an image, a sequence or a video: size, channels, bit depth, colour space, per-channel statistics.

The library behind ``reelkit info`` and the agent's ``info`` tool (:mod:`core.agent`).
"""

from __future__ import annotations

#: Frames sampled (evenly, 10 % to 90 % of the way through) to pick a representative one.
SAMPLED_FRAMES = 5


def describe(path: str, colorspace: str | None = None) -> dict:
    """Statistics of a file, or of a sequence's or video's representative frame plus its summary.

    The representative frame of a sequence or a video is the one of median brightness (mean of its
    colour channels) among :data:`SAMPLED_FRAMES` frames spread from 10 % to 90 % of the way
    through: frame 0 is black in many clips (a fade in, a leader); its number is ``stats_of`` (a
    sequence's file number, a video's 0-based decode index). ``bit_depth`` says how the
    samples are stored (``8-bit integer``, ``16-bit float (half)``...).
    """
    from core import io
    from core.frame import frame_stats

    if io.is_sequence_pattern(path):
        numbers = io.find_frames(path)
        frame, chosen, sampled = _representative(
            numbers, lambda n: io.read_image(io.sequence_path(path, n), colorspace=colorspace))
        info = {**frame_stats(frame), "bit_depth": _bit_depth(frame)}
        info["sequence"] = {"pattern": path, "first": numbers[0], "last": numbers[-1], "count": len(numbers),
                            "missing": io.format_frames(io.missing_frames(numbers)), "stats_of": chosen,
                            "sampled": sampled}
        return info
    if io.is_video_file(path):
        video = io.video_info(path)
        numbers = list(range(max(1, video.frame_count)))
        frame, chosen, sampled = _representative(
            numbers, lambda n: next(io.iter_video_frames(path, [n], colorspace=colorspace)))
        info = {**frame_stats(frame), "bit_depth": "8-bit integer (as decoded)"}
        info["video"] = {"frames": video.frame_count, "fps": video.fps, "codec": video.codec,
                         "stats_of": chosen, "sampled": sampled}
        return info
    frame = io.read_image(path, colorspace=colorspace)
    info = {**frame_stats(frame), "bit_depth": _bit_depth(frame)}
    if str(path).lower().endswith(".exr"):
        header = io.read_exr_header(path, colorspace=colorspace)
        info["exr"] = {k: header[k] for k in ("compression", "pixel_types", "attributes") if k in header}
    return info


def _representative(numbers: list[int], read) -> tuple:
    """(the frame of median brightness among up to SAMPLED_FRAMES of ``numbers``, its number, the numbers
    sampled): ``stats_of`` is that number for a sequence (a file's frame number) as for a video (0-based)."""
    import numpy as np

    if len(numbers) <= SAMPLED_FRAMES:
        picks = list(numbers)
    else:
        last = len(numbers) - 1
        picks = sorted({numbers[round(last * (0.1 + 0.8 * i / (SAMPLED_FRAMES - 1)))] for i in range(SAMPLED_FRAMES)})
    brightness = []
    for n in picks:  # one frame in memory at a time; the chosen one is read again
        px = read(n).pixels
        colour = px[..., :3] if px.shape[2] >= 3 else px[..., :1]
        brightness.append(float(np.nanmean(np.where(np.isfinite(colour), colour, np.nan))))
    chosen = picks[int(np.argsort(brightness, kind="stable")[(len(picks) - 1) // 2])]
    return read(chosen), chosen, picks


def _bit_depth(frame) -> str:
    """How a read frame's file stores its samples."""
    meta = frame.metadata
    if meta.get("format") == "exr":
        kinds = {"half": "16-bit float (half)", "float": "32-bit float", "uint": "32-bit integer"}
        return ", ".join(sorted({kinds.get(t, t) for t in (meta.get("pixel_types") or {}).values()}))
    bits = meta.get("bit_depth")
    if bits is None:
        return "unknown"
    if meta.get("format") == "tiff":
        import tifffile

        with tifffile.TiffFile(frame.path) as tif:
            kind = "float" if tif.pages[0].dtype.kind == "f" else "integer"
        return f"{bits}-bit {kind}"
    return f"{bits}-bit integer"
