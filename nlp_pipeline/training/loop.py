"""What the classifier and tagger training loops share: their config, result, optimizer and early stopping.

Both loops are deliberately plain (one function each, no callbacks framework): each epoch shuffles
length-bucketed batches, takes Adam steps with the gradient norm clipped (recurrent nets can have
exploding gradients), then scores the dev split. The weights of the best dev epoch are kept in memory
(`BestEpoch`) and restored at the end, so the returned model is the one the reported dev accuracy
belongs to.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from nlp_pipeline.device import resolve_device, resolve_threads
from nlp_pipeline.errors import ConfigError, DataError
from nlp_pipeline.models.batching import bucketed_batches
from nlp_pipeline.reports.tables import percent
from nlp_pipeline.settings import ClassifierTraining, EngineConfig, Runtime
from nlp_pipeline.training.checkpoint import (
    Checkpoint,
    Checkpoints,
    Generators,
    load_optimizer_state,
    optimizer_state,
    prefixed,
    rng_state,
    set_rng_state,
)
from nlp_pipeline.training.distributed import Replicas
from nlp_pipeline.training.monitor import Monitor, record_every
from nlp_pipeline.training.optimizers import make_optimizer

if TYPE_CHECKING:
    from nlp_pipeline.reports.tensorboard import LiveEvents


class TrainConfig(ClassifierTraining, EngineConfig):
    """How a classifier or tagger is trained: the declared Training settings (`nlp_pipeline.settings`,
    where every default lives) and where it runs. Not part of the saved model: loading never needs it."""

    section: ClassVar[str] = "train"
    device: str = Runtime.model_fields["device"]  # auto | cpu | cuda | cuda:N | mps
    num_threads: int = Runtime.model_fields["threads"]  # torch CPU threads; 0 = all cores this process may use

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a dict (a pipeline config section); an unknown key is an error listing the valid ones."""
        unknown = sorted(set(data) - set(cls.model_fields))
        if unknown:
            raise ConfigError(f"train: unknown key(s) {', '.join(unknown)}; valid: {', '.join(cls.model_fields)}")
        return cls(**data)


@dataclass
class TrainResult:
    """What happened during training; ``history`` has one dict per epoch run."""

    history: list[dict[str, float]] = field(default_factory=list)
    # per epoch: epoch, train_loss, dev_loss, dev_accuracy, dev_macro_f1, seconds (whole epoch, with
    # dev scoring), tokens_per_second (training tokens / time spent in training steps)
    best_epoch: int = 0  # 1-based epoch whose weights the model holds after training
    best_dev_accuracy: float = 0.0
    train_seconds: float = 0.0  # wall time of the whole loop
    tokens_per_second: float = 0.0  # all training tokens / time spent in training steps
    trace: dict[str, Any] = field(default_factory=dict)  # `Monitor.trace`: loss, lr, gradient norms every few steps
    gradient_flow: dict[str, Any] | None = None  # on the trained model (`nlp_pipeline.training.gradient_flow`)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class BestEpoch:
    """Early stopping on dev accuracy, shared by the classifier and tagger loops.

    Each epoch's history row goes through `end_epoch`, which records and logs it, keeps a copy of the
    weights when dev accuracy improved, and says when ``config.patience`` epochs have passed without
    a gain; `restore` puts the best weights back, so the model returned is the one the reported dev
    accuracy belongs to.
    """

    def __init__(self, model: nn.Module, result: TrainResult, config: TrainConfig, log: Callable[[str], None]) -> None:
        self.model, self.result, self.config, self.log = model, result, config, log
        self.state: dict[str, torch.Tensor] | None = None
        self.epochs_without_gain = 0

    def end_epoch(self, row: dict[str, float]) -> tuple[bool, bool]:
        """Record ``row`` (epoch, train_loss, dev_loss, dev_accuracy, …); returns ``(improved, stop)``."""
        result, epoch = self.result, row["epoch"]
        result.history.append(row)
        improved = self.state is None or row["dev_accuracy"] > result.best_dev_accuracy
        self.log(f"epoch {epoch}/{self.config.epochs}: train_loss {row['train_loss']:.4f}  "
                 f"dev_loss {row['dev_loss']:.4f}  dev_acc {percent(row['dev_accuracy'])}%  "
                 f"dev_macro_f1 {percent(row['dev_macro_f1'])}%  ({row['seconds']:.1f}s, "
                 f"{row['tokens_per_second']:.0f} tok/s){'  *best*' if improved else ''}")
        if not math.isfinite(row["train_loss"]):
            self.log(f"epoch {epoch}: training loss is not finite; try a lower train.lr or train.clip_norm")
        if improved:
            result.best_epoch, result.best_dev_accuracy = epoch, row["dev_accuracy"]
            self.state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            self.epochs_without_gain = 0
            return True, False
        self.epochs_without_gain += 1
        if self.config.patience > 0 and self.epochs_without_gain >= self.config.patience:
            self.log(f"early stopping: no dev accuracy gain for {self.config.patience} epoch(s); "
                     f"restoring epoch {result.best_epoch} (dev_acc {percent(result.best_dev_accuracy)}%)")
            return False, True
        return False, False

    def restore(self) -> None:
        """Load the best epoch's weights and switch to eval mode."""
        assert self.state is not None  # at least one epoch ran
        self.model.load_state_dict(self.state)
        self.model.eval()


