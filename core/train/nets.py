"""The networks behind :mod:`core.train.registry` (imports torch: load only when training).

All take and return ``N x 3 x H x W`` ``float32`` in the training
encoding; a network with a context (:class:`UnshuffleNet` with
``context`` > 0) also takes the frame's ``N x 3 x S x S`` thumbnail
(:mod:`core.infer.context`, encoded) as a second argument. Only ONNX-friendly, deterministic operations are used: zero-padded
convolutions, ReLU, strided and transposed convolutions (no interpolation,
no reflection padding: their CUDA backward passes are non-deterministic).
The last convolution starts at a tenth of its default scale, so a residual
network starts close to the identity.
"""

from __future__ import annotations

import torch
from torch import nn

from core.infer.context import context_channels
from core.train.registry import IMAGE_CHANNELS

#: Scale of the last layer's initial weights (a residual network starts near the identity).
TAIL_INIT_SCALE = 0.1
#: Initial damage-mask logit of a gated network: sigmoid(-2) = 0.12, the local correction starts mostly off.
MASK_INIT_LOGIT = -2.0


def _conv(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2)


def _shrink(conv: nn.Conv2d) -> nn.Conv2d:
    with torch.no_grad():
        conv.weight.mul_(TAIL_INIT_SCALE)
        conv.bias.zero_()
    return conv


class ResBlock(nn.Module):
    """conv 3x3 -> ReLU -> conv 3x3, added to the input with a 0.1 scale (EDSR residual scaling)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = _conv(channels, channels)
        self.act = nn.ReLU(inplace=True)
        self.conv2 = _conv(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.1 * self.conv2(self.act(self.conv1(x)))


class ResNet(nn.Module):
    """Head conv, ``blocks`` residual blocks with a long skip, tail conv; optional global residual."""

    def __init__(self, channels: int, blocks: int, *, residual: bool = True):
        super().__init__()
        self.residual = residual
        self.head = _conv(IMAGE_CHANNELS, channels)
        self.body = nn.Sequential(*(ResBlock(channels) for _ in range(blocks)))
        self.tail = _shrink(_conv(channels, IMAGE_CHANNELS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        y = self.tail(h + self.body(h))
        return x + y if self.residual else y


class _Double(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(_conv(cin, cout), nn.ReLU(inplace=True), _conv(cout, cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """U-Net with ``depth`` levels; channels ``c, 2c, 4c, ...`` capped at ``8c``."""

    def __init__(self, channels: int, depth: int, *, residual: bool = True):
        super().__init__()
        self.residual = residual
        widths = [channels * min(2 ** i, 8) for i in range(depth + 1)]
        self.enc = nn.ModuleList()
        self.down = nn.ModuleList()
        cin = IMAGE_CHANNELS
        for i in range(depth):
            self.enc.append(_Double(cin, widths[i]))
            self.down.append(nn.Sequential(_conv(widths[i], widths[i + 1], stride=2), nn.ReLU(inplace=True)))
            cin = widths[i + 1]
        self.bottleneck = _Double(widths[depth], widths[depth])
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in reversed(range(depth)):
            self.up.append(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2))
            self.dec.append(_Double(2 * widths[i], widths[i]))
        self.tail = _shrink(nn.Conv2d(widths[0], IMAGE_CHANNELS, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        h = x
        for enc, down in zip(self.enc, self.down):
            h = enc(h)
            skips.append(h)
            h = down(h)
        h = self.bottleneck(h)
        for i, (up, dec) in enumerate(zip(self.up, self.dec)):  # skips[-1 - i], not reversed(): TorchScript
            h = dec(torch.cat([up(h), skips[-1 - i]], dim=1))
        y = self.tail(h)
        return x + y if self.residual else y


class ContextEncoder(nn.Module):
    """Whole-frame thumbnail -> a global 3x4 colour transform and a feature scale/shift (FiLM).

    Three stride-2 3x3 convolutions with ReLU (3 or 6 with detail -> 32 -> 64 -> 64), a mean
    over the remaining pixels, then two linear layers. Both outputs start at
    the identity (their last layers are zero), so a network with a context
    starts as the same network without one.
    """

    WIDTH = 64

    def __init__(self, features: int, in_channels: int = IMAGE_CHANNELS, *, confidence: bool = False):
        super().__init__()
        self.rgb = IMAGE_CHANNELS  # forward reads an attribute, not the global: scriptable (core.train.cattery)
        self.convs = nn.Sequential(
            _conv(in_channels, 32, stride=2), nn.ReLU(inplace=True),
            _conv(32, self.WIDTH, stride=2), nn.ReLU(inplace=True),
            _conv(self.WIDTH, self.WIDTH, stride=2), nn.ReLU(inplace=True))
        self.colour = nn.Linear(self.WIDTH, IMAGE_CHANNELS * (IMAGE_CHANNELS + 1))
        self.film = nn.Linear(self.WIDTH, 2 * features)
        for layer in (self.colour, self.film):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.confidence = None
        if confidence:  # the colour transform's confidence, starting at sigmoid(0) = 0.5
            self.confidence = nn.Linear(self.WIDTH, 1)
            nn.init.zeros_(self.confidence.weight)
            nn.init.zeros_(self.confidence.bias)

    def forward(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(matrix N x 3 x 3, offset N x 3, scale N x F, shift N x F)``; with a confidence ``c``
        (N x 1, 0..1) the transform is ``I + c A``, ``c b``."""
        g = self.convs(context).mean(dim=(2, 3))
        c = self.rgb
        affine = self.colour(g).view(-1, c, c + 1)
        if self.confidence is not None:
            affine = affine * torch.sigmoid(self.confidence(g))[:, :, None]
        eye = torch.eye(c, dtype=g.dtype, device=g.device)
        scale, shift = self.film(g).chunk(2, dim=1)
        return eye + affine[:, :, :c], affine[:, :, c], 1.0 + scale, shift


