from __future__ import annotations

import pytest
import torch
from torch import nn

from trainforge.config import ModelConfig
from trainforge.errors import ModelError
from trainforge.models import build_model


def test_resnet18_takes_grayscale_images_through_its_first_conv(make_spec):
    model = build_model(ModelConfig(architecture="resnet18"), make_spec(shape=[1, 28, 28]))
    assert isinstance(model.conv1, nn.Conv2d)
    assert model.conv1.in_channels == 1
    # The rest of the layer is unchanged: 7x7, stride 2, 64 filters, no bias.
    assert model.conv1.out_channels == 64
    assert model.conv1.kernel_size == (7, 7)
    assert model.conv1.stride == (2, 2)
    assert model.conv1.bias is None


def test_rgb_input_keeps_the_original_first_conv(make_spec):
    model = build_model(ModelConfig(architecture="resnet18"), make_spec(shape=[3, 32, 32]))
    assert model.conv1.in_channels == 3


@pytest.mark.parametrize(
    ("architecture", "head"),
    [
        ("resnet18", "fc"),
        ("mobilenet_v3_small", "classifier.3"),
        ("efficientnet_b0", "classifier.1"),
        ("squeezenet1_1", "classifier.1"),  # a 1x1 conv, not a Linear
    ],
)
def test_the_head_is_replaced_for_the_class_count(make_spec, architecture, head):
    spec = make_spec(shape=[3, 32, 32], num_classes=4)
    model = build_model(ModelConfig(architecture=architecture), spec).eval()
    layer = model.get_submodule(head)
    width = layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels
    assert width == 4
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 4)
    outputs = [m.out_features for m in model.modules() if isinstance(m, nn.Linear)]
    assert 1000 not in outputs  # no ImageNet head left anywhere


def test_kwargs_reach_the_torchvision_constructor(make_spec):
    cfg = ModelConfig(architecture="mobilenet_v3_small", kwargs={"dropout": 0.5})
    model = build_model(cfg, make_spec(shape=[3, 32, 32]))
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [0.5]


def test_bad_kwargs_name_the_model(make_spec):
    cfg = ModelConfig(architecture="resnet18", kwargs={"no_such_option": 1})
    with pytest.raises(ModelError, match=r"resnet18 rejected model.kwargs"):
        build_model(cfg, make_spec())


@pytest.mark.parametrize("key", ["num_classes", "weights"])
def test_kwargs_cannot_override_what_trainforge_sets(make_spec, key):
    cfg = ModelConfig(architecture="resnet18", kwargs={key: 3})
    with pytest.raises(ModelError, match=f"model.kwargs.{key}"):
        build_model(cfg, make_spec())


def test_googlenet_returns_plain_logits_in_training_mode(make_spec):
    spec = make_spec(shape=[3, 64, 64], num_classes=3)
    model = build_model(ModelConfig(architecture="googlenet"), spec)
    assert model.training
    out = model(torch.randn(2, 3, 64, 64))
    assert isinstance(out, torch.Tensor)
    assert out.shape == (2, 3)
