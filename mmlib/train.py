"""One training loop for every method.

``fit`` trains a method on a split: Adam or AdamW, an optional schedule (cosine, or polynomial with warm-up
as CMPT uses), selection of the epoch to keep (``TrainConfig.selection``: by default the best validation score
under the experiment's missing-modality protocol, with early stopping), per-term loss logging,
a progress bar, seeds, and ``cpu``/``cuda``/``auto`` devices. Training-time modality masking
(``method.train_dropout``) is applied to each batch here, so methods do not repeat it.
"""
from __future__ import annotations

import copy
import os
import random
import time
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm  # plain text bars: tqdm.auto warns in kernels without ipywidgets

__all__ = ["TrainConfig", "SELECTIONS", "fit", "validation_score", "training_step", "resolve_device", "seed_everything", "predict"]


SELECTIONS = ("protocol", "last")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"  # "adam" | "adamw"
    scheduler: str | None = None  # None | "cosine" | "poly"
    warmup_epochs: int = 0
    poly_power: float = 0.9
    patience: int | None = 8  # early stopping on the validation score; None trains every epoch
    # Which epoch's weights are kept. "protocol": the epoch with the best validation score, the mean accuracy over
    # the validation split under each condition of the experiment's protocol (the training protocol when the
    # experiment has one, else every condition its test protocols score: mmlib.experiment builds them); the first
    # such epoch on a tie. "last": the last epoch trained, no early stopping.
    selection: str = "protocol"
    grad_clip: float | None = 1.0
    device: str = "auto"
    seed: int = 0
    progress: bool = True
    # CPU threads while training. One by default: the result of a run then does not depend on the machine's core
    # count (the order of a multi-threaded reduction can change the last bits of a gradient, and training
    # amplifies them), and several runs go side by side instead (mmlib.experiment.run_each)
    threads: int = 1

    def updated(self, **changes) -> "TrainConfig":
        unknown = set(changes) - set(self.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown training options: {', '.join(sorted(unknown))}")
        return replace(self, **changes)

    def __post_init__(self):
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}, got {self.selection!r}")


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no CUDA GPU is available")
    return torch.device(device)


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    # foreach: one update over all the parameters rather than a loop of small ones, the same numbers to the last
    # bit (torch leaves it off on the CPU by default; on these small models the loop was a seventh of a step)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, foreach=True)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, foreach=True)
    raise ValueError(f"optimizer must be 'adam' or 'adamw', got {config.optimizer!r}")


def _lr_factor(config: TrainConfig, step: int, total: int, warmup: int) -> float:
    """Multiplier of the base learning rate at a step. Warm-up runs at 0.1 x lr (CMPT, section 4.2)."""
    if step < warmup:
        return 0.1
    progress = (step - warmup) / max(1, total - warmup)
    if config.scheduler == "cosine":
        return 0.5 * (1 + np.cos(np.pi * progress))
    if config.scheduler == "poly":
        return (1 - progress) ** config.poly_power
    if config.scheduler is None:
        return 1.0
    raise ValueError(f"scheduler must be None, 'cosine' or 'poly', got {config.scheduler!r}")


@torch.inference_mode()
def predict(method, dataset, batch_size: int = 512, device: torch.device | str = "cpu") -> torch.Tensor:
    """Logits of every sample (N x C), in evaluation mode."""
    method.eval()
    outputs = [method(batch.to(device)).logits.cpu() for batch in dataset.batches(batch_size)]
    return torch.cat(outputs)


def training_step(method, batch, optimizer, params, config: TrainConfig, generator: torch.Generator | None = None,
                  inspect=None) -> dict[str, float]:
    """One optimisation step on a batch: training-time modality masking (``method.train_dropout``), forward,
    task loss plus the method's own terms, backward, gradient clipping, update. ``inspect(batch, output)``, when
    given, runs between the forward and the backward (the Shapley benchmark uses it). Returns each loss term."""
    if method.train_dropout is not None:
        kept = method.train_dropout.sample(batch.present.cpu(), generator).to(batch.present.device)
        batch = batch.with_present(kept)
    output = method(batch)
    if inspect is not None:
        inspect(batch, output)
    terms = {"task": F.cross_entropy(output.logits, batch.y), **output.losses}
    optimizer.zero_grad(set_to_none=True)
    sum(terms.values()).backward()
    if config.grad_clip:
        torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
    optimizer.step()
    return {name: float(value.detach()) for name, value in terms.items()}


