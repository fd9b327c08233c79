"""How ``torchrun`` is started for a training job of ``nnodes`` nodes x ``nproc`` processes.

One node: ``torchrun --standalone`` (or plain ``python`` for one process). Several nodes: every
node runs the same command (under Slurm, ``srun`` starts one task per node) and this module
gives each its place in a static rendezvous: node rank, the master node's address and a port.
Static, not c10d, so that process ranks follow node order and a run is reproducible. The values
come from options when given, else from Slurm's environment:

  node rank     SLURM_NODEID
  master        the first host of SLURM_JOB_NODELIST (Slurm's hostlist syntax, e.g. gpu[01-04])
  port          MASTER_PORT, else 20000 + SLURM_JOB_ID mod 10000, so that two jobs sharing a
                first node do not collide
"""
import re

from dcase_tk.cli import ToolError

PORT_BASE, PORT_SPAN = 20000, 10000


def expand_hostlist(hostlist):
    """Slurm's compressed hostlist -> host names: 'gpu[01-03,07],login' -> gpu01 gpu02 gpu03
    gpu07 login (zero padding kept; one bracket group per name, as Slurm writes them)."""
    hosts = []
    for name in re.findall(r"[^,\[]+(?:\[[^\]]*\])?[^,]*", hostlist):
        match = re.fullmatch(r"([^\[]*)\[([^\]]*)\](.*)", name)
        if not match:
            hosts.append(name)
            continue
        prefix, ranges, suffix = match.groups()
        for part in ranges.split(","):
            first, _, last = part.partition("-")
            if not (first.isdigit() and (not last or last.isdigit())):
                raise ToolError(f"cannot read the hostlist '{hostlist}': '{part}' is not N or N-M")
            for i in range(int(first), int(last or first) + 1):
                hosts.append(f"{prefix}{i:0{len(first)}d}{suffix}")
    return hosts


def _from_env(value, env, var, what):
    if value is not None:
        return value
    if var not in env:
        raise ToolError(f"training on several nodes needs the {what}: run it inside a Slurm job "
                        f"(which sets {var}) or give --{what.replace(' ', '_')}")
    return env[var]


def static_rendezvous(nnodes, env, node_rank=None, master_addr=None, master_port=None):
    """``(node_rank, master_addr, master_port)`` of this node, from the options given and else
    from Slurm's environment ``env``; ToolError naming what is missing or inconsistent."""
    if "SLURM_NNODES" in env and int(env["SLURM_NNODES"]) != nnodes:
        raise ToolError(f"--nnodes {nnodes} but this Slurm job has {env['SLURM_NNODES']} nodes "
                        f"({env.get('SLURM_JOB_NODELIST', '?')}): submit it with --num-nodes {nnodes}")
    rank = int(_from_env(node_rank, env, "SLURM_NODEID", "node rank"))
    if not 0 <= rank < nnodes:
        raise ToolError(f"node rank {rank} is outside 0..{nnodes - 1}")
    if master_addr is None:
        master_addr = expand_hostlist(_from_env(None, env, "SLURM_JOB_NODELIST", "master addr"))[0]
    if master_port is None:
        master_port = env.get("MASTER_PORT")
    if master_port is None:
        job = _from_env(None, env, "SLURM_JOB_ID", "master port")
        master_port = PORT_BASE + int(job) % PORT_SPAN
    return rank, master_addr, int(master_port)


def launch_argv(python, torchrun, nnodes, nproc, args, env, **static):
    """The command that runs ``python <args>`` as this node's share of ``nnodes`` x ``nproc``
    data-parallel processes (``static``: node_rank, master_addr, master_port overrides)."""
    if nnodes < 1 or nproc < 1:
        raise ToolError(f"--nnodes and --nproc_per_node must be at least 1, got {nnodes} and {nproc}")
    if nnodes == 1 and nproc == 1:
        return [python, *args]
    if nnodes == 1:
        return [torchrun, "--standalone", "--nnodes", "1", "--nproc_per_node", str(nproc), *args]
    rank, addr, port = static_rendezvous(nnodes, env, **static)
    return [torchrun, "--nnodes", str(nnodes), "--node_rank", str(rank), "--nproc_per_node", str(nproc),
            "--master_addr", addr, "--master_port", str(port), *args]
