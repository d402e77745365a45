"""Architecture registry: a network is built from a ``type:`` key in a typed config.

Each registered type names a family (:class:`ResNetConfig`,
:class:`UNetConfig`) and that family's defaults for one size. A config is a
plain mapping such as ``{"type": "resnet_small", "channels": 32, "blocks":
4}``; :func:`model_config` validates it into a frozen dataclass (unknown
types list the known ones, unknown keys list the known keys, out-of-range
values name the key) and :meth:`build` makes the ``torch.nn.Module``
(torch is imported there, not here).

Every network maps ``N x 3 x H x W`` ``float32`` (RGB in the training
encoding, :mod:`core.infer.encoding`) to the same shape. ``H`` and ``W``
must be multiples of :attr:`multiple_of`; :attr:`receptive_field` is the
side, in pixels, of the input square that one output pixel can see (the
overlap tiled inference needs).

>>> cfg = model_config({"type": "resnet_small", "blocks": 2})
>>> cfg.channels, cfg.blocks, cfg.receptive_field, cfg.multiple_of
(32, 2, 13, 1)
>>> model_config({"type": "unet_small"}).multiple_of
4
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from core.errors import ParameterError
from core.infer.context import MAX_CONTEXT
from core.params import Param, ParamSet

#: Channels of every network's input and output (RGB; alpha is not restored).
IMAGE_CHANNELS = 3


class _ModelConfig:
    """What every model config shares: no whole-frame context unless its family declares one, and
    :meth:`to_dict` (the fields; ``context`` only when used, so configs without one keep their hash)."""

    #: Side of the whole-frame context input (0: none; a family may make it a field).
    context: ClassVar[int] = 0
    #: Whether the context carries the detail channels (:func:`core.infer.context.frame_context`).
    context_detail: ClassVar[bool] = False
    #: Whether the global colour transform has a confidence and the local correction a damage mask.
    gate: ClassVar[bool] = False

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in ("context", "context_detail", "gate"):
            if not getattr(self, key):
                out.pop(key, None)
        return out


@dataclasses.dataclass(frozen=True)
class ResNetConfig(_ModelConfig):
    """A plain residual CNN at full resolution (EDSR-like, no normalisation).

    ``head`` 3x3 conv (3 -> ``channels``), ``blocks`` residual blocks
    (conv 3x3, ReLU, conv 3x3, scaled skip), ``tail`` 3x3 conv
    (``channels`` -> 3). With ``residual`` the network predicts a correction
    added to its input (it starts close to the identity: restoration changes
    little of a frame). Small receptive field, no resampling: good for
    grain, softness and local colour.
    """

    type: str
    channels: int = 32
    blocks: int = 4
    residual: bool = True

    PARAMS: ClassVar[ParamSet] = ParamSet("resnet", [
        Param("channels", int, 32, "feature channels of every layer", minimum=4, maximum=512),
        Param("blocks", int, 4, "residual blocks (two 3x3 convolutions each)", minimum=1, maximum=64),
        Param("residual", bool, True, "predict a correction added to the input (starts near the identity)"),
    ])

    @property
    def multiple_of(self) -> int:
        return 1

    @property
    def receptive_field(self) -> int:
        convs = 2 + 2 * self.blocks
        return 1 + 2 * convs

    def build(self):
        """The ``torch.nn.Module`` (initialised from torch's global RNG: seed it first)."""
        from core.train.nets import ResNet

        return ResNet(self.channels, self.blocks, residual=self.residual)



@dataclasses.dataclass(frozen=True)
class UNetConfig(_ModelConfig):
    """A U-Net: ``depth`` downsamplings (strided 3x3 conv), ``channels`` doubling per level
    (capped at 8x), two 3x3 convs per level on each side, transposed-conv upsampling and
    skip concatenations; with ``residual`` a correction added to the input.

    Large receptive field at little cost: good for colour recovery, where a
    pixel's colour depends on its surroundings. ``H`` and ``W`` must be
    multiples of ``2**depth``.
    """

    type: str
    channels: int = 16
    depth: int = 2
    residual: bool = True

    PARAMS: ClassVar[ParamSet] = ParamSet("unet", [
        Param("channels", int, 16, "feature channels of the first level (doubling per level, at most 8x)",
              minimum=4, maximum=256),
        Param("depth", int, 2, "number of 2x downsamplings", minimum=1, maximum=6),
        Param("residual", bool, True, "predict a correction added to the input (starts near the identity)"),
    ])

    @property
    def multiple_of(self) -> int:
        return 2 ** self.depth

    @property
    def receptive_field(self) -> int:
        # Walk the deepest path back from one output pixel (worst-case alignment at each resampling).
        r = 1                       # 1x1 tail
        for _ in range(self.depth):  # decoder, finest level first
            r += 4                  # two 3x3 convs
            r = r // 2 + 1          # 2x2 stride-2 transposed conv: fine pixels -> coarse pixels
        r += 4                      # bottleneck: two 3x3 convs
        for _ in range(self.depth):  # encoder, coarsest level first
            r = 2 * (r - 1) + 3     # 3x3 stride-2 conv: coarse pixels -> fine pixels
            r += 4                  # two 3x3 convs
        return r

    def build(self):
        """The ``torch.nn.Module`` (initialised from torch's global RNG: seed it first)."""
        from core.train.nets import UNet

        return UNet(self.channels, self.depth, residual=self.residual)



@dataclasses.dataclass(frozen=True)
class UnshuffleConfig(_ModelConfig):
    """A residual CNN at reduced resolution: pixel-unshuffle by ``scale``, ``blocks`` residual blocks of
    ``channels`` features, pixel-shuffle back; with ``residual`` a correction added to the input.

    The work happens on ``scale**2`` times fewer pixels, so a wide receptive
    field is cheap per full-resolution pixel (:attr:`flops_per_pixel`): the
    family for shipped models that must run on a 4K frame on a few CPU
    cores. ``H`` and ``W`` must be multiples of ``scale``.

    With ``context`` > 0 the network also takes the whole frame as a
    ``context x context`` thumbnail (:mod:`core.infer.context`), from which a
    small encoder predicts a global 3x4 colour transform applied to the
    input (in the training encoding; it starts as the identity) and a
    per-channel scale and shift of the features (FiLM, starting at none):
    the colour correction can then depend on the whole frame — a faded
    print against a warm scene — while tiling stays exact. ``context_detail``
    adds the thumbnail's detail channels (band means of ``|x - box3(x)|``:
    grain, softness, specks), so the encoder also sees the print's texture.

    ``gate`` (needs a context) makes the two corrections explicit and
    cautious: the colour transform is ``I + c (A - I)`` with a predicted
    confidence ``c`` in 0..1 for the frame, and the local correction is
    ``m * r`` with a predicted per-pixel damage mask ``m`` in 0..1 (starting
    nearly closed), so where the network sees no damage it leaves the pixel
    as it is, and where it is unsure of the grade it leaves the colour.
    """

    type: str
    scale: int = 4
    channels: int = 64
    blocks: int = 3
    residual: bool = True
    context: int = 0
    context_detail: bool = False
    gate: bool = False

    PARAMS: ClassVar[ParamSet] = ParamSet("unshuffle", [
        Param("scale", int, 4, "pixel-unshuffle factor (the network runs at 1/scale resolution)",
              minimum=1, maximum=8),
        Param("channels", int, 64, "feature channels at the reduced resolution", minimum=4, maximum=512),
        Param("blocks", int, 3, "residual blocks (two 3x3 convolutions each)", minimum=1, maximum=64),
        Param("residual", bool, True, "predict a correction added to the input (starts near the identity)"),
        Param("context", int, 0, "side of the whole-frame thumbnail the network also sees (0 = none)",
              minimum=0, maximum=MAX_CONTEXT),
        Param("context_detail", bool, False, "the thumbnail also carries the frame's detail (grain, softness, "
              "specks: band means of |x - box3(x)|); needs context"),
        Param("gate", bool, False, "a confidence on the global colour transform and a damage mask on the local "
              "correction, so unsure or undamaged pixels stay as they are; needs context"),
    ])

    @property
    def multiple_of(self) -> int:
        return self.scale

    @property
    def receptive_field(self) -> int:
        convs = 2 + 2 * self.blocks              # 3x3 convs at the reduced resolution
        return self.scale * (1 + 2 * convs) + self.scale - 1

    @property
    def flops_per_pixel(self) -> float:
        """Floating-point operations (multiply and add counted apart) per full-resolution output pixel."""
        cin = IMAGE_CHANNELS * self.scale ** 2
        macs = 9 * (2 * cin * self.channels + 2 * self.blocks * self.channels ** 2)
        return 2.0 * macs / self.scale ** 2

    def build(self):
        """The ``torch.nn.Module`` (initialised from torch's global RNG: seed it first)."""
        from core.train.nets import UnshuffleNet

        return UnshuffleNet(self.scale, self.channels, self.blocks, residual=self.residual, context=self.context,
                            context_detail=self.context_detail, gate=self.gate)



ModelConfig = ResNetConfig | UNetConfig | UnshuffleConfig


@dataclasses.dataclass(frozen=True)
class Architecture:
    """A registered network type: its config family, its defaults and a help line."""

    name: str
    config: type
    defaults: Mapping[str, Any]
    help: str


#: Registered types, by name (:func:`register` adds more).
ARCHITECTURES: dict[str, Architecture] = {}


def register(name: str, config: type, help: str, **defaults: Any) -> Architecture:
    """Register a network type ``name`` of family ``config`` with per-size ``defaults``.

    Raises :class:`TypeError` for a name already taken or defaults the family does not know
    (a programming error, not user input).
    """
    if name in ARCHITECTURES:
        raise TypeError(f"architecture {name!r} is already registered")
    unknown = sorted(set(defaults) - set(config.PARAMS.params))
    if unknown:
        raise TypeError(f"architecture {name!r}: unknown defaults {', '.join(unknown)}")
    config.PARAMS.resolve(defaults)
    entry = Architecture(name, config, dict(defaults), help)
    ARCHITECTURES[name] = entry
    return entry


register("resnet_small", ResNetConfig, "residual CNN, 32 channels x 4 blocks (~75k weights)", channels=32, blocks=4)
register("resnet_medium", ResNetConfig, "residual CNN, 64 channels x 8 blocks (~600k weights)",
         channels=64, blocks=8)
register("resnet_large", ResNetConfig, "residual CNN, 96 channels x 16 blocks (~2.7M weights)",
         channels=96, blocks=16)
register("unet_small", UNetConfig, "U-Net, 16 channels, 2 levels", channels=16, depth=2)
register("unet_medium", UNetConfig, "U-Net, 32 channels, 3 levels", channels=32, depth=3)
register("unet_large", UNetConfig, "U-Net, 48 channels, 4 levels", channels=48, depth=4)
register("unshuffle_small", UnshuffleConfig, "1/4-resolution residual CNN, 32 channels x 2 blocks (cheap on CPU)",
         scale=4, channels=32, blocks=2)
register("unshuffle_medium", UnshuffleConfig, "1/4-resolution residual CNN, 64 channels x 3 blocks (~35 kFLOP/px)",
         scale=4, channels=64, blocks=3)
register("unshuffle_context", UnshuffleConfig, "unshuffle_medium that also sees the whole frame as a 32x32 "
         "thumbnail (global colour: faded print vs warm scene)", scale=4, channels=64, blocks=3, context=32)
register("unshuffle_large", UnshuffleConfig, "1/4-resolution residual CNN, 96 channels x 6 blocks",
         scale=4, channels=96, blocks=6)


def known_types() -> list[str]:
    """Registered type names, sorted."""
    return sorted(ARCHITECTURES)


def model_config(raw: Any, *, where: str = "model") -> ModelConfig:
    """Validate a model config mapping (``{"type": ..., options...}``) into its dataclass.

    Raises :class:`~core.errors.ParameterError` naming ``where.type`` for a
    missing or unknown type (listing the known ones) and naming the key for
    unknown or invalid options.
    """
    if isinstance(raw, _ModelConfig):
        return raw
    if not isinstance(raw, Mapping):
        raise ParameterError(f"{where}: expected a mapping with a 'type' key, got {type(raw).__name__}")
    values = dict(raw)
    name = values.pop("type", None)
    if name is None:
        raise ParameterError(f"{where}.type: required; known types: {', '.join(known_types())}")
    entry = ARCHITECTURES.get(name) if isinstance(name, str) else None
    if entry is None:
        raise ParameterError(f"{where}.type: unknown architecture {name!r}; known types: {', '.join(known_types())}")
    unknown = sorted(k for k in values if k not in entry.config.PARAMS)
    if unknown:
        raise ParameterError(f"{where}: unknown key(s) {', '.join(map(str, unknown))} for type {name!r}; "
                             f"known: type, {', '.join(entry.config.PARAMS.params)}")
    try:
        resolved = entry.config.PARAMS.resolve({**entry.defaults, **values})
    except ParameterError as exc:
        raise ParameterError(f"{where}: {exc}") from None
    if resolved.get("context_detail") and not resolved.get("context"):
        raise ParameterError(f"{where}.context_detail: needs a whole-frame context (context > 0) for type {name!r}")
    if resolved.get("gate") and not resolved.get("context"):
        raise ParameterError(f"{where}.gate: needs a whole-frame context (context > 0) for type {name!r}")
    if resolved.get("gate") and not resolved.get("residual", True):
        raise ParameterError(f"{where}.gate: gates a correction of the input; needs residual true for type {name!r}")
    return entry.config(type=name, **resolved)
