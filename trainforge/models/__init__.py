"""Model builders: ``model.architecture`` + the data's input spec → a ``torch.nn.Module``.

- ``simple_cnn``: a small CNN that adapts to the image size (8x8 digits to 224x224 photos);
- ``mlp``: a multilayer perceptron over the flattened input (tabular data, small images);
- any torchvision classification model by name (``resnet18``, ``mobilenet_v3_small``, ...),
  its head resized and its first convolution fitted to the image channels;
- a user's class as ``package.module:Class`` (see ``_user`` for the arguments it receives).

``load_pretrained`` then applies ``model.pretrained`` and returns the parent's lineage info.
"""

from trainforge.models._build import (
    build_model,
    count_state_parameters,
    list_architectures,
    parameter_count,
)
from trainforge.models._pretrained import load_pretrained, resolve_pretrained_path
from trainforge.models._simple import MLP, SimpleCNN
from trainforge.models._spec import SpecLike

__all__ = [
    "MLP",
    "SimpleCNN",
    "SpecLike",
    "build_model",
    "count_state_parameters",
    "list_architectures",
    "load_pretrained",
    "parameter_count",
    "resolve_pretrained_path",
]
