"""Training losses on valid pixels only (imports torch).

Tensors are ``N x C x H x W`` ``float32`` in the training encoding;
``mask`` is ``N x 1 x H x W``, 1 where the reference can be trusted (stage
2's validity mask) and 0 elsewhere. Invalid reference pixels — garbage,
NaN, a frame border the warp could not fill — must not teach anything:
:func:`compute_loss` first replaces them by the prediction itself
(detached), takes the difference only where the mask is valid (0 and no
gradient elsewhere), and then

- ``l1``: mean absolute difference over valid pixels;
- ``ssim``: ``1 - SSIM`` (Gaussian window 11, sigma 1.5, constants for a
  0..1 range) averaged over the windows that hold valid pixels only;
- ``frequency``: mean absolute value of the orthonormal 2-D FFT of the
  masked difference.

So neither the loss nor its gradient depends on what invalid pixels hold,
and the prediction there gets no gradient at all.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.train.config import LossConfig

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
_C1 = 0.01 ** 2
_C2 = 0.03 ** 2


def _gaussian_window(channels: int, device, dtype) -> torch.Tensor:
    x = torch.arange(SSIM_WINDOW, dtype=torch.float64) - (SSIM_WINDOW - 1) / 2
    g = torch.exp(-(x ** 2) / (2 * SSIM_SIGMA ** 2))
    g = g / g.sum()
    w = torch.outer(g, g).to(device=device, dtype=dtype)
    return w.expand(channels, 1, SSIM_WINDOW, SSIM_WINDOW).contiguous()


def masked_l1(diff: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean ``|diff|`` over valid pixels (0 when none is valid); ``diff`` is 0 where invalid."""
    count = mask.expand_as(diff).gt(0).sum().clamp_min(1)
    return diff.abs().sum() / count


def ssim_map(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pixel SSIM (valid convolution: ``H - 10`` by ``W - 10``), averaged over channels."""
    c = pred.shape[1]
    w = _gaussian_window(c, pred.device, pred.dtype)
    mu_x = F.conv2d(pred, w, groups=c)
    mu_y = F.conv2d(target, w, groups=c)
    sxx = F.conv2d(pred * pred, w, groups=c) - mu_x ** 2
    syy = F.conv2d(target * target, w, groups=c) - mu_y ** 2
    sxy = F.conv2d(pred * target, w, groups=c) - mu_x * mu_y
    s = ((2 * mu_x * mu_y + _C1) * (2 * sxy + _C2)) / ((mu_x ** 2 + mu_y ** 2 + _C1) * (sxx + syy + _C2))
    return s.mean(dim=1, keepdim=True)


def masked_ssim_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``1 - SSIM`` averaged over the windows made of valid pixels only (0 when there is none)."""
    s = ssim_map(pred, target)
    with torch.no_grad():
        invalid = mask.le(0).to(s.dtype)
        whole = F.avg_pool2d(invalid, SSIM_WINDOW, stride=1).eq(0).to(s.dtype)  # no invalid pixel in the window
    return torch.where(whole > 0, 1.0 - s, torch.zeros((), dtype=s.dtype, device=s.device)).sum() \
        / whole.sum().clamp_min(1)


def frequency_loss(diff: torch.Tensor) -> torch.Tensor:
    """Mean absolute value of the orthonormal real 2-D FFT of ``diff``."""
    return torch.fft.rfft2(diff, norm="ortho").abs().mean()


def compute_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None,
                 weights: LossConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """The weighted loss and its terms (``{"l1": ..., "ssim": ..., "frequency": ...}``, floats).

    Terms with weight 0 are not computed (and reported as 0).
    """
    if mask is None:
        mask = torch.ones_like(pred[:, :1])
    valid = mask > 0
    target = torch.where(valid, target, pred.detach())
    diff = torch.where(valid, pred - target, torch.zeros((), dtype=pred.dtype, device=pred.device))
    total = torch.zeros((), dtype=pred.dtype, device=pred.device)
    parts = {"l1": 0.0, "ssim": 0.0, "frequency": 0.0}
    if weights.l1 > 0:
        term = masked_l1(diff, mask)
        total = total + weights.l1 * term
        parts["l1"] = float(term.detach())
    if weights.ssim > 0:
        term = masked_ssim_loss(pred, target, mask)
        total = total + weights.ssim * term
        parts["ssim"] = float(term.detach())
    if weights.frequency > 0:
        term = frequency_loss(diff)
        total = total + weights.frequency * term
        parts["frequency"] = float(term.detach())
    return total, parts
