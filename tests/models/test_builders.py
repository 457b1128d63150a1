from __future__ import annotations

import pytest
import torch

from trainforge.config import ModelConfig
from trainforge.errors import ModelError
from trainforge.models import MLP, SimpleCNN, build_model, list_architectures
from trainforge.models._simple import pooling_plan, stem_plan

IMAGE_SHAPES = [[1, 8, 8], [3, 32, 32], [1, 28, 28]]


def output_shape(cfg: ModelConfig, spec, batch: int = 3) -> list[int]:
    model = build_model(cfg, spec).eval()
    with torch.no_grad():
        return list(model(torch.randn(batch, *spec.shape)).shape)


@pytest.mark.parametrize("shape", IMAGE_SHAPES)
@pytest.mark.parametrize("architecture", ["simple_cnn", "mlp", "resnet18"])
def test_image_classification_gives_logits_per_class(make_spec, architecture, shape):
    spec = make_spec(shape=shape, num_classes=7)
    assert output_shape(ModelConfig(architecture=architecture), spec) == [3, 7]


@pytest.mark.parametrize("architecture", ["simple_cnn", "mlp", "resnet18"])
def test_regression_gives_one_output(make_spec, architecture):
    spec = make_spec(shape=[3, 32, 32], task="regression", num_classes=None)
    assert output_shape(ModelConfig(architecture=architecture), spec) == [3, 1]


def test_mlp_on_tabular_data(make_spec):
    spec = make_spec(kind="tabular", shape=[13], num_classes=3)
    cfg = ModelConfig(architecture="mlp", hidden_sizes=[32, 16, 8], activation="gelu", dropout=0.2)
    model = build_model(cfg, spec)
    assert isinstance(model, MLP)
    assert [m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)] == [
        32,
        16,
        8,
        3,
    ]
    assert any(isinstance(m, torch.nn.GELU) for m in model.modules())
    assert output_shape(cfg, spec) == [3, 3]
    regression = make_spec(kind="tabular", shape=[10], task="regression", num_classes=None)
    assert output_shape(cfg, regression) == [3, 1]


@pytest.mark.parametrize("architecture", ["simple_cnn", "resnet18"])
def test_image_architectures_refuse_tabular_data_and_suggest_mlp(make_spec, architecture):
    spec = make_spec(kind="tabular", shape=[30], num_classes=2)
    with pytest.raises(ModelError, match=r"needs image input.*mlp"):
        build_model(ModelConfig(architecture=architecture), spec)


def test_simple_cnn_handles_large_rgb_images_with_a_strided_stem(make_spec):
    spec = make_spec(shape=[3, 224, 224], num_classes=5)
    model = build_model(ModelConfig(channels=[16, 32]), spec)
    strided = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2)]
    assert len(strided) == 2  # 224 -> 112 -> 56
    assert output_shape(ModelConfig(channels=[16, 32]), spec, batch=2) == [2, 5]


def test_simple_cnn_uses_configured_channels_and_dropout(make_spec):
    model = build_model(ModelConfig(channels=[8, 16, 24], dropout=0.3), make_spec())
    assert isinstance(model, SimpleCNN)
    convs = [m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs == [8, 8, 16, 16, 24, 24]
    assert [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)] == [0.3]


def test_dropout_does_not_change_state_dict_keys(make_spec):
    # A checkpoint trained with dropout must load into the same model without it.
    for architecture in ("simple_cnn", "mlp"):
        with_dropout = build_model(ModelConfig(architecture=architecture, dropout=0.5), make_spec())
        without = build_model(ModelConfig(architecture=architecture), make_spec())
        assert with_dropout.state_dict().keys() == without.state_dict().keys()


def test_build_leaves_the_model_in_training_mode(make_spec):
    assert build_model(ModelConfig(), make_spec()).training


def test_stem_and_pooling_plans():
    assert stem_plan(8, 8) == (0, 8)
    assert stem_plan(64, 64) == (0, 64)
    assert stem_plan(224, 300) == (2, 56)
    assert stem_plan(65, 65) == (1, 33)
    assert pooling_plan(8, 2) == [True, True]
    assert pooling_plan(8, 3) == [True, True, False]
    assert pooling_plan(2, 2) == [False, False]
    assert pooling_plan(28, 2) == [True, True]


def test_num_classes_from_config_when_the_data_has_none(make_spec):
    spec = make_spec(num_classes=None)
    assert output_shape(ModelConfig(num_classes=4), spec) == [3, 4]


def test_num_classes_conflict_names_both(make_spec):
    with pytest.raises(ModelError, match=r"num_classes is 5 but the data has 10 classes"):
        build_model(ModelConfig(num_classes=5), make_spec(num_classes=10))


def test_unknown_class_count_is_an_error(make_spec):
    with pytest.raises(ModelError, match=r"set model.num_classes"):
        build_model(ModelConfig(), make_spec(num_classes=None))


def test_regression_with_many_classes_configured_is_an_error(make_spec):
    spec = make_spec(task="regression", num_classes=None)
    with pytest.raises(ModelError, match=r"regression"):
        build_model(ModelConfig(num_classes=3), spec)


def test_unknown_architecture_suggests_the_closest_name(make_spec):
    with pytest.raises(ModelError, match=r"did you mean 'resnet18'\?.*package\.module:Class"):
        build_model(ModelConfig(architecture="resnet81"), make_spec())
    with pytest.raises(ModelError, match=r"did you mean 'simple_cnn'"):
        build_model(ModelConfig(architecture="simple-cnn"), make_spec())


def test_architecture_names_are_case_insensitive(make_spec):
    assert isinstance(build_model(ModelConfig(architecture="MLP"), make_spec()), MLP)


def test_invalid_sizes_are_errors(make_spec):
    with pytest.raises(ModelError, match=r"model.channels"):
        build_model(ModelConfig(channels=[]), make_spec())
    with pytest.raises(ModelError, match=r"model.hidden_sizes"):
        build_model(ModelConfig(architecture="mlp", hidden_sizes=[0]), make_spec())


def test_an_input_too_small_for_the_architecture_fails_at_build_time(make_spec):
    # squeezenet's pools shrink 8x8 to nothing before its classifier.
    with pytest.raises(ModelError, match=r"cannot take inputs of shape \[1, 8, 8\].*resize"):
        build_model(ModelConfig(architecture="squeezenet1_1"), make_spec())


def test_list_architectures():
    names = list_architectures()
    assert names[:2] == ["simple_cnn", "mlp"]
    for name in ("resnet18", "resnet50", "mobilenet_v3_small", "efficientnet_b0", "convnext_tiny"):
        assert name in names
    assert "fasterrcnn_resnet50_fpn" not in names  # detection models are not classifiers