def layer_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    """The model's parameters in groups from the top down: everything above the recurrent encoder
    (the output layer, a CRF, a tagger's character model: all new), then each encoder layer (both of
    its directions) from the last to the first, then the word embedding. A model without a
    `RecurrentEncoder` named ``encoder`` is one group. Discriminative learning rates and gradual
    unfreezing (ULMFiT) work on these groups."""
    from nlp_pipeline.models.encoder import RecurrentEncoder

    encoder = getattr(model, "encoder", None)
    if not isinstance(encoder, RecurrentEncoder):
        return [list(model.parameters())]
    layers = []
    for i, forward in enumerate(encoder.forward_layers):
        backward = encoder.backward_layers[i] if encoder.backward_layers else None
        layers.append([*forward.parameters(), *(backward.parameters() if backward is not None else ())])
    embedding = getattr(model, "embedding", None)
    bottom = list(embedding.parameters()) if embedding is not None else []
    placed = {id(p) for group in (*layers, bottom) for p in group}
    top = [p for p in model.parameters() if id(p) not in placed]
    return [top, *reversed(layers), bottom]


def build_optimizer(
    model: nn.Module, config: TrainConfig, device: torch.device
) -> tuple[torch.optim.Optimizer, list[nn.Parameter]]:
    """``config.optimizer`` over the trainable parameters; ``model.embedding`` learns at ``lr × embedding_lr_scale``.

    With ``lr_layer_decay`` above 1, each `layer_groups` group learns at ``lr / decay^depth`` (depth
    0 at the top; the embedding also × ``embedding_lr_scale``). Returns the optimizer and the
    parameters it updates (what gradient clipping must see). Shared by the classifier and the tagger
    loops, so both treat fine-tuned embeddings the same way.
    """
    embedding = getattr(model, "embedding", None)
    embedding_params = [p for p in embedding.parameters() if p.requires_grad] if embedding is not None else []
    embedding_ids = {id(p) for p in embedding_params}
    if config.lr_layer_decay != 1.0:
        groups = []
        for depth, group in enumerate(layer_groups(model)):
            lr = config.lr / config.lr_layer_decay ** depth
            trainable = [p for p in group if p.requires_grad]
            if trainable and any(id(p) in embedding_ids for p in trainable):
                if config.embedding_lr_scale == 0:
                    for p in trainable:
                        p.requires_grad_(False)
                    continue
                lr *= config.embedding_lr_scale
            if trainable:
                groups.append({"params": trainable, "lr": lr})
    else:
        rest = [p for p in model.parameters() if p.requires_grad and id(p) not in embedding_ids]
        groups = [{"params": rest}]
        if embedding_params and config.embedding_lr_scale > 0:
            groups.append({"params": embedding_params, "lr": config.lr * config.embedding_lr_scale})
        elif embedding_params:  # scale 0: fine-tuning switched off without changing the model's mode
            for p in embedding_params:
                p.requires_grad_(False)
    params = [p for g in groups for p in g["params"]]
    optimizer = make_optimizer(config.optimizer, groups, config.lr, config.weight_decay, device)
    return optimizer, params


