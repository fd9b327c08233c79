"""The BUT x-vector network (part4.md P4.9, Table 2): statistics pooling, the published layer
sizes, the embedding tap, and inputs as short as one frame."""
import pytest
import torch

from dcase_tk.nnet import build_model
from dcase_tk.nnet.xvector import statistics_pooling
from nnet_checks import check_forward, check_overfits

SMALL = {"name": "xvector", "frame_layers": [[16, 3], [16, 5], [24, 1]], "embed_dim": 16, "hidden": 16}


def test_statistics_pooling_by_hand():
    # channel 0 over 4 frames: 1, 3, 5, 7 -> mean 4, population std sqrt((9+1+1+9)/4) = sqrt(5)
    # channel 1 constant 2 -> mean 2, std 0
    h = torch.tensor([[[1.0, 3.0, 5.0, 7.0], [2.0, 2.0, 2.0, 2.0]]])
    stats = statistics_pooling(h)
    assert stats.shape == (1, 4)
    assert torch.allclose(stats, torch.tensor([[4.0, 2.0, 5.0 ** 0.5, 0.0]]))


def test_statistics_pooling_one_frame_is_zero_std_without_nan_gradient():
    h = torch.tensor([[[3.0], [-1.0]]], requires_grad=True)
    stats = statistics_pooling(h)
    assert stats.tolist() == [[3.0, -1.0, 0.0, 0.0]]
    stats.sum().backward()
    assert torch.isfinite(h.grad).all() and h.grad.tolist() == [[[1.0], [1.0]]]


def published():
    return build_model({"name": "xvector"}, n_in=80, n_classes=10, n_frames=500).eval()


def test_published_network_size_and_shapes():
    model = published()
    # frame level (Table 2): kernels 3, 3, 5, 1, 1; 128, 128, 128, 128, 256 filters; each + BN
    convs = (80 * 3 * 128 + 128) + (128 * 3 * 128 + 128) + (128 * 5 * 128 + 128) \
        + (128 * 128 + 128) + (128 * 256 + 256)
    bns = 2 * (4 * 128 + 256)
    segment = (512 * 128 + 128) + 2 * 128 + (128 * 128 + 128) + 2 * 128 + (128 * 10 + 10)
    assert sum(p.numel() for p in model.parameters()) == convs + bns + segment
    x = torch.randn(3, 500, 80)
    with torch.no_grad():
        assert model(x).shape == (3, 10)
        assert model.frame_level(x.transpose(1, 2)).shape == (3, 256, 500)   # 'same' convs
        emb = model.embed(x)
    assert emb.shape == (3, 128)


def test_embedding_is_the_first_affine_output_before_relu():
    model = published()
    x = torch.randn(4, 120, 80)
    with torch.no_grad():
        emb = model.embed(x)
        expected = model.embedding(statistics_pooling(model.frame_level(x.transpose(1, 2))))
        assert torch.allclose(emb, expected)
        assert (emb < 0).any()                  # a ReLU/BN-after-ReLU output would not be the tap
        assert torch.allclose(model(x), model.segment_level(emb))


def test_one_frame_and_variable_length_inputs():
    model = published()
    with torch.no_grad():
        one = model(torch.randn(2, 1, 80))
        longer = model(torch.randn(2, 1000, 80))
    assert one.shape == longer.shape == (2, 10)
    assert torch.isfinite(one).all()


def test_one_frame_trains_without_nan():
    model = build_model(SMALL, n_in=6, n_classes=3, n_frames=1).train()
    loss = torch.nn.functional.cross_entropy(model(torch.randn(4, 1, 6)), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_bad_frame_layers():
    with pytest.raises(ValueError, match="odd"):
        build_model({"name": "xvector", "frame_layers": [[8, 4]]}, 6, 3, 10)
    with pytest.raises(ValueError, match="channels, kernel"):
        build_model({"name": "xvector", "frame_layers": []}, 6, 3, 10)


def test_contract_checks():
    check_forward(SMALL, n_in=6, n_classes=4, frames=20)
    check_overfits(SMALL, n_in=6, n_classes=4, frames=20)
