"""Training on several processes: ``torchrun --nproc_per_node N reelkit train ...`` (torch DistributedDataParallel).

:func:`core.train.train` reads where it stands from the variables torchrun
sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``) and, with more than one process, joins the process group
(``nccl`` on CUDA, each process on GPU ``LOCAL_RANK``; ``gloo`` on the CPU).
What each process does:

- every rank builds the same network from the seed; DDP averages the
  gradients, so the weights stay equal on every rank;
- rank ``r`` draws its own crops for each step (:func:`rank_batch`), so the
  data is sharded by rank and one step sees ``N x batch_size`` crops; rank 0
  draws exactly what a single process draws, so a 1-process run is the
  single-process trainer, bit for bit;
- rank 0 alone writes: the manifest, ``config.json``, checkpoints, loss
  curves, contact sheets and the exported model; every rank resumes from
  the same checkpoint;
- at the end the ranks compare their weights (:func:`weights_difference`),
  recorded in the manifest's ``distributed`` entry.

Without torchrun (no ``WORLD_SIZE``, or 1) nothing here does anything.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from core.errors import ParameterError, ReelkitError

#: The variables torchrun sets for each process.
ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


class DistributedError(ReelkitError, RuntimeError):
    """Another rank of a multi-process training failed (its own message says why)."""


@dataclasses.dataclass(frozen=True)
class Ranks:
    """Where this process stands: ``rank`` of ``world_size`` (``local_rank`` on this host), the backend."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    owns_group: bool = False

    @property
    def main(self) -> bool:
        """Whether this process writes the outputs (rank 0)."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def record(self) -> dict[str, Any]:
        return {"world_size": self.world_size, "backend": self.backend}


def ranks_from_env(environ: os._Environ | dict[str, str] | None = None) -> Ranks:
    """:class:`Ranks` from torchrun's variables (none set: one process); inconsistent values raise
    :class:`~core.errors.ParameterError` naming the variable."""
    env = os.environ if environ is None else environ
    if not env.get("WORLD_SIZE"):
        return Ranks()
    values = {}
    for name in ENV:
        text = env.get(name, "0" if name == "LOCAL_RANK" else "")
        try:
            values[name] = int(text)
        except ValueError:
            raise ParameterError(f"${name}={text!r}: expected an integer (set by torchrun)") from None
    rank, world, local = values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"]
    if world < 1 or not 0 <= rank < world or local < 0:
        raise ParameterError(f"$RANK={rank}, $WORLD_SIZE={world}, $LOCAL_RANK={local}: expected 0 <= RANK < WORLD_SIZE "
                             "(set by torchrun)")
    return Ranks(rank, world, local)


def join(device: str, environ: dict[str, str] | None = None) -> Ranks:
    """This process's :class:`Ranks`, the process group joined when there are several (one already
    initialised by the caller is used as it is). On CUDA, the current GPU becomes ``LOCAL_RANK``."""
    ranks = ranks_from_env(environ)
    if not ranks.active:
        return ranks
    import torch
    import torch.distributed as dist

    if device == "cuda":
        if ranks.local_rank >= torch.cuda.device_count():
            raise ParameterError(f"$LOCAL_RANK={ranks.local_rank}: this host has {torch.cuda.device_count()} GPU(s); "
                                 "use --nproc_per_node <= the GPU count")
        torch.cuda.set_device(ranks.local_rank)
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
    if dist.get_world_size() != ranks.world_size or dist.get_rank() != ranks.rank:
        raise ParameterError(f"the process group (rank {dist.get_rank()} of {dist.get_world_size()}) is not "
                             f"$RANK={ranks.rank} of $WORLD_SIZE={ranks.world_size}")
    return dataclasses.replace(ranks, backend=dist.get_backend(), owns_group=owns)


def leave(ranks: Ranks) -> None:
    """Leave the process group :func:`join` made."""
    if ranks.active and ranks.owns_group:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def all_ok(ranks: Ranks, ok: bool, device: str) -> bool:
    """Whether every rank says ``ok`` (each must call it: a collective)."""
    if not ranks.active:
        return ok
    import torch
    import torch.distributed as dist

    flag = torch.tensor([1 if ok else 0], dtype=torch.int32, device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


def mean_over_ranks(ranks: Ranks, values: list[float], device: str) -> list[float]:
    """The mean of each value over the ranks (``float64``; one process: the values)."""
    if not ranks.active:
        return values
    import torch
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return [float(v) / ranks.world_size for v in t.cpu()]


def rank_seed(seed: int, rank: int) -> int:
    """The torch seed of ``rank`` after the network is built: ``seed`` for rank 0, a SeedSequence of (seed, rank) else."""
    return seed if rank == 0 else int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])


def rank_batch(dataset, step: int, batch_size: int, rank: int):
    """Rank ``rank``'s crops of step ``step``: rank 0's are :meth:`PairDataset.batch`'s (a single process's),
    rank ``r``'s are drawn from the stream ``(seed, step, r)``; a pure function of (seed, step, rank)."""
    if rank == 0:
        return dataset.batch(step, batch_size)
    rng = np.random.default_rng([dataset.seed, int(step), int(rank)])
    return dataset.stack([dataset.sample(rng) for _ in range(batch_size)])


def weights_difference(ranks: Ranks, model, device: str) -> float:
    """The largest absolute difference between this rank's weights and rank 0's, over every rank (0.0: equal)."""
    if not ranks.active:
        return 0.0
    import torch
    import torch.distributed as dist

    mine = torch.cat([p.detach().reshape(-1).to(torch.float64) for p in model.state_dict().values()
                      if p.is_floating_point()])
    first = mine.clone()
    dist.broadcast(first, src=0)
    diff = (mine - first).abs().max().reshape(1)
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    return float(diff.item())