class GradualUnfreezing:
    """ULMFiT's gradual unfreezing: epoch 1 trains the top `layer_groups` group only (the new layers),
    each later epoch one more group down, until the embedding trains too. A parameter that was not
    trainable to begin with (frozen embeddings) never is. With ``unfreeze: all`` it does nothing."""

    def __init__(self, model: nn.Module, config: TrainConfig, log: Callable[[str], None]) -> None:
        self.groups = layer_groups(model) if config.unfreeze == "gradual" else []
        self.trainable = {id(p) for p in model.parameters() if p.requires_grad}
        self.log = log

    def start_epoch(self, epoch: int) -> None:
        if not self.groups:
            return
        for depth, group in enumerate(self.groups):
            for p in group:
                p.requires_grad_(depth < epoch and id(p) in self.trainable)
        if epoch <= len(self.groups):
            self.log(f"epoch {epoch}: training the top {min(epoch, len(self.groups))} of {len(self.groups)} "
                     "layer groups (gradual unfreezing)")

    def finish(self) -> None:
        """Every parameter trainable again as it was before training (the saved model's own settings)."""
        for group in self.groups:
            for p in group:
                p.requires_grad_(id(p) in self.trainable)


def check_split(name: str, ids: Sequence[list[int]], y: Sequence[int]) -> None:
    if len(ids) != len(y):
        raise ValueError(f"{name}: {len(ids)} documents but {len(y)} labels")
    if len(ids) == 0:
        raise DataError(f"the {name} split is empty; training needs examples in train and dev")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def epoch_bar(batches, epoch: int, config: TrainConfig, progress: bool):
    """The batches of one epoch behind a tqdm bar: on a terminal only (``disable=None``), never with
    ``progress`` off; on a file or pipe the epoch's log line is the record."""
    from tqdm.auto import tqdm

    return tqdm(batches, desc=f"epoch {epoch}/{config.epochs}", unit="batch", disable=None if progress else True,
                leave=False)


@contextlib.contextmanager
def training_run(config: TrainConfig) -> Iterator[torch.device]:
    """Seed every generator, resolve the device and run with ``config.num_threads`` torch threads (restored after)."""
    seed_everything(config.seed)
    device = resolve_device(config.device)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(resolve_threads(config.num_threads))
    try:
        yield device
    finally:
        torch.set_num_threads(previous_threads)


