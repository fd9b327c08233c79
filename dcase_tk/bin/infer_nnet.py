"""Class posteriors of a trained model for a feature dir.

  python -m dcase_tk.bin.infer_nnet exp/1a/baseline dump/1a/logmel40_48k/test exp/1a/baseline/test

Writes ``score`` (``<utt> <p_1> ... <p_C>`` in classes.txt order), ``decision`` (``<utt> <label>``)
and a copy of ``classes.txt`` into the output dir.
"""
import os

import torch

from dcase_tk import cli
from dcase_tk.decode.infer import infer
from dcase_tk.io.scores import write_scores
from dcase_tk.io.table import write_list, write_table


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("exp_dir")
    p.add_argument("feat_dir")
    p.add_argument("out_dir")
    args = cli.parse(p, argv)
    torch.set_num_threads(cli.num_threads())
    for name in ("config.yaml", "final.pt", "cmvn.ark"):
        if not os.path.isfile(os.path.join(args.exp_dir, name)):
            raise cli.ToolError(f"{args.exp_dir}/{name} not found: train the system first (stage 6)")
    try:
        utts, probs, classes = infer(args.exp_dir, args.feat_dir, cli.pick_device(args.device))
    except ValueError as e:
        raise cli.ToolError(str(e)) from None
    os.makedirs(args.out_dir, exist_ok=True)
    write_list(os.path.join(args.out_dir, "classes.txt"), classes)
    write_scores(os.path.join(args.out_dir, "score"), utts, probs)
    write_table(os.path.join(args.out_dir, "decision"),
                {u: classes[int(i)] for u, i in zip(utts, probs.argmax(axis=1))})


if __name__ == "__main__":
    cli.run(main)
