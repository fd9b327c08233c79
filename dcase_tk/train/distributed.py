"""Distributed data parallel set-up for runs launched by ``torchrun`` (one process per GPU, or
several CPU processes with the gloo backend). Without ``torchrun`` everything here degrades to a
single process, so the trainer has one code path."""
import dataclasses
import logging
import os

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Context:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self):
        return self.rank == 0

    @property
    def distributed(self):
        return self.world > 1


def setup(device):
    """Join the process group when started by ``torchrun`` (``WORLD_SIZE`` > 1): nccl on GPUs
    (process ``LOCAL_RANK`` takes GPU ``LOCAL_RANK``), gloo on CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Context(device=device)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    ctx = Context(rank=dist.get_rank(), world=dist.get_world_size(), device=device)
    log.info("process %d of %d on %s (%s)", ctx.rank, ctx.world, device, dist.get_backend())
    return ctx


def wrap(model, ctx, sync_batchnorm=False, find_unused_parameters=False):
    """``model`` as DistributedDataParallel when distributed (BatchNorm synchronised across
    processes on GPUs when asked; gloo has no SyncBatchNorm). ``find_unused_parameters``: some
    weights may take no part in a step's loss (frame objectives skip an attention head's
    attention branch), which DDP must then look for."""
    if not ctx.distributed:
        return model
    if sync_batchnorm and ctx.device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids,
                                                     find_unused_parameters=find_unused_parameters)


def gather(obj, ctx):
    """The list of every process's ``obj`` (just ``[obj]`` when not distributed)."""
    if not ctx.distributed:
        return [obj]
    out = [None] * ctx.world
    dist.all_gather_object(out, obj)
    return out


def barrier(ctx):
    if ctx.distributed:
        dist.barrier()


def teardown(ctx):
    if ctx.distributed:
        dist.destroy_process_group()
