"""Batch augmentation and cropping: exact values on constructed inputs, bounds, reproducibility."""
import numpy as np
import pytest
import torch

from dcase_tk.train.augment import (AugmentConfig, apply_batch, band_mask, draw_bands, fixed_crop,
                                    mix, mixup, random_crop, random_erasing, sample_beta, segments,
                                    spec_augment)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def batch(n=8, frames=20, dims=6, seed=1):
    x = torch.randn(n, frames, dims, generator=gen(seed))
    targets = torch.nn.functional.one_hot(torch.arange(n) % 3, 3).float()
    return x, targets


# ---------------------------------------------------------------------------------------- mixup

def test_mix_exact_values():
    x = torch.tensor([[[1.0, 2.0]], [[5.0, 10.0]]])
    t = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    perm = torch.tensor([1, 0])
    xm, tm = mix(x, t, 0.25, perm)
    assert xm.tolist() == [[[4.0, 8.0]], [[2.0, 4.0]]]          # 0.25 * x + 0.75 * partner
    assert tm.tolist() == [[0.25, 0.75], [0.75, 0.25]]
    xm, tm = mix(x, t, torch.tensor([0.25, 1.0]), perm)           # one lam per example
    assert xm.tolist() == [[[4.0, 8.0]], [[5.0, 10.0]]]
    assert tm.tolist() == [[0.25, 0.75], [0.0, 1.0]]


def test_mixup_is_a_convex_mix_with_a_batch_partner_and_reproducible():
    x, t = batch()
    xm, tm, lam = mixup(x, t, 0.4, gen(3))
    assert isinstance(lam, float) and 0.0 < lam < 1.0
    for i in range(len(x)):
        # row i is lam x_i + (1 - lam) x_j for one partner j
        partners = [j for j in range(len(x))
                    if torch.allclose(xm[i], lam * x[i] + (1 - lam) * x[j], atol=1e-6)
                    and torch.allclose(tm[i], lam * t[i] + (1 - lam) * t[j], atol=1e-6)]
        assert len(partners) == 1
    again = mixup(x, t, 0.4, gen(3))
    assert again[2] == lam and torch.equal(again[0], xm) and torch.equal(again[1], tm)
    assert mixup(x, t, 0.4, gen(4))[2] != lam


def test_mixup_per_example_and_off():
    x, t = batch()
    _, tm, lam = mixup(x, t, 1.0, gen(5), per_example=True)
    assert lam.shape == (len(x),) and bool(((lam > 0) & (lam < 1)).all())
    assert len(set(lam.tolist())) == len(x)
    assert torch.allclose(tm.sum(1), torch.ones(len(x)))
    g = gen(5)
    state = g.get_state()
    xo, to, lo = mixup(x, t, 0.0, g)
    assert xo is x and to is t and lo == 1.0 and torch.equal(g.get_state(), state)


def test_sample_beta_mean_and_generator_advance():
    g = gen(7)
    draws = sample_beta(2.0, g, 4000)
    assert draws.min() > 0 and draws.max() < 1
    assert abs(draws.mean() - 0.5) < 0.02
    assert sample_beta(2.0, g) != sample_beta(2.0, gen(7))   # the first call advanced g


# ------------------------------------------------------------------------------------- masking

def test_band_mask_exact():
    starts, widths = torch.tensor([[1, 5], [0, 6]]), torch.tensor([[2, 0], [1, 2]])
    assert band_mask(starts, widths, 8).int().tolist() == [[0, 1, 1, 0, 0, 0, 0, 0],
                                                          [1, 0, 0, 0, 0, 0, 1, 1]]


def test_draw_bands_bounds_and_every_width_occurs():
    starts, widths = draw_bands(gen(0), 500, 2, 4, 10)
    assert set(widths.flatten().tolist()) == {0, 1, 2, 3, 4}
    assert bool((starts >= 0).all()) and bool((starts + widths <= 10).all())
    with pytest.raises(ValueError, match="larger than the 10"):
        draw_bands(gen(0), 1, 1, 11, 10)
    assert draw_bands(gen(0), 1, 0, 11, 10)[0].shape == (1, 0)   # no bands: width irrelevant


def test_spec_augment_masks_exactly_the_drawn_bands():
    x, _ = batch(n=5)
    original = x.clone()
    out = spec_augment(x, gen(2), time_masks=1, time_width=6, freq_masks=1, freq_width=3,
                       value=-9.0)
    assert torch.equal(x, original)                           # input untouched
    g = gen(2)
    t_starts, t_widths = draw_bands(g, 5, 1, 6, 20)           # time first, then frequency
    f_starts, f_widths = draw_bands(g, 5, 1, 3, 6)
    masked = out == -9.0
    for i in range(5):
        k, m = int(t_widths[i, 0]), int(f_widths[i, 0])
        # k whole frames and m whole dims: k*D + m*T - k*m cells
        assert int(masked[i].sum()) == k * 6 + m * 20 - k * m
        # widths are below the full extent, so the fully masked rows/columns are the bands
        rows = masked[i].all(dim=1).nonzero().flatten().tolist()
        assert rows == list(range(int(t_starts[i, 0]), int(t_starts[i, 0]) + k))
        cols = masked[i].all(dim=0).nonzero().flatten().tolist()
        assert cols == list(range(int(f_starts[i, 0]), int(f_starts[i, 0]) + m))
    assert torch.equal(out[~masked], original[~masked])


