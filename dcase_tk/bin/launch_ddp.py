"""Run a Python module as this node's share of a data-parallel job (see parallel/rendezvous.py).

  python -m dcase_tk.bin.launch_ddp --nnodes 2 --nproc_per_node 4 -- -m dcase_tk.bin.train_nnet ...

One node and one process: the module runs in this process's place (``exec``). One node and N:
``torchrun --standalone``. Several nodes: ``torchrun`` with a static rendezvous whose node rank,
master address and port come from Slurm's environment (steps/train_nnet.sh starts one copy per
node with ``srun``) unless given here.
"""
import os
import shutil
import sys

from dcase_tk import cli
from dcase_tk.parallel.rendezvous import launch_argv


def torchrun_path():
    """The torchrun of this Python's environment, else the first on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "torchrun")
    return beside if os.access(beside, os.X_OK) else (shutil.which("torchrun") or "torchrun")


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--nnodes", type=int, default=1)
    p.add_argument("--nproc_per_node", type=int, default=1)
    p.add_argument("--node_rank", type=int, help="default: SLURM_NODEID")
    p.add_argument("--master_addr", help="default: the first node of SLURM_JOB_NODELIST")
    p.add_argument("--master_port", type=int, help="default: MASTER_PORT, else from SLURM_JOB_ID")
    p.add_argument("args", nargs="+", help="the python arguments, after --")
    args = cli.parse(p, argv)
    argv_out = launch_argv(sys.executable, torchrun_path(), args.nnodes, args.nproc_per_node,
                           args.args, os.environ, node_rank=args.node_rank,
                           master_addr=args.master_addr, master_port=args.master_port)
    print("launch_ddp: " + " ".join(argv_out), file=sys.stderr, flush=True)
    os.execv(argv_out[0], argv_out)


if __name__ == "__main__":
    cli.run(main)
