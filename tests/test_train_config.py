"""core.train without torch: architecture registry, config validation and presets, LR schedules.

Everything here is pure Python / numpy: a config is validated before torch
is imported, and ``import core.train`` must not import torch.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from core.errors import FormatError, ParameterError, ReelkitError
from core.train import (
    ARCHITECTURES,
    AUGMENT_PARAMS,
    LOSS_PARAMS,
    OPTIM_PARAMS,
    RUN_PARAMS,
    SCHEDULE_PARAMS,
    TRAIN_PRESETS,
    AugmentConfig,
    LossConfig,
    OptimConfig,
    ResNetConfig,
    ScheduleConfig,
    TrainConfig,
    UNetConfig,
    known_types,
    load_config,
    lr_factor,
    model_config,
    register,
)

MINIMAL = {"model": {"type": "resnet_small"}, "data": {"clean": ["sample:coffee"]}}


def cfg(**changes):
    """MINIMAL with top-level keys replaced."""
    return {**MINIMAL, **changes}


# -- registry ---------------------------------------------------------------------------------
def test_registry_builds_typed_configs_with_size_defaults():
    small, medium = model_config({"type": "resnet_small"}), model_config({"type": "resnet_medium"})
    assert isinstance(small, ResNetConfig) and (small.channels, small.blocks) == (32, 4)
    assert (medium.channels, medium.blocks) == (64, 8)
    custom = model_config({"type": "resnet_small", "channels": "48", "blocks": 2, "residual": False})
    assert (custom.channels, custom.blocks, custom.residual) == (48, 2, False)
    unet = model_config({"type": "unet_medium"})
    assert isinstance(unet, UNetConfig) and unet.multiple_of == 8
    assert set(known_types()) >= {"resnet_small", "resnet_medium", "resnet_large",
                                  "unet_small", "unet_medium", "unet_large"}


def test_unknown_type_lists_the_known_types():
    with pytest.raises(ParameterError) as err:
        model_config({"type": "srgan_huge"})
    msg = str(err.value)
    assert "model.type" in msg and "srgan_huge" in msg
    for name in known_types():
        assert name in msg
    with pytest.raises(ParameterError, match=r"model\.type: required; known types: resnet_large"):
        model_config({"channels": 8})
    with pytest.raises(ParameterError, match="expected a mapping"):
        model_config("resnet_small")


def test_registry_refuses_unknown_keys_and_bad_values_naming_them():
    with pytest.raises(ParameterError, match=r"unknown key\(s\) depth for type 'resnet_small'; known: type, "
                                             r"channels, blocks, residual"):
        model_config({"type": "resnet_small", "depth": 3})
    with pytest.raises(ParameterError, match=r"model: parameter 'blocks': 0 is below the minimum 1"):
        model_config({"type": "resnet_small", "blocks": 0})
    with pytest.raises(ParameterError, match=r"parameter 'channels': expected int, got 2.5"):
        model_config({"type": "unet_small", "channels": 2.5})


def test_register_refuses_duplicates_and_unknown_defaults():
    with pytest.raises(TypeError, match="already registered"):
        register("resnet_small", ResNetConfig, "again")
    with pytest.raises(TypeError, match="unknown defaults depth"):
        register("resnet_tiny_test", ResNetConfig, "bad", depth=2)
    assert "resnet_tiny_test" not in ARCHITECTURES


def test_receptive_field_and_multiple_of_formulas():
    # ResNet: 2 + 2*blocks 3x3 convolutions, each widening the field by 2.
    assert model_config({"type": "resnet_small", "blocks": 1}).receptive_field == 9
    assert model_config({"type": "resnet_small", "blocks": 4}).receptive_field == 21
    # U-Net values are checked against the network's real gradient support in test_train_run.py.
    assert model_config({"type": "unet_small", "depth": 1}).multiple_of == 2
    assert model_config({"type": "unet_small", "depth": 3}).multiple_of == 8


# -- config validation ---------------------------------------------------------------------------
def test_defaults_restore_and_never_augment():
    c = TrainConfig.from_dict(MINIMAL)
    assert c.augment == AugmentConfig() and not c.augment.geometric and c.augment.exposure_stops == 0
    assert c.data.mode == "synthetic" and c.data.degrade.exclude == ("weave",)
    assert c.encoding == "log2" and c.device == "auto" and c.loss == LossConfig(l1=1.0, ssim=0.0, frequency=0.0)


@pytest.mark.parametrize("raw, pattern", [
    (cfg(stepz=10), r"unknown key\(s\) stepz; known: format, preset, name"),
    (cfg(steps=0), r"parameter 'steps': 0 is below the minimum 1"),
    (cfg(batch_size="many"), r"parameter 'batch_size': expected int"),
    (cfg(device="tpu"), r"parameter 'device': 'tpu' is not one of auto, cpu, cuda"),
    (cfg(encoding="gamma22"), r"encoding: unknown encoding 'gamma22'; known: linear, log2, acescct"),
    (cfg(optim={"lr": -1}), r"optim: parameter 'lr': -1.0 is below the minimum"),
    (cfg(optim={"momentum": 0.9}), r"optim: unknown key\(s\) momentum; known: optimizer, lr"),
    (cfg(schedule={"kind": "exponential"}), r"schedule: parameter 'kind': 'exponential' is not one of constant, "
                                            r"cosine, step"),
    (cfg(loss={"l1": 0}), r"loss: every weight is 0"),
    (cfg(loss={"perceptual": 1}), r"loss: unknown key\(s\) perceptual"),
    (cfg(augment={"hflip": "sometimes"}), r"augment: parameter 'hflip': expected bool"),
    (cfg(augment={"colour_jitter": 0.1}), r"augment: unknown key\(s\) colour_jitter"),
    (cfg(model={"type": "unet_small"}, crop_size=30), r"crop_size: 30 is not a multiple of 4"),
    (cfg(loss={"ssim": 1.0}, crop_size=8), r"crop_size: 8 is too small for the SSIM loss"),
    ({"data": {"clean": ["x.png"]}}, r"model: required"),
    (cfg(preset="colourise"), r"preset: unknown training preset 'colourise'; known: colour_reference"),
])
def test_config_errors_name_the_key(raw, pattern):
    with pytest.raises(ParameterError, match=pattern):
        TrainConfig.from_dict(raw)


def test_config_of_another_format_or_a_newer_version_is_refused():
    with pytest.raises(FormatError, match=r"training config: format reelkit.train_config/9 is newer"):
        TrainConfig.from_dict(cfg(format="reelkit.train_config/9"))
    with pytest.raises(FormatError, match=r"format 'reelkit.pairs/1', expected reelkit.train_config/1"):
        TrainConfig.from_dict(cfg(format="reelkit.pairs/1"))
    assert TrainConfig.from_dict(cfg(format="reelkit.train_config/1")) == TrainConfig.from_dict(cfg())


@pytest.mark.parametrize("data, pattern", [
    ({}, r"data: give exactly one source of pairs .* got none"),
    ({"clean": ["a.png"], "pairs": "p.json"}, r"got pairs and clean"),
    ({"degraded": ["a.exr"]}, r"'degraded' and 'reference' go together"),
    ({"degraded": ["a.exr", "b.exr"], "reference": ["c.exr"]}, r"2 'degraded' entries for 1 'reference'"),
    ({"degraded": ["a.exr"], "reference": ["c.exr"], "mask": ["m.exr", "n.exr"]}, r"data\.mask: 2 entries for 1"),
    ({"clean": ["a.png"], "mask": ["m.exr"]}, r"data\.mask: only used with"),
    ({"degraded": ["a.exr"], "reference": ["c.exr"], "degrade": {}}, r"data\.degrade: only used with data\.clean"),
    ({"clean": ["a.png"], "aligned": "02_alignment"}, r"data\.aligned: only used with data\.pairs"),
    ({"clean": [3]}, r"data\.clean: expected a path or a list of paths"),
    ({"clean": ["a.png"], "cache_frames": 0}, r"data: parameter 'cache_frames': 0 is below the minimum 1"),
    ({"clean": ["a.png"], "degrade": {"preset": "mouldy_8mm"}}, r"data\.degrade: parameter 'preset': 'mouldy_8mm'"),
    ({"clean": ["a.png"], "degrade": {"params": {"grain_intensity": -1}}}, r"data\.degrade: parameter "
                                                                          r"'grain_intensity'"),
    ({"clean": ["a.png"], "degrade": {"exclude": ["rust"]}}, r"data\.degrade\.exclude: unknown effect\(s\) rust"),
    ({"clean": ["a.png"], "degrade": {"preset": "dusty_35mm", "presets": ["faded_16mm"]}},
     r"data\.degrade: give 'preset' \(one damage look\) or 'presets'"),
    ({"clean": ["a.png"], "degrade": {"presets": ["faded_16mm", "mouldy_8mm"]}},
     r"data\.degrade\.presets: parameter 'preset': 'mouldy_8mm'"),
    ({"clean": ["a.png"], "degrade": {"presets": ["faded_16mm", "faded_16mm"]}}, r"names a preset twice"),
    ({"clean": ["a.png"], "degrade": {"presets": "faded_16mm,dusty_35mm"}}, r"parameter 'preset'"),
    ({"clean": ["a.png"], "source": "x"}, r"data: unknown key\(s\) source; known: pairs, aligned"),
])
def test_data_section_errors(data, pattern):
    with pytest.raises(ParameterError, match=pattern):
        TrainConfig.from_dict(cfg(data=data))


def test_config_errors_are_reelkit_and_value_errors():
    with pytest.raises(ValueError) as err:
        TrainConfig.from_dict(cfg(steps=-5))
    assert isinstance(err.value, ReelkitError)


def test_round_trip_through_dict_and_json_file(tmp_path):
    c = TrainConfig.from_dict(cfg(preset="spatial_gauge", seed=7, augment={"hflip": True},
                                  data={"degraded": ["a.####.exr"], "reference": ["b.####.exr"],
                                        "mask": ["m.####.exr"]}))
    d = c.to_dict()
    assert TrainConfig.from_dict(d) == c
    assert TrainConfig.from_dict(d).to_dict() == d
    path = tmp_path / "config.json"
    path.write_text(json.dumps(d))
    assert load_config(path) == c
    assert d["format"] == "reelkit.train_config/1" and d["model"]["type"] == "resnet_small"


def test_sections_mirror_their_parameter_specs():
    """One spec per key: every section field is a parameter of its ParamSet, with the same default."""
    for cls, params in ((OptimConfig, OPTIM_PARAMS), (ScheduleConfig, SCHEDULE_PARAMS), (LossConfig, LOSS_PARAMS),
                        (AugmentConfig, AUGMENT_PARAMS)):
        fields = {f.name: f.default for f in dataclasses.fields(cls)}
        assert fields == params.defaults(), cls.__name__
    top = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.name in RUN_PARAMS}
    assert top == RUN_PARAMS.defaults()


def test_training_hash_ignores_names_and_reporting_but_not_the_math():
    base = TrainConfig.from_dict(MINIMAL)
    assert TrainConfig.from_dict(cfg(name="other", version="9", checkpoint_every=7, preview_every=3,
                                     preview_crops=2, keep_checkpoints=9)).training_hash() == base.training_hash()
    for change in ({"seed": 1}, {"optim": {"lr": 1e-3}}, {"augment": {"vflip": True}}, {"steps": 2001}):
        assert TrainConfig.from_dict(cfg(**change)).training_hash() != base.training_hash(), change


def test_presets_are_configs_of_the_same_trainer():
    assert set(TRAIN_PRESETS) == {"colour_reference", "colour_still", "spatial_gauge", "spatial_generation",
                                  "spatial_analog_video"}
    for name, preset in TRAIN_PRESETS.items():
        assert preset["help"] and "data" not in preset["config"]
        c = TrainConfig.from_dict({"preset": name, "data": {"clean": ["a.png"]}})
        assert c.preset == name and not c.augment.geometric, name
    gauge = TrainConfig.from_dict({"preset": "spatial_gauge", "data": {"clean": ["a.png"]}})
    assert gauge.model.type == "resnet_medium" and gauge.loss.frequency > 0
    # the user's values win, key by key; a model of another type replaces the preset's model
    mine = TrainConfig.from_dict({"preset": "colour_reference", "data": {"clean": ["a.png"]},
                                  "loss": {"ssim": 0.0}, "model": {"type": "resnet_small", "blocks": 2}})
    assert mine.loss == LossConfig(l1=1.0, ssim=0.0, frequency=0.0)
    assert mine.model == ResNetConfig(type="resnet_small", channels=32, blocks=2, residual=True)
    same_type = TrainConfig.from_dict({"preset": "colour_reference", "data": {"clean": ["a.png"]},
                                       "model": {"type": "unet_small", "depth": 3}})
    assert (same_type.model.channels, same_type.model.depth) == (24, 3)


# -- schedule -------------------------------------------------------------------------------------
def test_lr_schedule_warmup_cosine_and_step():
    f = [lr_factor(s, kind="cosine", steps=110, warmup_steps=10, min_lr_ratio=0.1) for s in range(110)]
    assert f[:3] == pytest.approx([0.1, 0.2, 0.3]) and f[9] == 1.0 and f[10] == 1.0
    assert f[-1] == pytest.approx(0.1) and all(a >= b for a, b in zip(f[10:], f[11:]))
    assert f[60] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + __import__("math").cos(__import__("math").pi * 50 / 99)))
    s = [lr_factor(n, kind="step", steps=100, warmup_steps=0, step_size=30, gamma=0.1) for n in (0, 29, 30, 60, 99)]
    assert s == pytest.approx([1.0, 1.0, 0.1, 0.01, 0.001])
    assert lr_factor(5, kind="constant", steps=10, warmup_steps=0) == 1.0


def test_importing_core_train_does_not_import_torch(repo_root):
    code = ("import sys, core.train; TrainConfig = core.train.TrainConfig; "
            "TrainConfig.from_dict({'model': {'type': 'unet_small'}, 'data': {'clean': ['a.png']}}); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
