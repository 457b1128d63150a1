"""``load_model``: a checkpoint back to a ready-to-use model with its preprocessing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainforge.checkpoint.format import load_checkpoint
from trainforge.config import TrainConfig, validate
from trainforge.errors import ModelError
from trainforge.models import build_model


class LoadedModel(nn.Module):
    """The trained network behind the exact preprocessing it was trained with.

    ``forward`` takes inputs as they appear in the data files (CSV feature rows, raw pixel
    rows, images with 0..255 values) and returns logits (or regression outputs).
    """

    def __init__(
        self,
        network: nn.Module,
        preprocess: nn.Module,
        spec: Any,
        config: TrainConfig,
        class_weights: list[float] | None = None,
    ):
        super().__init__()
        self.preprocess = preprocess
        self.network = network
        self.spec = spec
        self.config = config
        self.class_weights = class_weights  # the training loss's resolved class weights

    @property
    def class_names(self) -> list[str] | None:
        return self.spec.class_names  # type: ignore[no-any-return]

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return self.network(self.preprocess(raw))  # type: ignore[no-any-return]

    @torch.inference_mode()
    def predict_proba(self, raw: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self(raw).float(), dim=1)

    @torch.inference_mode()
    def predict(self, raw: torch.Tensor) -> torch.Tensor:
        out = self(raw)
        return out.reshape(-1) if self.spec.task == "regression" else out.argmax(dim=1)


def load_model(
    checkpoint: str | Path, *, device: str | torch.device = "cpu", model: nn.Module | None = None
) -> LoadedModel:
    """Rebuild the model of a trainforge checkpoint (weights-only load) in eval mode.

    ``model`` is an untrained instance of the network, for models that were passed to ``fit``
    as objects and cannot be rebuilt from the config.
    """
    # Here, not at the top: trainforge.data imports scikit-learn and pandas (~1.5 s), which
    # exporting or listing checkpoints never needs.
    from trainforge.data import InputSpec, build_preprocess

    state = load_checkpoint(checkpoint)
    config = validate(state["config"], TrainConfig, source=str(checkpoint))
    spec = InputSpec.from_dict(state["input_spec"])
    if model is not None:
        network = model
    elif config.model.architecture.startswith("object:"):
        raise ModelError(
            f"{checkpoint}: its model ({config.model.architecture[7:]}) was passed to fit() as an "
            "object that cannot be imported again; pass it: load_model(path, model=MyNet())"
        )
    else:
        network = build_model(config.model.model_copy(update={"pretrained": False}), spec)
    try:
        network.load_state_dict(state["model"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ModelError(f"{checkpoint}: the weights do not fit the model ({first})") from None
    weights = (state.get("loss") or {}).get("class_weights")
    model = LoadedModel(network, build_preprocess(spec), spec, config, weights)
    return model.to(device).eval()
