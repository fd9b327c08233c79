"""Clip-level inference with a trained exp dir: class posteriors for every utterance."""
import os

import torch

from dcase_tk import config as cfg
from dcase_tk.features import cmvn
from dcase_tk.nnet import build_model
from dcase_tk.train.data import load_clips


def load_trained(exp_dir, device):
    """``(model in eval mode, resolved config)`` from ``exp_dir/{config.yaml,final.pt}``."""
    config = cfg.load_yaml(os.path.join(exp_dir, "config.yaml"))
    model = build_model(config["model"], config["input"]["dim"], len(config["classes"]),
                        config["input"]["frames"])
    state = torch.load(os.path.join(exp_dir, "final.pt"), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.to(device).eval(), config


def posteriors(model, x, device, batch_size=64):
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            out.append(torch.softmax(model(x[i:i + batch_size].to(device)), dim=1).cpu())
    return torch.cat(out).numpy()


def infer(exp_dir, feat_dir, device):
    """``(utts, (N, C) posteriors, classes)`` for every utterance of ``feat_dir``."""
    model, config = load_trained(exp_dir, device)
    stats = cmvn.read(os.path.join(exp_dir, "cmvn.ark"))
    x, _, utts = load_clips(feat_dir, stats, config["input"]["frames"])
    if x.shape[2] != config["input"]["dim"]:
        raise ValueError(f"{feat_dir}: features have {x.shape[2]} dims, the model in {exp_dir} "
                         f"was trained on {config['input']['dim']}; were they made with the same "
                         "feature config?")
    return utts, posteriors(model, x, device), config["classes"]
