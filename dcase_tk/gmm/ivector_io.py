"""What the i-vector tools share: their command line (a config, a UBM, an extractor, a dump
dir, an output), loading the models, and the Baum-Welch statistics of the dump dir's utterances
block by block."""
import torch

from dcase_tk import cli
from dcase_tk.errors import UserError
from dcase_tk.gmm.config import ExtractorConfig, FrontendConfig, section
from dcase_tk.gmm.frames import utterance_blocks
from dcase_tk.gmm.full import load_ubm
from dcase_tk.gmm.extractor import IvectorExtractor
from dcase_tk.gmm.stats import utterance_stats


def parse(doc, output, argv=None):
    """``(args, extractor, stats)`` of a tool run as ``<tool> --config C <ubm> <extractor>
    <feat_dir> <output>``: the loaded extractor, and ``stats()`` yielding the dump dir's
    ``(utts, N, F)`` blocks."""
    p = cli.parser(doc)
    cli.add_config_args(p)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("ubm")
    p.add_argument("extractor")
    p.add_argument("feat_dir")
    p.add_argument(output)
    args, config = cli.parse(p, argv, with_config=True)
    torch.set_num_threads(cli.num_threads())
    ubm, extractor, options, frontend = load_models(args, config)
    return args, extractor, lambda: stats_blocks(ubm, args.feat_dir, options, frontend)


def load_models(args, config):
    """``(ubm, extractor, extractor options, front end options)`` from ``args.ubm``,
    ``args.extractor``, ``args.device`` and the resolved ``config``."""
    device = cli.pick_device(args.device)
    try:
        ubm = load_ubm(args.ubm, device)
        extractor = IvectorExtractor.load(args.extractor, device=device)
    except ValueError as e:
        raise UserError(str(e)) from None
    if extractor.n_components != ubm.n_components or extractor.dim != ubm.dim:
        raise UserError(f"{args.extractor} ({extractor.n_components} x {extractor.dim}) was not trained "
                        f"with the UBM {args.ubm} ({ubm.n_components} x {ubm.dim})")
    return ubm, extractor, section(config, "extractor", ExtractorConfig), section(config, "frontend", FrontendConfig)


def stats_blocks(ubm, feat_dir, options, frontend):
    """Yield ``(utts, N (U, C), F (U, C, D))`` for blocks of about ``options.batch_frames`` frames."""
    for utts, mats in utterance_blocks(feat_dir, options.batch_frames, frontend):
        if mats[0].shape[1] != ubm.dim:
            raise UserError(f"{feat_dir}: features of {mats[0].shape[1]} dims, the UBM has {ubm.dim}")
        N, F = utterance_stats(ubm, mats, options.top_n, options.min_post)
        yield utts, N, F
