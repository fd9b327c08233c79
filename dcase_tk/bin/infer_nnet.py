"""Class posteriors of a trained model for a feature dir.

  python -m dcase_tk.bin.infer_nnet exp/1a/baseline dump/1a/logmel40_48k/test exp/1a/baseline/test

Writes ``score`` (``<utt> <p_1> ... <p_C>`` in classes.txt order), ``decision`` (``<utt> <label>``,
the most probable class) and a copy of ``classes.txt`` into the output dir. How clips are cut
and their window posteriors combined is the system's ``decode`` section (see
dcase_tk/decode/infer.py). With ``decode.frame_posteriors: true`` (models with frame-level
outputs, for event detection) it also writes ``posteriors.ark``/``posteriors.scp`` (frames x
classes per clip, at the feature frame rate) and ``frame_shift``.

Options ``--decode.<key> <value>`` override the trained system's ``decode`` section for this
run, e.g. ``--decode.mode crops --decode.crops 25`` (the self-verification scoring of Task 2).

With ``--embeddings`` it writes instead the embedding of every clip (``model.embed``, e.g.
x-vectors; the vectors of a clip's windows averaged) to ``xvector.ark``/``xvector.scp``, as
Kaldi's, for the back end of an embedding system.
"""
import os
import shutil

import torch

from dcase_tk import cli
from dcase_tk.decode.infer import scorer_for
from dcase_tk.io.ark import ark_scp_writer
from dcase_tk.io.scores import write_decode_dir


def write_frame_posteriors(scorer, dataset, out_dir, progress):
    with ark_scp_writer(os.path.join(out_dir, "posteriors.ark")) as writer:
        for index in progress(range(len(dataset))):
            writer(dataset.utts[index], scorer.frame_posteriors(dataset.matrix(index)))
    shift = os.path.join(dataset.feat_dir, "frame_shift")
    if os.path.isfile(shift):
        shutil.copyfile(shift, os.path.join(out_dir, "frame_shift"))


def write_embeddings(scorer, dataset, out_dir, progress):
    with ark_scp_writer(os.path.join(out_dir, "xvector.ark")) as writer:
        for index in progress(range(len(dataset))):
            writer(dataset.utts[index], scorer.embedding(dataset.matrix(index)))


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--embeddings", action="store_true", help="write xvector.{ark,scp} instead of scores")
    p.add_argument("exp_dir")
    p.add_argument("feat_dir")
    p.add_argument("out_dir")
    own, overrides = cli.split_overrides(p, cli.argv_list(argv))
    args = cli.parse(p, own)
    bad = [name for name in overrides[::2] if not name.startswith("--decode.")]
    if bad:
        raise cli.ToolError(f"unknown option(s) {' '.join(bad)}: only --decode.<key> <value> "
                            "overrides are accepted")
    torch.set_num_threads(cli.num_threads())
    for name in ("config.yaml", "final.pt", "cmvn.ark"):
        if not os.path.isfile(os.path.join(args.exp_dir, name)):
            raise cli.ToolError(f"{args.exp_dir}/{name} not found: train the system first (stage 6)")
    try:
        scorer, dataset, config = scorer_for(args.exp_dir, args.feat_dir, cli.pick_device(args.device),
                                             overrides)
    except ValueError as e:
        raise cli.ToolError(str(e)) from None
    os.makedirs(args.out_dir, exist_ok=True)
    if args.embeddings:
        if not hasattr(scorer.model, "embed"):
            raise cli.ToolError(f"model '{config['model']['name']}' of {args.exp_dir} has no "
                                "embedding layer (embed); only embedding systems (e.g. xvector) have one")
        write_embeddings(scorer, dataset, args.out_dir, cli.progress(args, "clips"))
        return
    if scorer.decode.frame_posteriors and not hasattr(scorer.model, "frame_outputs"):
        raise cli.ToolError(f"decode.frame_posteriors is set but model "
                            f"'{config['model']['name']}' has no frame-level outputs")
    probs = scorer.score(dataset, range(len(dataset)), cli.progress(args, "clips"))
    write_decode_dir(args.out_dir, dataset.utts, probs, config["classes"])
    if scorer.decode.frame_posteriors:
        write_frame_posteriors(scorer, dataset, args.out_dir, cli.progress(args, "frames"))


if __name__ == "__main__":
    cli.run(main)