def test_random_erasing_rectangles_within_area_bounds():
    x = torch.randn(300, 20, 10, generator=gen(1))
    out = random_erasing(x, gen(2), p=0.5, area=(0.1, 0.3), aspect=(0.5, 2.0), value=99.0)
    erased = out == 99.0
    counts = erased.sum(dim=(1, 2))
    assert 100 < int((counts > 0).sum()) < 200                 # about half the examples
    for i in torch.nonzero(counts).flatten().tolist():
        rows = erased[i].any(dim=1).nonzero().flatten()
        cols = erased[i].any(dim=0).nonzero().flatten()
        # one solid rectangle: contiguous rows and columns, all cells inside erased
        assert rows[-1] - rows[0] + 1 == len(rows) and cols[-1] - cols[0] + 1 == len(cols)
        assert int(counts[i]) == len(rows) * len(cols)
        assert 0.1 * 200 <= int(counts[i]) <= 0.3 * 200
    assert torch.equal(out[~erased], x[~erased])
    assert torch.equal(random_erasing(x, gen(2), p=0.0), x)


def test_random_erasing_noise_stays_in_the_example_range():
    x = torch.rand(20, 16, 8, generator=gen(1)) * torch.arange(1.0, 21.0)[:, None, None]
    out = random_erasing(x, gen(3), p=1.0, area=(0.2, 0.4), aspect=(0.5, 2.0))
    changed = out != x
    assert bool(changed.flatten(1).any(dim=1).all())          # p = 1: every example erased
    low, high = x.amin(dim=(1, 2)), x.amax(dim=(1, 2))
    for i in range(20):
        assert bool((out[i][changed[i]] >= low[i]).all() and (out[i][changed[i]] <= high[i]).all())
    assert torch.equal(random_erasing(x, gen(3), p=1.0, area=(0.2, 0.4), aspect=(0.5, 2.0)), out)
    with pytest.raises(ValueError, match="area"):
        random_erasing(x, gen(3), area=(0.5, 0.2))
    with pytest.raises(ValueError, match="'random' or a number"):
        random_erasing(x, gen(3), value="zero")


# ------------------------------------------------------------------------------------- cropping

def test_fixed_and_random_crop_windows():
    m = np.arange(12).reshape(6, 2)
    assert fixed_crop(m, 4).tolist() == m[:4].tolist()
    assert fixed_crop(m[:2], 5)[:, 0].tolist() == [0, 2, 0, 2, 0]   # repeat-padded
    starts = set()
    for seed in range(40):
        crop = random_crop(m, 4, gen(seed))
        start = int(crop[0, 0]) // 2
        assert crop.tolist() == m[start:start + 4].tolist()
        starts.add(start)
    assert starts == {0, 1, 2}
    assert random_crop(m[:3], 7, gen(0))[:, 0].tolist() == [0, 2, 4, 0, 2, 4, 0]
    tensor_crop = random_crop(torch.from_numpy(m), 4, gen(9))
    assert torch.is_tensor(tensor_crop)
    assert tensor_crop.tolist() == random_crop(m, 4, gen(9)).tolist()
    with pytest.raises(ValueError, match="positive integer"):
        fixed_crop(m, 0)


def first_rows(windows):
    """The clip row each window of ``np.arange(2 T).reshape(T, 2)`` starts at."""
    return [int(w[0, 0]) // 2 for w in windows]


def test_segments_cover_the_clip():
    m = np.arange(20).reshape(10, 2)
    assert first_rows(segments(m, 4, 3)) == [0, 3, 6]        # 6 + 4 == 10: no extra window
    assert first_rows(segments(m, 4, 4)) == [0, 4, 6]        # last window aligned to the end
    assert first_rows(segments(m, 10, 2)) == [0]
    s = segments(m, 4, 4)
    assert s.shape == (3, 4, 2) and s[2].tolist() == m[6:10].tolist()
    short = segments(torch.from_numpy(m[:3]), 5, 2)
    assert short.shape == (1, 5, 2) and short[0, :, 0].tolist() == [0, 2, 4, 0, 2]
    with pytest.raises(ValueError, match="hop"):
        segments(m, 4, 0)


# ------------------------------------------------------------------------------------- config

def test_augment_config_from_dict_and_errors():
    cfg = AugmentConfig.from_dict({"mixup_alpha": 0.2, "erase_p": 0.5, "erase_area": [0.1, 0.2]})
    assert cfg.erase_area == (0.1, 0.2) and cfg.mixup_alpha == 0.2 and cfg.time_masks == 0
    assert AugmentConfig.from_dict(None) == AugmentConfig()
    with pytest.raises(ValueError, match="unknown augment option"):
        AugmentConfig.from_dict({"mixup": 0.2})
    with pytest.raises(ValueError, match="time_width is 0"):
        AugmentConfig.from_dict({"time_masks": 2})
    with pytest.raises(ValueError, match="probability"):
        AugmentConfig.from_dict({"erase_p": 2})
    with pytest.raises(ValueError, match="mixup_alpha"):
        AugmentConfig.from_dict({"mixup_alpha": -1})


def test_apply_batch_off_is_a_no_op_and_on_is_reproducible():
    x, t = batch()
    g = gen(0)
    state = g.get_state()
    xo, to = apply_batch(AugmentConfig(), x, t, g)
    assert xo is x and to is t and torch.equal(g.get_state(), state)
    cfg = AugmentConfig(mixup_alpha=0.3, time_masks=1, time_width=3, freq_masks=1, freq_width=2,
                        erase_p=0.5)
    first = apply_batch(cfg, x, t, gen(11))
    second = apply_batch(cfg, x, t, gen(11))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert first[0].shape == x.shape and not torch.equal(first[0], x)
    assert torch.allclose(first[1].sum(1), torch.ones(len(x)))
