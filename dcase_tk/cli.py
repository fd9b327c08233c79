"""What every ``python -m dcase_tk.bin.<tool>`` shares: logging, progress bars, threads,
``--config`` + ``--key value`` overrides, and turning known errors into one clear message."""
import argparse
import ctypes
import logging
import os
import sys

import tqdm

from dcase_tk import config as cfg
from dcase_tk.errors import UserError

log = logging.getLogger("dcase_tk")
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3      # glibc mallopt parameters (malloc.h)


class ToolError(UserError, RuntimeError):
    """An error a user can fix; printed as one message without a traceback."""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Docstrings keep their layout (examples), and every option shows its default."""


def parser(description, prog=None):
    p = argparse.ArgumentParser(prog=prog, description=description, formatter_class=_HelpFormatter)
    p.add_argument("--verbose", type=int, default=1, help="0: warnings only, 1: info, 2: debug")
    return p


def add_config_args(p):
    p.add_argument("--config", help="YAML file with the defaults; --key value (dotted for "
                                    "nested keys) overrides any of them")
    p.add_argument("--print_config", action="store_true", help="print the resolved config and exit")


def parse(p, argv=None, with_config=False):
    """Parse ``argv``; with ``with_config``, returns ``(args, resolved_config)``."""
    if not with_config:
        args = p.parse_args(argv)
        _setup(args)
        return args
    own, overrides = split_overrides(p, argv_list(argv))
    args = p.parse_args(own)
    _setup(args)
    base = cfg.load_yaml(args.config) if args.config else {}
    resolved = cfg.apply_overrides(base, overrides)
    if args.print_config:
        sys.stdout.write(cfg.dump(resolved))
        sys.exit(0)
    return args, resolved


def argv_list(argv=None):
    """The command-line arguments: ``argv`` when given (tests), else ``sys.argv[1:]``."""
    return sys.argv[1:] if argv is None else list(argv)


def split_overrides(p, argv):
    """Separate the tool's own arguments from ``--key value`` config overrides.

    Done before argparse sees them: argparse would take an override's value for a positional.
    """
    known = set(p._option_string_actions)
    own, overrides, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--") and arg.split("=", 1)[0] not in known:
            if "=" in arg:
                overrides += arg.split("=", 1)
                i += 1
                continue
            if i + 1 >= len(argv):
                raise cfg.ConfigError(f"option {arg} needs a value")
            overrides += [arg, argv[i + 1]]
            i += 2
        else:
            own.append(arg)
            i += 1
    return own, overrides


def _setup(args):
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s: %(message)s",
                        stream=sys.stderr)
    args.show_progress = args.verbose > 0 and sys.stderr.isatty()


def progress(args, desc):
    """A tqdm wrapper when on a TTY with --verbose >= 1, else the identity."""
    if not args.show_progress:
        return lambda items: items
    return lambda items: tqdm.tqdm(items, desc=desc, leave=False)


def num_threads():
    """Threads a job may use: the launcher's ``--num-threads`` (DCASE_TK_NUM_THREADS), else 1."""
    return max(1, int(os.environ.get("DCASE_TK_NUM_THREADS", "1")))


def pick_device(name):
    """``auto``: the GPU when there is one, else the CPU."""
    import torch
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        built = "with" if torch.backends.cuda.is_built() else "without"
        raise ToolError(f"--device {name}: no CUDA GPU is visible here (torch {torch.__version__}, "
                        f"built {built} CUDA; CUDA_VISIBLE_DEVICES="
                        f"{os.environ.get('CUDA_VISIBLE_DEVICES', '(unset)')}). Run on a GPU node, "
                        "or train on the CPU with --gpu 0")
    return device


def keep_freed_memory():
    """Ask glibc to keep freed large blocks in the heap instead of unmapping them.

    By default a freed block over 32 MB goes back to the OS and the next allocation of that size
    page-faults fresh zeroed pages in: a CNN batch allocates and frees tens of such activations per
    step, and on CPU that kernel work took half of every training epoch (measured on the Task 1
    baseline: 16.5 s -> 8.8 s for 10 epochs, system time 12.5 s -> 1.1 s). A no-op off glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, 1 << 30)
        mallopt(M_TRIM_THRESHOLD, 1 << 30)


def run(main):
    """Run ``main()``; known user errors become ``<tool>: error: <message>`` and exit 1."""
    keep_freed_memory()
    try:
        main()
    except (UserError, FileNotFoundError) as e:
        tool = os.path.basename(sys.argv[0]).removesuffix(".py")
        print(f"{tool}: error: {e}", file=sys.stderr)
        sys.exit(1)
