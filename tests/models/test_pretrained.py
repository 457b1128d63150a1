from __future__ import annotations

import socket
import urllib.error
from pathlib import Path

import pytest
import torch

from trainforge.config import ModelConfig
from trainforge.errors import ModelError
from trainforge.models import build_model, load_pretrained, resolve_pretrained_path
from trainforge.models._pretrained import (
    adapt_conv_channels,
    match_state_dict,
    parse_registry_ref,
    strip_wrapper_prefixes,
)


def save_trainforge_checkpoint(model: torch.nn.Module, path: Path, run_id: str = "run-123") -> None:
    state = {
        "format_version": 1,
        "model": model.state_dict(),
        "lineage": {"run_id": run_id, "parent": None},
        "config": {"model": {"architecture": "simple_cnn"}},
    }
    try:  # the real format adds the checksum that its loader verifies
        from trainforge.checkpoint.format import save_checkpoint
    except ImportError:
        torch.save(state, path)
    else:
        save_checkpoint(state, path)


def assert_same_weights(a: dict, b: dict, keys) -> None:
    for key in keys:
        assert torch.equal(a[key], b[key]), key


def test_not_pretrained_returns_none(make_spec):
    model = build_model(ModelConfig(), make_spec())
    assert load_pretrained(model, ModelConfig()) is None


def test_loads_a_plain_state_dict_file(make_spec, tmp_path):
    source = build_model(ModelConfig(), make_spec())
    path = tmp_path / "weights.pth"
    torch.save(source.state_dict(), path)
    cfg = ModelConfig(pretrained=str(path))
    target = build_model(cfg, make_spec())
    info = load_pretrained(target, cfg)
    assert info is not None
    assert info["kind"] == "state_dict"
    assert info["path"] == str(path)
    assert info["run_id"] is None
    assert info["skipped_keys"] == [] and info["missing_keys"] == []
    assert_same_weights(target.state_dict(), source.state_dict(), source.state_dict())


def test_checkpoint_with_other_class_count_skips_only_the_head(make_spec, tmp_path):
    source = build_model(ModelConfig(), make_spec(num_classes=10))
    path = tmp_path / "best.pth"
    save_trainforge_checkpoint(source, path)
    cfg = ModelConfig(pretrained=str(path))
    target = build_model(cfg, make_spec(num_classes=3))
    before_head = {k: v.clone() for k, v in target.state_dict().items() if k.startswith("head.")}
    info = load_pretrained(target, cfg)
    assert info is not None
    assert info["kind"] == "checkpoint"
    assert info["run_id"] == "run-123"
    assert sorted(info["skipped_keys"]) == ["head.3.bias", "head.3.weight"]
    body = [k for k in source.state_dict() if not k.startswith("head.")]
    assert_same_weights(target.state_dict(), source.state_dict(), body)
    assert_same_weights(target.state_dict(), before_head, before_head)


def test_resnet18_rgb_weights_fit_a_grayscale_model(make_spec, tmp_path):
    rgb = build_model(ModelConfig(architecture="resnet18"), make_spec(shape=[3, 32, 32]))
    path = tmp_path / "rgb.pth"
    torch.save(rgb.state_dict(), path)
    cfg = ModelConfig(architecture="resnet18", pretrained=str(path))
    gray = build_model(cfg, make_spec(shape=[1, 32, 32]))
    info = load_pretrained(gray, cfg)
    assert info is not None and info["skipped_keys"] == []
    summed = rgb.conv1.weight.sum(dim=1, keepdim=True)
    assert torch.allclose(gray.conv1.weight, summed, atol=1e-6)


def test_weights_of_another_architecture_are_an_error(make_spec, tmp_path):
    path = tmp_path / "mlp.pth"
    torch.save(build_model(ModelConfig(architecture="mlp"), make_spec()).state_dict(), path)
    cfg = ModelConfig(pretrained=str(path))
    with pytest.raises(ModelError, match=r"none of the weights"):
        load_pretrained(build_model(cfg, make_spec()), cfg)


def test_a_pickled_whole_model_is_refused(make_spec, tmp_path):
    model = build_model(ModelConfig(architecture="mlp"), make_spec())
    path = tmp_path / "model.pth"
    torch.save(model, path)
    cfg = ModelConfig(architecture="mlp", pretrained=str(path))
    with pytest.raises(ModelError, match=r"weights only.*state_dict\(\)"):
        load_pretrained(model, cfg)


def test_missing_file_is_an_error(make_spec, tmp_path):
    cfg = ModelConfig(pretrained=str(tmp_path / "nope.pth"))
    with pytest.raises(ModelError, match=r"file not found"):
        load_pretrained(build_model(cfg, make_spec()), cfg)


def test_registry_reference_resolves_to_the_version_folder(monkeypatch, tmp_path):
    folder = tmp_path / "reg" / "digits_v1.2.0"
    folder.mkdir(parents=True)
    (folder / "checkpoint.pth").write_bytes(b"x")
    monkeypatch.setenv("TRAINFORGE_REGISTRY", str(tmp_path / "reg"))
    expected = folder / "checkpoint.pth"
    assert resolve_pretrained_path("registry:digits@1.2.0") == expected
    assert resolve_pretrained_path("registry:digits@v1.2.0") == expected


