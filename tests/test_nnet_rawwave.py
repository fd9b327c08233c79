"""The raw-waveform cnn-audio of Lederle & Wilhelm (part4.md P4.10, Table 1): the published
lengths after every block, the sample order of the waveform feature, fixed-length input."""
import pytest
import torch

from dcase_tk.nnet import build_model
from nnet_checks import check_forward, check_overfits

SMALL = {"name": "rawwave", "blocks": [[4, 5], [8, 3]], "pools": [4, 4], "dense": 16, "bn_momentum": 0.9}
D = 441                                     # samples per waveform frame: 10 ms at 44.1 kHz


def block_lengths(model, samples):
    h, lengths = torch.zeros(1, 1, samples), []
    with torch.no_grad():
        for block in model.blocks:
            h = block(h)
            lengths.append(tuple(h.shape[1:]))
    return lengths


@pytest.mark.parametrize("seconds, pools, expected", [
    (1, [8, 16, 16, 16], [(32, 5512), (64, 344), (128, 21), (256, 1)]),
    (2, [16, 16, 16, 16], [(32, 5512), (64, 344), (128, 21), (256, 1)]),
    (3, [16, 16, 16, 16], [(32, 8268), (64, 516), (128, 32), (256, 2)]),
])
def test_table1_shapes(seconds, pools, expected):
    frames = seconds * 100                  # 44100 * seconds samples in 441-sample frames
    model = build_model({"name": "rawwave", "pools": pools}, n_in=D, n_classes=41, n_frames=frames).eval()
    assert block_lengths(model, frames * D) == expected
    assert model.classifier[1].in_features == expected[-1][0] * expected[-1][1]   # flattened map
    with torch.no_grad():
        assert model(torch.randn(2, frames, D)).shape == (2, 41)


def test_published_parameter_count():
    model = build_model({"name": "rawwave"}, n_in=D, n_classes=41, n_frames=200)
    convs = (11 * 1 * 32 + 32) + (11 * 32 * 32 + 32) + (9 * 32 * 64 + 64) + (9 * 64 * 64 + 64) \
        + (7 * 64 * 128 + 128) + (7 * 128 * 128 + 128) + (5 * 128 * 256 + 256) + (5 * 256 * 256 + 256)
    bns = 2 * (32 + 64 + 128 + 256 + 512)
    dense = (256 * 512 + 512) + (512 * 41 + 41)
    assert sum(p.numel() for p in model.parameters()) == convs + bns + dense


def test_frames_are_read_as_consecutive_samples():
    model = build_model(SMALL, n_in=16, n_classes=3, n_frames=8).eval()
    wave = torch.randn(2, 8 * 16)
    feats = wave.reshape(2, 8, 16)          # frame t holds samples t*16 .. t*16+15
    with torch.no_grad():
        expected = model.classifier(model.blocks(wave.unsqueeze(1)))
        assert torch.allclose(model(feats), expected)
        assert not torch.allclose(model(feats.transpose(1, 2).reshape(2, 8, 16)), expected)


def test_fixed_length_and_bad_config():
    model = build_model(SMALL, n_in=16, n_classes=3, n_frames=8).eval()
    with pytest.raises(ValueError, match="8-frame inputs"):
        model(torch.randn(1, 9, 16))
    with pytest.raises(ValueError, match="too few"):
        build_model(SMALL, n_in=4, n_classes=3, n_frames=2)
    with pytest.raises(ValueError, match="odd"):
        build_model({**SMALL, "blocks": [[4, 4], [8, 3]]}, n_in=16, n_classes=3, n_frames=8)
    with pytest.raises(ValueError, match="one pool size each"):
        build_model({**SMALL, "pools": [4]}, n_in=16, n_classes=3, n_frames=8)


def test_contract_checks():
    check_forward(SMALL, n_in=16, n_classes=4, frames=8)
    check_overfits(SMALL, n_in=16, n_classes=4, frames=8)