def fit_epochs(model: nn.Module, config: TrainConfig, device: torch.device, progress: bool,
               log: Callable[[str], None], lengths: np.ndarray, epoch_tokens: int, loss_units: int,
               train_step: Callable[[np.ndarray], tuple[torch.Tensor, int]],
               evaluate: Callable[[], dict[str, float]], lr_decay: float | None = None,
               checkpoints: Checkpoints | None = None, generators: Generators | None = None,
               events: LiveEvents | None = None) -> TrainResult:
    """The epochs both loops run; the model ends holding the best dev epoch's weights, in eval mode.

    ``train_step(batch indices)`` returns the batch's mean loss and how many units (documents, tokens)
    it averages over; the epoch's train_loss is their weighted sum over ``loss_units``. ``evaluate()``
    scores the dev split (dev_loss, dev_accuracy, dev_macro_f1). With ``lr_decay`` (the tagger's), each
    row also holds the epoch's lr, and every learning rate is multiplied by it after an epoch that
    does not improve dev accuracy.

    With ``checkpoints``, the loop resumes from the last one and saves one at every epoch's end and
    whenever one is due, after a batch (`nlp_pipeline.training.checkpoint`); ``generators`` are the
    random generators ``train_step`` draws from besides torch's global one (the tagger's word dropout),
    saved and restored with it. With ``events``, the trace is written to TensorBoard as it is recorded
    (`nlp_pipeline.training.monitor.Monitor`).
    """
    model.to(device)
    replicas = Replicas(model, train_step, device)  # alone, or this process's slice of each batch (DDP)
    optimizer, params = build_optimizer(model, config, device)
    unfreezing = GradualUnfreezing(model, config, log)  # after the optimizer: it holds every trainable group
    # Loss, learning rate and gradient norms every few steps (the trace); it clips the gradient too.
    planned_steps = config.epochs * math.ceil(len(lengths) / config.batch_size)  # an epoch: ceil(n / batch size)
    monitor = Monitor(model, config.clip_norm, record_every(planned_steps), live=events)
    rng = np.random.default_rng(config.seed)
    generators = {"order": rng, **(generators or {})}
    result = TrainResult()
    best = BestEpoch(model, result, config, log)
    run = _FitProgress(first_epoch=1)
    resumed = checkpoints.load() if checkpoints is not None else None
    if resumed is not None:
        try:
            run = _resume_fit(resumed, model, optimizer, best, generators, device)
            monitor.restore(resumed.state["monitor"])
        except (KeyError, RuntimeError, ValueError, TypeError, IndexError) as err:
            raise checkpoints.restore_failed(err) from err
    loop_start = time.perf_counter() - run.elapsed
    total_step_seconds = run.total_step_seconds
    for epoch in range(run.first_epoch, config.epochs + 1):
        resuming = epoch == run.first_epoch and run.batch > 0
        epoch_start = time.perf_counter() - (run.epoch_seconds if resuming else 0.0)
        unfreezing.start_epoch(epoch)
        model.train()
        order_state = rng.bit_generator.state  # the epoch's order is drawn again from it on resuming
        batches = bucketed_batches(lengths, config.batch_size, shuffle=True, rng=rng)
        done = run.batch if resuming else 0
        bar = epoch_bar(batches[done:], epoch, config, progress)
        # Sum losses on the device and read them back rarely: .item() every step would stall a GPU.
        loss_sum = run.loss_sum.to(device) if resuming and run.loss_sum is not None else torch.zeros((), device=device)
        for step, batch in enumerate(bar, start=done + 1):
            loss, units = replicas.batch(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            monitor.clip(params)  # clipped to config.clip_norm
            optimizer.step()
            monitor.step(loss, units, int(lengths[batch].sum()), optimizer.param_groups[0]["lr"], epoch)
            loss_sum += loss.detach() * units
            if progress and step % 20 == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}")
            if checkpoints is not None and step < len(batches) and checkpoints.due():
                saving = time.perf_counter()
                _save_fit(checkpoints, model, optimizer, best, generators, {
                    "epoch": epoch, "batch": step, "batches": len(batches), "order": order_state,
                    "epoch_seconds": saving - epoch_start, "total_step_seconds": total_step_seconds,
                    "elapsed": saving - loop_start, "monitor": monitor.state()}, loss_sum)
                epoch_start += time.perf_counter() - saving  # saving is not training time
        bar.close()
        if device.type == "cuda":
            torch.cuda.synchronize(device)  # GPU work is asynchronous: wait for it before timing
        step_seconds = time.perf_counter() - epoch_start
        row = {"epoch": epoch, "train_loss": float(replicas.total(loss_sum)) / loss_units,
               **replicas.from_main(evaluate)}
        if lr_decay is not None:
            row["lr"] = optimizer.param_groups[0]["lr"]
        row["seconds"] = time.perf_counter() - epoch_start
        row["tokens_per_second"] = epoch_tokens / step_seconds if step_seconds > 0 else 0.0
        total_step_seconds += step_seconds
        monitor.evaluated(row)
        improved, stop = best.end_epoch(row)
        if stop:
            break
        if not improved and lr_decay is not None and lr_decay != 1.0:
            for group in optimizer.param_groups:
                group["lr"] *= lr_decay
        if checkpoints is not None and epoch < config.epochs:
            _save_fit(checkpoints, model, optimizer, best, generators, {
                "epoch": epoch + 1, "batch": 0, "batches": len(batches), "order": rng.bit_generator.state,
                "epoch_seconds": 0.0, "total_step_seconds": total_step_seconds,
                "elapsed": time.perf_counter() - loop_start, "monitor": monitor.state()}, None)
    result.trace = monitor.trace(optimizer.param_groups[0]["lr"], len(result.history))
    unfreezing.finish()
    best.restore()
    result.train_seconds = time.perf_counter() - loop_start
    result.tokens_per_second = epoch_tokens * len(result.history) / total_step_seconds if total_step_seconds else 0.0
    return result


