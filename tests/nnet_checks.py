"""Checks every model of the zoo must pass: the output shapes of the model contract
(dcase_tk/nnet/__init__.py) and the ability to overfit a tiny batch."""
import torch

from dcase_tk.nnet import build_model, output_kind


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def build(config, n_in, n_classes, frames, seed=0):
    torch.manual_seed(seed)
    return build_model(config, n_in, n_classes, frames)


def check_forward(config, n_in, n_classes, frames, batch=3):
    """Clip outputs ``(batch, n_classes)`` (probabilities in [0, 1] for ``output='probs'``), and
    the optional ``frame_outputs``/``embed`` shapes. Returns the model."""
    model = build(config, n_in, n_classes, frames).eval()
    x = torch.randn(batch, frames, n_in)
    with torch.no_grad():
        out = model(x)
        assert out.shape == (batch, n_classes), out.shape
        assert torch.isfinite(out).all()
        if output_kind(model) == "probs":
            assert out.min() >= 0 and out.max() <= 1
        if hasattr(model, "frame_outputs"):
            frames_out = model.frame_outputs(x)
            assert frames_out.dim() == 3 and frames_out.shape[0] == batch
            assert frames_out.shape[2] == n_classes and 1 <= frames_out.shape[1] <= frames
            assert frames_out.min() >= 0 and frames_out.max() <= 1
        if hasattr(model, "embed"):
            emb = model.embed(x)
            assert emb.dim() == 2 and emb.shape[0] == batch
        if hasattr(model, "encode"):              # the encoder/classifier split
            torch.testing.assert_close(model.classify(model.encode(x)), out)
    return model


def check_overfits(config, n_in, n_classes, frames, steps=60, lr=3e-3, batch=4):
    """A few Adam steps on ``batch`` random inputs with distinct labels reach 100 % training
    accuracy and cut the loss to under a quarter of its start."""
    model = build(config, n_in, n_classes, frames).train()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, frames, n_in, generator=g)
    y = torch.arange(batch) % n_classes
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    kind = output_kind(model)

    def loss_fn(out):
        if kind == "logits":
            return torch.nn.functional.cross_entropy(out, y)
        return torch.nn.functional.binary_cross_entropy(
            out.clamp(1e-7, 1 - 1e-7), torch.nn.functional.one_hot(y, n_classes).float())

    first = None
    for _ in range(steps):
        loss = loss_fn(model(x))
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(x)
    assert (out.argmax(1) == y).all(), f"did not fit the batch: {out.argmax(1).tolist()} vs {y.tolist()}"
    assert loss_fn(out).item() < first / 4, (first, loss_fn(out).item())
    return model
