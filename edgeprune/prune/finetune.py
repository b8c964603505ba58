"""Recovery after pruning: fine-tuning on the user's data with optional knowledge distillation from the
dense model, a cosine learning-rate schedule, a progress bar, and the best checkpoint on the validation set.

Runs in one process, or under `torchrun --nproc_per_node N` with DistributedDataParallel over gloo (CPU).
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from edgeprune.errors import EdgePruneError


@dataclass
class FinetuneResult:
    best_accuracy: float
    best_epoch: int
    history: list[dict] = field(default_factory=list)


def distributed() -> tuple[int, int]:
    """(rank, world size) under torchrun, else (0, 1); initializes the gloo process group once."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo")
    return dist.get_rank(), dist.get_world_size()


def _sync_from_rank0(model: nn.Module, world: int) -> None:
    """Every replica takes rank 0's parameters and buffers (BatchNorm statistics are not all-reduced)."""
    if world <= 1:
        return
    import torch.distributed as dist

    with torch.no_grad():
        for t in model.state_dict().values():
            dist.broadcast(t, 0)


def evaluate(model: nn.Module, loader) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += int((model(x).argmax(1) == y).sum())
            total += int(y.numel())
    return correct / max(total, 1)


def check_loader_shape(loader, example_input: torch.Tensor, what: str) -> None:
    try:
        x, y = next(iter(loader))
    except StopIteration:
        raise EdgePruneError(f"the {what} data loader yields no batches") from None
    except (TypeError, ValueError):
        raise EdgePruneError(f"the {what} data loader must yield (inputs, labels) pairs") from None
    if tuple(x.shape[1:]) != tuple(example_input.shape[1:]):
        raise EdgePruneError(
            f"the {what} data loader yields inputs of shape {tuple(x.shape)}, the model takes "
            f"(N, {', '.join(str(d) for d in example_input.shape[1:])})"
        )


def _shard(loader, rank: int, world: int):
    if world <= 1:
        return loader, None
    from torch.utils.data import DataLoader
    from torch.utils.data.distributed import DistributedSampler

    sampler = DistributedSampler(loader.dataset, num_replicas=world, rank=rank, shuffle=True, seed=0)
    return DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=sampler,
                      num_workers=0, collate_fn=loader.collate_fn), sampler


def finetune(model: nn.Module, train_loader, val_loader, epochs: int, lr: float = 1e-3,
             teacher: nn.Module | None = None, distill_alpha: float = 0.5, temperature: float = 4.0,
             progress: bool = True, seed: int = 0) -> FinetuneResult:
    """Trains `model` in place and leaves it at its best validation epoch."""
    torch.manual_seed(seed)
    rank, world = distributed()
    train, sampler = _shard(train_loader, rank, world)
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = max(len(train), 1)
    total_steps = max(epochs * steps_per_epoch, 1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s / total_steps, 1))))
    if teacher is not None:
        teacher.eval()
    best = FinetuneResult(best_accuracy=evaluate(model, val_loader), best_epoch=0)
    best_state = copy.deepcopy(model.state_dict())
    bar = None
    if progress and rank == 0:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(TextColumn("fine-tune"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                       TextColumn("{task.fields[status]}"), TimeRemainingColumn(), transient=True)
        task = bar.add_task("ft", total=total_steps, status="")
        bar.start()
    try:
        for epoch in range(1, epochs + 1):
            if sampler is not None:
                sampler.set_epoch(epoch)
            net.train()
            for x, y in train:
                out = net(x)
                loss = F.cross_entropy(out, y)
                if teacher is not None:
                    with torch.no_grad():
                        soft = F.softmax(teacher(x) / temperature, dim=1)
                    kd = F.kl_div(F.log_softmax(out / temperature, dim=1), soft, reduction="batchmean")
                    loss = (1 - distill_alpha) * loss + distill_alpha * kd * temperature**2
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                if bar is not None:
                    bar.update(task, advance=1, status=f"loss {loss.item():.3f}")
            _sync_from_rank0(model, world)  # the same weights and statistics everywhere, so the same choice
            acc = evaluate(model, val_loader)
            best.history.append({"epoch": epoch, "val_accuracy": acc})
            if acc > best.best_accuracy:
                best.best_accuracy, best.best_epoch = acc, epoch
                best_state = copy.deepcopy(model.state_dict())
    finally:
        if bar is not None:
            bar.stop()
    model.load_state_dict(best_state)
    return best