class UnshuffleNet(nn.Module):
    """Pixel-unshuffle by ``scale``, head conv, ``blocks`` residual blocks with a long skip, tail conv,
    pixel-shuffle back; optional global residual. All the convolutions run at 1/``scale`` resolution.

    With ``context`` > 0, ``forward(x, context)``: the :class:`ContextEncoder`'s
    colour transform is applied to ``x`` first (the residual is added to the
    transformed input) and its FiLM scales and shifts the head's features.
    With ``gate``, the colour transform is scaled towards the identity by the
    encoder's confidence, and the correction is multiplied by a per-pixel
    damage mask (a sigmoid of a 3x3 convolution beside the tail, same
    receptive field), so ``output = T(x) + mask * correction``.
    """

    def __init__(self, scale: int, channels: int, blocks: int, *, residual: bool = True, context: int = 0,
                 context_detail: bool = False, gate: bool = False):
        super().__init__()
        self.residual = residual
        packed = IMAGE_CHANNELS * scale * scale
        self.down = nn.PixelUnshuffle(scale)
        self.head = _conv(packed, channels)
        self.body = nn.Sequential(*(ResBlock(channels) for _ in range(blocks)))
        self.tail = _shrink(_conv(channels, packed))
        self.up = nn.PixelShuffle(scale)
        self.context = (ContextEncoder(channels, context_channels(IMAGE_CHANNELS, context_detail), confidence=gate)
                        if context else None)
        self.mask = None
        if gate:  # a damage-mask logit per full-resolution pixel, starting nearly closed
            self.mask = _shrink(_conv(channels, scale * scale))
            with torch.no_grad():
                self.mask.bias.fill_(MASK_INIT_LOGIT)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        if self.context is not None:
            if context is None:
                raise ValueError("this network takes a whole-frame context as its second input")
            matrix, offset, scale, shift = self.context(context)
            x = (matrix[:, :, :, None, None] * x[:, None]).sum(dim=2) + offset[:, :, None, None]
            h = self.head(self.down(x)) * scale[:, :, None, None] + shift[:, :, None, None]
        else:
            h = self.head(self.down(x))
        h = h + self.body(h)
        y = self.up(self.tail(h))
        if self.mask is not None:
            y = torch.sigmoid(self.up(self.mask(h))) * y
        return x + y if self.residual else y
