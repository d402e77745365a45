"""The inverse network: a small ResNet-18-style backbone with one head per kind of parameter (imports torch).

Input: ``float32`` ``N x 3 x H x W`` (ACEScg RGB in the model's encoding,
:mod:`core.infer.encoding`), H and W fixed at build time. Two coordinate
channels (x, y in -1..1) are appended inside the network (CoordConv), so
positions survive the global pooling. Backbone: a stride-2 3x3 stem, then
four stages of two basic residual blocks (conv-BN-ReLU-conv-BN + skip),
widths ``w, 2w, 4w, 8w``, the last three starting with stride 2; global
average pooling; a shared 128-unit layer. Heads (:class:`InverseNet`):
continuous means (a sigmoid: 0..1, the normalised range) and log-spreads,
one classification head per categorical param, one logit per boolean;
concatenated into one ``N x D`` output in the layout of
:meth:`~core.inverse.space.ParamSpace.output_layout`.
"""

from __future__ import annotations

import torch
from torch import nn

from core.inverse.space import ParamSpace

HIDDEN = 128


class BasicBlock(nn.Module):
    """ResNet's basic block: 3x3 conv-BN-ReLU, 3x3 conv-BN, plus the (projected when the shape changes) input."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.act = nn.ReLU(inplace=True)
        self.skip = nn.Identity()
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(self.act(self.bn1(self.conv1(x)))))
        return self.act(y + self.skip(x))


class InverseNet(nn.Module):
    """Image -> flat head outputs for ``space`` (module docstring). ``width``: the first stage's channels."""

    def __init__(self, space: ParamSpace, *, height: int, width_px: int, width: int = 16):
        super().__init__()
        ys = torch.linspace(-1.0, 1.0, height).view(1, 1, height, 1).expand(1, 1, height, width_px)
        xs = torch.linspace(-1.0, 1.0, width_px).view(1, 1, 1, width_px).expand(1, 1, height, width_px)
        self.register_buffer("coords", torch.cat([xs, ys], dim=1).contiguous(), persistent=False)
        self.stem = nn.Sequential(nn.Conv2d(5, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU(inplace=True))
        widths = [width, 2 * width, 4 * width, 8 * width]
        blocks, cin = [], width
        for i, w in enumerate(widths):
            blocks += [BasicBlock(cin, w, stride=1 if i == 0 else 2), BasicBlock(w, w)]
            cin = w
        self.body = nn.Sequential(*blocks)
        self.hidden = nn.Sequential(nn.Linear(cin, HIDDEN), nn.ReLU(inplace=True))
        c = len(space.continuous)
        self.mean = nn.Linear(HIDDEN, c) if c else None
        self.log_sigma = nn.Linear(HIDDEN, c) if c else None
        self.categorical = nn.ModuleList(nn.Linear(HIDDEN, len(d.choices)) for d in space.categorical)
        self.boolean = nn.Linear(HIDDEN, len(space.boolean)) if space.boolean else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        coords = self.coords.expand(x.shape[0], -1, -1, -1)
        h = self.body(self.stem(torch.cat([x, coords], dim=1)))
        h = self.hidden(h.mean(dim=(2, 3)))
        outs = []
        if self.mean is not None:
            outs += [torch.sigmoid(self.mean(h)), self.log_sigma(h)]
        outs += [head(h) for head in self.categorical]
        if self.boolean is not None:
            outs.append(self.boolean(h))
        return torch.cat(outs, dim=1)


def inverse_loss(output: torch.Tensor, targets, space: ParamSpace, weights) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted sum of MSE (continuous means), Gaussian NLL of the spreads (around the detached means),
    cross-entropy per categorical head and BCE of the booleans; returns (loss, parts as floats).

    ``targets``: (continuous ``N x C`` float, categorical ``N x K`` long, boolean ``N x B`` float) tensors;
    ``weights``: mapping with ``continuous``, ``spread``, ``categorical``, ``boolean``.
    """
    import torch.nn.functional as F

    lay = space.output_layout()
    cont, cats, bools = targets
    parts: dict[str, torch.Tensor] = {}
    if space.continuous:
        mean = output[:, slice(*lay["mean"])]
        log_sigma = output[:, slice(*lay["log_sigma"])].clamp(-7.0, 2.0)
        parts["continuous"] = F.mse_loss(mean, cont)
        z = (cont - mean.detach()) * torch.exp(-log_sigma)
        parts["spread"] = (log_sigma + 0.5 * z * z).mean()
    if space.categorical:
        ce = [F.cross_entropy(output[:, slice(*lay["categorical"][d.name])], cats[:, k])
              for k, d in enumerate(space.categorical)]
        parts["categorical"] = torch.stack(ce).mean()
    if space.boolean:
        parts["boolean"] = F.binary_cross_entropy_with_logits(output[:, slice(*lay["boolean"])], bools)
    total = sum(weights[k] * v for k, v in parts.items())
    return total, {k: float(v.detach()) for k, v in parts.items()}
