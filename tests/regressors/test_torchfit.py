"""The shared CNN training loop (:mod:`spermtrack.regressors.torchfit`)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from spermtrack.errors import InputError  # noqa: E402
from spermtrack.regressors.torchfit import CNNConfig, train_network  # noqa: E402


def _run(ema: float):
    """Train a linear layer for 2 epochs of 3 steps; return the weights each step started from, at each epoch
    end, and at the end."""
    torch.manual_seed(0)
    net = torch.nn.Linear(2, 3)
    x = torch.as_tensor(np.random.default_rng(0).normal(size=(6, 2)), dtype=torch.float32)
    y = torch.softmax(torch.as_tensor(np.random.default_rng(1).normal(size=(6, 3)), dtype=torch.float32), dim=1)
    seen, at_epoch = [], []

    def batch(idx, rng):
        seen.append(net.weight.detach().clone())
        return x[idx], y[idx]

    def on_epoch(epoch, loss):
        at_epoch.append(net.weight.detach().clone())
        return False

    config = CNNConfig(epochs=2, batch=2, lr=0.1, schedule="constant", ema=ema)
    train_network(net, 6, batch, config, on_epoch=on_epoch)
    return seen, at_epoch, net.weight.detach().clone()


def test_weight_averaging_by_hand():
    raw_seen, raw_epochs, raw_final = _run(0.0)
    seen, at_epoch, final = _run(0.5)
    # the averaging does not change the training itself (the raw weights come back after each evaluation)
    for a, b in zip(raw_seen, seen):
        torch.testing.assert_close(a, b)
    # weights after each of the 6 steps: those the next step started from, then the last ones
    steps = raw_seen[1:] + [raw_final]
    average, expected = None, []
    for n, w in enumerate(steps):  # the first step copies; then the decay warms up as (1 + n) / (10 + n)
        d = min(0.5, (1 + n) / (10 + n))
        average = w if average is None else d * average + (1 - d) * w
        expected.append(average)
    torch.testing.assert_close(at_epoch[0], expected[2])
    torch.testing.assert_close(at_epoch[1], expected[5])
    torch.testing.assert_close(final, expected[5])
    torch.testing.assert_close(raw_epochs[1], raw_final)


def test_weight_averaging_decay_is_checked():
    with pytest.raises(InputError, match="CNNConfig.ema"):
        CNNConfig(ema=1.0)