def fit(method, train, val=None, config: TrainConfig | None = None, on_step=None, on_epoch=None,
        select_on=None) -> list[dict]:
    """Train ``method`` on the ``train`` split; returns the history, one dict per epoch: ``epoch``, the mean of
    each loss term (``loss_<term>``), ``elapsed_s`` (wall seconds since the call, :meth:`prepare` included: the
    validation passes count, the epoch selection's copies too), ``val_score`` and ``kept`` (True on the epoch whose weights the method ends
    with).

    ``val`` is the validation split (what :meth:`prepare` sees, for a method's pre-training) and ``select_on`` the
    datasets the epoch is chosen on, by default ``[val]``: :mod:`mmlib.experiment` gives the validation split under
    each condition of the experiment's protocol (:func:`mmlib.experiment.validation_sets`). ``val_score`` is the
    mean accuracy over them, each weighing the same. With ``config.selection == "protocol"`` (the default) the epoch with the best
    ``val_score`` is kept (the first one on a tie) and training stops after ``config.patience`` epochs without a
    better one; with ``"last"``, or without ``val``, the last epoch is kept.

    With ``MMLIB_NO_TRAINING=1`` in the environment it raises RuntimeError instead of training: how a rebuild with
    everything cached is checked never to train.

    ``on_step(epoch, step, terms)`` sees each step's loss terms and ``on_epoch(epoch, method)`` the model after
    each epoch (in train mode; switch it to eval and back if needed), for curves the history does not keep."""
    config = config or method.recipe
    if os.environ.get("MMLIB_NO_TRAINING") == "1":
        raise RuntimeError(f"MMLIB_NO_TRAINING=1 but {method.name} would be trained: a rebuild with everything cached "
                           "must not train (keep the model with mmlib.experiment.trained or the value with "
                           "mmlib.trained.compute_once)")
    previous = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        return _fit(method, train, val, _as_list(val if select_on is None else select_on), config, on_step, on_epoch)
    finally:
        torch.set_num_threads(previous)


def _as_list(val) -> list:
    if val is None:
        return []
    sets = [val] if hasattr(val, "spec") else list(val)
    return [dataset for dataset in sets if len(dataset)]


def validation_score(method, sets, device: torch.device | str = "cpu") -> float:
    """Mean accuracy of ``method`` over the datasets ``sets`` (each weighing the same)."""
    return float(np.mean([float((predict(method, dataset, device=device).argmax(1) == dataset.y.to(device))
                                .float().mean()) for dataset in sets]))


def _fit(method, train, val, sets: list, config: TrainConfig, on_step, on_epoch) -> list[dict]:
    started = time.perf_counter()
    device = resolve_device(config.device)
    generator = seed_everything(config.seed)
    method.to(device)
    method.prepare(train, val, config)
    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = _optimizer(params, config)
    steps_per_epoch = max(1, -(-len(train) // config.batch_size))
    total, warmup = config.epochs * steps_per_epoch, config.warmup_epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _lr_factor(config, step, total, warmup))
    select = bool(sets) and config.selection == "protocol"
    history, best, best_state, best_epoch, waited = [], -1.0, None, None, 0
    quiet = not config.progress or os.environ.get("MMLIB_QUIET") == "1"
    for epoch in tqdm(range(config.epochs), desc=f"{method.name} seed {config.seed}", disable=quiet, leave=False):
        method.train()
        sums: dict[str, float] = {}
        count = 0
        for batch in train.batches(config.batch_size, shuffle=True, generator=generator):
            terms = training_step(method, batch.to(device), optimizer, params, config, generator)
            schedule.step()
            if on_step is not None:
                on_step(epoch, count, terms)
            count += 1
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + value
        record = {"epoch": epoch, **{f"loss_{k}": v / count for k, v in sums.items()}}
        record["elapsed_s"] = time.perf_counter() - started  # wall seconds since fit began, prepare included
        if sets:
            record["val_score"] = validation_score(method, sets, device)
            if not select:
                pass
            elif record["val_score"] > best:
                best, best_state, best_epoch, waited = record["val_score"], copy.deepcopy(method.state_dict()), epoch, 0
            else:
                waited += 1
        history.append(record)
        if on_epoch is not None:
            on_epoch(epoch, method)
        if select and config.patience is not None and waited > config.patience:
            break
    if best_state is not None:
        method.load_state_dict(best_state)
    kept = best_epoch if best_state is not None else len(history) - 1
    for record in history:
        record["kept"] = record["epoch"] == kept
    method.eval()
    return history
