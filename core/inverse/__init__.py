"""Inverse models: an image -> the parameters that make it, for any generator with a parameter spec.

- :mod:`.generators`: what is inverted — a :mod:`core.generate` family
  (``"generate:FAMILY"``) or :mod:`core.degrade` over a clean frame;
- :mod:`.space`: the learned params (continuous, normalised from their
  ranges; categorical, one-hot; boolean) and their encoding as targets;
- :mod:`.data`: seeded, stratified (image, params) data sets written into
  a folder with a manifest, resumable;
- :mod:`.nets` (torch), :mod:`.train`: a ResNet-18-style CNN with one head
  per kind of param, trained deterministically on the CPU, exported to
  ONNX with a manifest (:mod:`.model`, ``reelkit.inverse_model/1``);
- :mod:`.predict`: onnxruntime prediction back into a params dict;
- :mod:`.cmaes`, :mod:`.refine`: seeded CMA-ES over the continuous params
  from the prediction, minimising an image loss against the target.

Images are ``float32`` ``HW3`` scene-linear ACEScg. Importing this package
costs numpy only; torch and onnxruntime load in the functions that use them.
"""

from core.inverse.cmaes import CMAResult, cma_minimise
from core.inverse.data import InverseData, load_dataset, make_dataset, sample_params
from core.inverse.generators import Generator, degrade_generator, generate_generator, generator
from core.inverse.model import INVERSE_MODEL_FORMAT, InverseModel, load_inverse_model
from core.inverse.predict import InversePredictor, Prediction
from core.inverse.refine import LOSSES, RefineResult, refine
from core.inverse.space import ParamSpace, flatten, unflatten
from core.inverse.train import INVERSE_TRAIN_PARAMS, InverseTrainResult, train_inverse

__all__ = [
    "CMAResult", "Generator", "INVERSE_MODEL_FORMAT", "INVERSE_TRAIN_PARAMS", "InverseData", "InverseModel",
    "InversePredictor", "InverseTrainResult", "LOSSES", "ParamSpace", "Prediction", "RefineResult",
    "cma_minimise", "degrade_generator", "flatten", "generate_generator", "generator", "load_dataset",
    "load_inverse_model", "make_dataset", "refine", "sample_params", "train_inverse", "unflatten",
]