def test_registry_defaults_to_models_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("TRAINFORGE_REGISTRY", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match=r"models/digits_v2\.0\.0/checkpoint\.pth not found"):
        resolve_pretrained_path("registry:digits@2.0.0")


def test_malformed_registry_reference():
    with pytest.raises(ModelError, match=r"registry:NAME@VERSION"):
        parse_registry_ref("registry:digits")


def test_registry_checkpoint_records_name_and_version(make_spec, monkeypatch, tmp_path):
    folder = tmp_path / "digits_v1.0.0"
    folder.mkdir()
    source = build_model(ModelConfig(), make_spec())
    save_trainforge_checkpoint(source, folder / "checkpoint.pth", run_id="r1")
    monkeypatch.setenv("TRAINFORGE_REGISTRY", str(tmp_path))
    cfg = ModelConfig(pretrained="registry:digits@1.0.0")
    info = load_pretrained(build_model(cfg, make_spec()), cfg)
    assert info is not None
    assert (info["kind"], info["name"], info["version"], info["run_id"]) == (
        "registry",
        "digits",
        "1.0.0",
        "r1",
    )


def test_pretrained_true_needs_a_torchvision_architecture(make_spec):
    for architecture in ("simple_cnn", "mlp"):
        cfg = ModelConfig(architecture=architecture, pretrained=True)
        with pytest.raises(ModelError, match=r"no published weights.*path"):
            load_pretrained(build_model(cfg, make_spec()), cfg)


def test_download_failure_explains_how_to_use_a_local_file(make_spec, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr("torchvision.models._api.load_state_dict_from_url", offline)
    cfg = ModelConfig(architecture="ResNet18", pretrained=True)
    with pytest.raises(ModelError, match=r"could not download.*resnet18.*pretrained: path/to"):
        load_pretrained(build_model(cfg, make_spec()), cfg)


def _network_reachable() -> bool:
    try:
        socket.create_connection(("download.pytorch.org", 443), timeout=1).close()
    except OSError:
        return False
    return True


def test_pretrained_true_offline_gives_a_clear_error(make_spec, monkeypatch, tmp_path):
    if _network_reachable():
        pytest.skip("the network is reachable: the weights would really download")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no cached copy of the weights
    cfg = ModelConfig(architecture="resnet18", pretrained=True)
    with pytest.raises(ModelError, match=r"could not download.*model.pretrained: path/to"):
        load_pretrained(build_model(cfg, make_spec()), cfg)


def test_pretrained_string_true_means_true(make_spec):
    cfg = ModelConfig(architecture="mlp", pretrained="True")
    with pytest.raises(ModelError, match=r"no published weights"):
        load_pretrained(build_model(cfg, make_spec()), cfg)


# Pure helpers, with plain tensors.


def test_match_reports_skipped_missing_and_unexpected():
    target = {"a": torch.zeros(2), "b": torch.zeros(3), "c": torch.zeros(1)}
    source = {"a": torch.ones(2), "b": torch.ones(4), "d": torch.ones(1)}
    match = match_state_dict(target, source, None)
    assert list(match.loadable) == ["a"]
    assert (match.skipped, match.missing, match.unexpected) == (["b"], ["c"], ["d"])


def test_wrapper_prefixes_are_stripped():
    source = {"module._orig_mod.fc.weight": torch.ones(1)}
    assert list(strip_wrapper_prefixes(source, ["fc.weight"])) == ["fc.weight"]
    kept = {"module.fc.weight": torch.ones(1)}
    assert list(strip_wrapper_prefixes(kept, ["module.fc.weight"])) == ["module.fc.weight"]


def test_rgb_conv_weights_adapt_to_other_channel_counts():
    rgb = torch.randn(4, 3, 3, 3)
    gray = adapt_conv_channels(rgb, 1)
    assert torch.allclose(gray, rgb.sum(dim=1, keepdim=True), atol=1e-6)
    four = adapt_conv_channels(rgb, 4)
    assert four.shape == (4, 4, 3, 3)
    # A constant image gives the same response whatever its channel count.
    assert torch.allclose(four.sum(dim=1), rgb.sum(dim=1), atol=1e-5)
    assert adapt_conv_channels(rgb, 3) is rgb


def test_a_file_without_weights_is_described(make_spec, tmp_path):
    path = tmp_path / "notes.pth"
    torch.save({"epoch": 3, "notes": "hi"}, path)
    cfg = ModelConfig(pretrained=str(path))
    with pytest.raises(ModelError, match=r"holds a dict with keys \['epoch', 'notes'\]"):
        load_pretrained(build_model(cfg, make_spec()), cfg)


def test_a_state_dict_nested_under_state_dict_is_found(make_spec, tmp_path):
    source = build_model(ModelConfig(), make_spec())
    path = tmp_path / "lightning_style.pth"
    torch.save({"epoch": 1, "state_dict": source.state_dict()}, path)
    cfg = ModelConfig(pretrained=str(path))
    target = build_model(cfg, make_spec())
    info = load_pretrained(target, cfg)
    assert info is not None and info["kind"] == "state_dict"
    assert_same_weights(target.state_dict(), source.state_dict(), source.state_dict())