@dataclass
class _FitProgress:
    """Where `fit_epochs` starts: epoch 1, or where a checkpoint stands."""

    first_epoch: int
    batch: int = 0  # batches of ``first_epoch`` already trained
    loss_sum: torch.Tensor | None = None  # their summed loss
    epoch_seconds: float = 0.0  # time spent on them
    total_step_seconds: float = 0.0  # time spent in training steps in the epochs before
    elapsed: float = 0.0  # wall time of the loop so far


def _save_fit(checkpoints: Checkpoints, model: nn.Module, optimizer: torch.optim.Optimizer, best: BestEpoch,
              generators: Generators, where: dict[str, Any], loss_sum: torch.Tensor | None) -> None:
    """A `fit_epochs` checkpoint: ``where`` (epoch, batch, batches, the order generator's state at the
    epoch's start, timings) with everything the rest of the run reads."""
    opt_tensors, opt_values = optimizer_state(optimizer)
    rng_tensors, rng_values = rng_state(generators)
    tensors = {**prefixed("model.", model.state_dict()), **opt_tensors, **rng_tensors,
               **prefixed("best.", best.state or {}), **({"loss_sum": loss_sum} if loss_sum is not None else {})}
    result = best.result
    state = {**where, "optimizer": opt_values, "rng": rng_values, "history": result.history,
             "best_epoch": result.best_epoch, "best_dev_accuracy": result.best_dev_accuracy,
             "has_best": best.state is not None, "epochs_without_gain": best.epochs_without_gain}
    checkpoints.save(tensors, state, {"epoch": where["epoch"], "batch": where["batch"], "batches": where["batches"]})


def _resume_fit(checkpoint: Checkpoint, model: nn.Module, optimizer: torch.optim.Optimizer, best: BestEpoch,
                generators: Generators, device: torch.device) -> _FitProgress:
    """Put back everything `_save_fit` saved; the order generator stands where the epoch's order was drawn."""
    state = checkpoint.state
    model.load_state_dict(checkpoint.take("model."))
    load_optimizer_state(optimizer, checkpoint, state["optimizer"])
    best.state = {k: v.to(device) for k, v in checkpoint.take("best.").items()} if state["has_best"] else None
    best.epochs_without_gain = int(state["epochs_without_gain"])
    result = best.result
    result.history = list(state["history"])
    result.best_epoch, result.best_dev_accuracy = int(state["best_epoch"]), float(state["best_dev_accuracy"])
    set_rng_state(checkpoint, state["rng"], generators)
    order = generators["order"]
    assert isinstance(order, np.random.Generator)
    order.bit_generator.state = state["order"]
    return _FitProgress(first_epoch=int(state["epoch"]), batch=int(state["batch"]),
                        loss_sum=checkpoint.tensors.get("loss_sum"), epoch_seconds=float(state["epoch_seconds"]),
                        total_step_seconds=float(state["total_step_seconds"]), elapsed=float(state["elapsed"]))
