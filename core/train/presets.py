"""Training presets: colour and spatial recovery as configs of the same trainer.

A preset is a partial config (:mod:`core.train.config`) that a user's
config overrides key by key; it never names data. Each says what it is
for, because the choice follows what the reference can teach (recovery,
not enhancement: the model may only learn what the reference shows).

Colour recovery
    ``colour_reference``: a faded or mistimed scan against a reference of
    the right colour (a graded transfer, a well-kept print), aligned by
    stage 2. Colour depends on context (what is skin, what is sky), so a
    U-Net with a wide receptive field, in log2 (exposure is additive
    there), L1 plus a little SSIM.

    ``colour_still``: no moving reference, only one or a few graded stills
    of the shot (a colourist's reference frame, a production still). Few
    pairs: a small network that can only learn a smooth, local colour
    mapping, more steps at a lower learning rate, a short warm-up.

Spatial recovery
    ``spatial_gauge``: a smaller gauge (16mm, Super 8) against a 35mm
    source of the same shot: softness and coarse grain. Detail is local:
    a residual CNN at full resolution, L1 plus a frequency term so that
    fine texture is not averaged away.

    ``spatial_generation``: a duplicate several generations down against
    an earlier-generation element: contrast build-up, softness and
    stacked grain. A medium residual CNN, L1 + SSIM + a little frequency.

    ``spatial_analog_video``: the reference is an analogue video transfer
    (a telecine to tape): it holds the picture's structure but not its
    finest detail, and its noise is not film grain. A U-Net with L1 and
    SSIM, no frequency term — the model must not learn the tape's noise.
"""

from __future__ import annotations

from typing import Any

TRAIN_PRESETS: dict[str, dict[str, Any]] = {
    "colour_reference": {
        "help": "colour recovery against an aligned colour reference (moving footage)",
        "config": {
            "model": {"type": "unet_small", "channels": 24},
            "encoding": "log2", "crop_size": 128, "batch_size": 8, "steps": 4000,
            "optim": {"lr": 2e-4},
            "schedule": {"kind": "cosine", "warmup_steps": 200},
            "loss": {"l1": 1.0, "ssim": 0.1, "frequency": 0.0},
        },
    },
    "colour_still": {
        "help": "colour recovery from one or a few graded stills of the shot",
        "config": {
            "model": {"type": "resnet_small", "channels": 24, "blocks": 2},
            "encoding": "log2", "crop_size": 96, "batch_size": 8, "steps": 3000,
            "optim": {"lr": 1e-4},
            "schedule": {"kind": "cosine", "warmup_steps": 50},
            "loss": {"l1": 1.0, "ssim": 0.0, "frequency": 0.0},
        },
    },
    "spatial_gauge": {
        "help": "spatial recovery of a smaller gauge (16mm, Super 8) against a 35mm element",
        "config": {
            "model": {"type": "resnet_medium"},
            "encoding": "log2", "crop_size": 128, "batch_size": 8, "steps": 6000,
            "optim": {"lr": 2e-4},
            "schedule": {"kind": "cosine", "warmup_steps": 200},
            "loss": {"l1": 1.0, "ssim": 0.0, "frequency": 0.05},
        },
    },
    "spatial_generation": {
        "help": "spatial recovery of a later-generation duplicate against an earlier generation",
        "config": {
            "model": {"type": "resnet_medium"},
            "encoding": "log2", "crop_size": 128, "batch_size": 8, "steps": 6000,
            "optim": {"lr": 2e-4},
            "schedule": {"kind": "cosine", "warmup_steps": 200},
            "loss": {"l1": 1.0, "ssim": 0.1, "frequency": 0.02},
        },
    },
    "spatial_analog_video": {
        "help": "spatial recovery against an analogue video transfer (structure, not its noise)",
        "config": {
            "model": {"type": "unet_small"},
            "encoding": "log2", "crop_size": 128, "batch_size": 8, "steps": 4000,
            "optim": {"lr": 2e-4},
            "schedule": {"kind": "step", "warmup_steps": 200, "step_size": 1500, "gamma": 0.5},
            "loss": {"l1": 1.0, "ssim": 0.2, "frequency": 0.0},
        },
    },
}


def preset_names() -> list[str]:
    """Names of the training presets, in definition order."""
    return list(TRAIN_PRESETS)
