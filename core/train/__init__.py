"""Training (restoration stage 3): small image-to-image CNNs on (degraded -> reference) pairs, like CopyCat.

:func:`train` fits a network from the architecture registry
(:mod:`core.train.registry`: ``resnet_small/medium/large``,
``unet_small/medium/large``, chosen by a config's ``model.type``) to
crops of training pairs (:class:`PairDataset`: a stage-1 pair manifest
with stage 2's aligned references and validity masks, explicit files, or
clean frames degraded on the fly by :mod:`core.degrade`), with L1 (+ SSIM,
+ frequency) loss on valid pixels only, Adam and a warm-up + cosine/step
schedule, seeded and deterministic on the CPU, resumable from
checkpoints. It writes a ``03_training``-style folder: ``config.json``,
``checkpoints/``, ``loss.csv``, ``loss.png``, ``contact_sheet.png``,
``model.onnx`` + ``model.json`` (``reelkit.model/1``, read by
:mod:`core.infer`) and ``manifest.json``.

Colour recovery (reference-based, from a still) and spatial recovery
(gauge, generation, analogue video reference) are presets of the same
trainer (:data:`TRAIN_PRESETS`). Augmentation is off unless asked:
restoration must not invent.

Frames are ``float32`` ``HWC`` scene-linear ACEScg; networks see them in
the config's ``encoding`` (:mod:`core.infer.encoding`, shared with
inference). Importing this package costs numpy only: torch (the ``train``
extra) is imported by the functions that need it.

>>> cfg = TrainConfig.from_dict({"model": {"type": "resnet_small", "blocks": 2},
...                              "data": {"clean": ["sample:coffee"]}, "steps": 100})
>>> cfg.model.receptive_field, cfg.data.mode, cfg.augment.hflip
(13, 'synthetic', False)
"""

from core.train.config import (
    AUGMENT_PARAMS,
    DATA_PARAMS,
    DEVICES,
    FORMAT,
    LOSS_PARAMS,
    OPTIM_PARAMS,
    RUN_PARAMS,
    SCHEDULE_PARAMS,
    SYNTHETIC_PARAMS,
    AugmentConfig,
    DataConfig,
    LossConfig,
    OptimConfig,
    ScheduleConfig,
    SyntheticConfig,
    TrainConfig,
    load_config,
)
from core.train.data import Batch, Crop, PairDataset, PairSource
from core.train.presets import TRAIN_PRESETS, preset_names
from core.train.registry import ARCHITECTURES, ResNetConfig, UNetConfig, UnshuffleConfig, known_types, model_config, register
from core.train.schedule import SCHEDULES, lr_factor
from core.train.trainer import (
    CHECKPOINT_FORMAT,
    TrainingError,
    TrainProgress,
    TrainResult,
    build_model,
    list_checkpoints,
    load_checkpoint,
    train,
)

__all__ = [
    "ARCHITECTURES", "AUGMENT_PARAMS", "CHECKPOINT_FORMAT", "DATA_PARAMS", "DEVICES", "FORMAT", "LOSS_PARAMS",
    "OPTIM_PARAMS", "RUN_PARAMS", "SCHEDULES", "SCHEDULE_PARAMS", "SYNTHETIC_PARAMS", "TRAIN_PRESETS",
    "AugmentConfig", "Batch", "Crop", "DataConfig", "LossConfig", "OptimConfig", "PairDataset", "PairSource",
    "ResNetConfig", "ScheduleConfig", "SyntheticConfig", "TrainConfig", "TrainProgress", "TrainResult",
    "TrainingError", "UNetConfig", "UnshuffleConfig", "build_model", "known_types", "list_checkpoints", "load_checkpoint",
    "load_config", "lr_factor", "model_config", "preset_names", "register", "train",
]
