"""The narrow ResNets and the mixture head (:mod:`spermtrack.regressors.nets`)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from spermtrack.regressors.nets import MixtureHead, resnet2d  # noqa: E402


def test_mixture_head_by_hand():
    """Two locations, one-hot features: the output is the log of their grades' mean, weighted by softplus."""
    head = MixtureHead(2, 2)
    a, b0, b1 = 2.0, 1.5, -0.5
    with torch.no_grad():
        head.classify.weight.copy_(torch.tensor([[a, 0.0], [0.0, a]]).view(2, 2, 1, 1))
        head.classify.bias.zero_()
        head.weigh.weight.copy_(torch.tensor([[b0, b1]]).view(1, 2, 1, 1))
        head.weigh.bias.zero_()
        x = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).view(1, 2, 1, 2)  # location 0: [1, 0], location 1: [0, 1]
        out = head(x).exp().numpy()[0]

    def softmax(v):
        e = np.exp(np.asarray(v) - max(v))
        return e / e.sum()

    w0, w1 = np.log1p(np.exp(b0)), np.log1p(np.exp(b1))
    expected = (w0 * softmax([a, 0.0]) + w1 * softmax([0.0, a])) / (w0 + w1)
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_a_location_counts_as_much_as_its_weight():
    """Doubling one location's weight moves the output toward its grades; an empty map location adds nothing."""
    head = MixtureHead(3, 2)
    with torch.no_grad():
        head.classify.weight.copy_(torch.tensor([[4.0, 0, 0], [0, 4.0, 0]]).view(2, 3, 1, 1))
        head.classify.bias.zero_()
        head.weigh.weight.copy_(torch.tensor([[0.0, 0.0, 20.0]]).view(1, 3, 1, 1))  # weight from channel 2
        head.weigh.bias.fill_(-30.0)  # no third channel: weight softplus(-30) ~ 0
        x = torch.zeros(1, 3, 1, 3)
        x[0, 0, 0, 0] = x[0, 2, 0, 0] = 1.0    # grade 0, weight softplus(-10) ~ 0: empty
        x[0, 0, 0, 1] = 1.0
        x[0, 2, 0, 1] = 2.0                    # grade 0, weight softplus(10) ~ 10
        x[0, 1, 0, 2] = 1.0
        x[0, 2, 0, 2] = 2.0                    # grade 1, weight ~ 10
        even = head(x).exp()[0]
        x[0, 2, 0, 2] = 2.5                    # grade 1, weight ~ 20
        more = head(x).exp()[0]
    p0 = float(torch.softmax(torch.tensor([4.0, 0.0]), 0)[0])
    np.testing.assert_allclose(even.numpy(), [0.5, 0.5], atol=1e-3)
    np.testing.assert_allclose(more.numpy(), [(10 * p0 + 20 * (1 - p0)) / 30, (10 * (1 - p0) + 20 * p0) / 30],
                               atol=1e-3)


def test_resnet2d_with_a_mixture_head_outputs_log_proportions():
    torch.manual_seed(0)
    net = resnet2d(8, 4, width=8, head="mixture").eval()
    with torch.no_grad():
        out = net(torch.randn(3, 8, 64, 64))
        trunk = net[1](net[0](torch.randn(1, 8, 64, 64)))
    assert out.shape == (3, 4) and trunk.shape[2:] == (8, 8)  # the map keeps 1/8 of the input
    np.testing.assert_allclose(out.exp().sum(dim=1).numpy(), 1.0, rtol=1e-5)
    np.testing.assert_allclose(torch.log_softmax(out, dim=1).numpy(), out.numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="head"):
        resnet2d(8, 4, head="max")


def test_flow2d_with_the_mixture_head_survives_a_checkpoint(tmp_path):
    from spermtrack.regressors import FOUR, VideoInputs, load_regressor, make_regressor

    rng = np.random.default_rng(0)
    videos = [VideoInputs(f"v{i}", frame_step_s=0.04, flow=rng.normal(size=(2, 8, 64, 64)).astype(np.float32))
              for i in range(4)]
    y = rng.dirichlet(np.ones(4), 4)
    model = make_regressor("flow2d", FOUR, quick=True, head="mixture").fit(videos[:3], y[:3])
    pred = model.predict(videos)
    assert pred.shape == (4, 4) and np.allclose(pred.sum(axis=1), 1.0)
    loaded, _ = load_regressor(model.save(tmp_path / "m.pt", inputs={}, info={}), expect="flow2d")
    assert loaded.config.head == "mixture"
    np.testing.assert_allclose(loaded.predict(videos), pred, atol=1e-6)
