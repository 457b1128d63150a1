"""simple_cnn really learns: a few epochs on the real sklearn digits (8x8, 1 channel)."""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits

from trainforge.config import ModelConfig
from trainforge.models import build_model


def test_simple_cnn_learns_digits_in_five_epochs(make_spec):
    torch.manual_seed(0)
    digits = load_digits()
    x = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(digits.target)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    held_out, train = order[: len(x) // 10], order[len(x) // 10 :]

    model = build_model(ModelConfig(), make_spec(shape=[1, 8, 8], num_classes=10))
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(5):
        model.train()
        for batch in train[torch.randperm(len(train))].split(64):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()

    model.eval()
    with torch.no_grad():
        accuracy = (model(x[held_out]).argmax(1) == y[held_out]).float().mean().item()
    assert accuracy > 0.90
