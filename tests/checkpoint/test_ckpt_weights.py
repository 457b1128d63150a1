"""One answer to "where are the model weights in this file", for pretrained and --save."""

from __future__ import annotations

import torch

from trainforge.checkpoint import describe_contents, find_model_weights, is_trainforge_checkpoint

WEIGHTS = {"fc.weight": torch.ones(2, 3), "fc.bias": torch.zeros(2)}


def test_a_plain_state_dict_is_its_own_weights() -> None:
    found = find_model_weights({**WEIGHTS, "note": "kept out"})
    assert found is not None and set(found) == {"fc.weight", "fc.bias"}


def test_nested_weights_are_found_under_the_common_keys() -> None:
    for key in ("state_dict", "model_state_dict", "model"):
        found = find_model_weights({"epoch": 3, key: dict(WEIGHTS)})
        assert found is not None and torch.equal(found["fc.weight"], WEIGHTS["fc.weight"]), key


def test_a_trainforge_checkpoint_gives_its_model_entry() -> None:
    state = {"format_version": 1, "model": dict(WEIGHTS), "optimizer": {"state": {}}}
    assert is_trainforge_checkpoint(state) and not is_trainforge_checkpoint(WEIGHTS)
    found = find_model_weights(state)
    assert found is not None and set(found) == set(WEIGHTS)


def test_wrapper_prefixes_are_left_to_the_caller() -> None:
    found = find_model_weights({f"module.{k}": v for k, v in WEIGHTS.items()})
    assert found is not None and set(found) == {"module.fc.weight", "module.fc.bias"}


def test_no_weights_is_none_and_described() -> None:
    assert find_model_weights({"epoch": 3, "notes": "hi"}) is None
    assert find_model_weights([torch.ones(1)]) is None
    assert describe_contents({"notes": 1, "epoch": 3}) == "a dict with keys ['epoch', 'notes']"
    assert describe_contents([1]) == "a list"
