"""What ``process`` does to each batch of texts: a small registry of tasks.

A task is split in two halves because they run in different places. `Task.prepare` runs once in the
calling process: it checks the options and resolves the model reference (a folder, an artifact key
prefix or ``latest``) to a folder and a content fingerprint, so that a bad option or a missing model
is one ``error:`` line before any worker starts, and so that a different model redoes finished
shards. `Task.load` and `Task.process` run in each worker: load the model once, then turn a list of
texts into one JSON-serialisable dict per text, in order.

Adding a task is a subclass with ``name``, ``load`` and ``process``, decorated with `register_task`:

>>> @register_task
... class Upper(Task):
...     name = "upper-demo"
...     def load(self, model_dir, device):
...         pass
...     def process(self, texts):
...         return [{"text": t.upper()} for t in texts]
>>> TASKS["upper-demo"](TaskSpec("upper-demo")).process(["a film"])
[{'text': 'A FILM'}]
>>> del TASKS["upper-demo"]
"""

from __future__ import annotations

import inspect
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from nlp_pipeline.errors import ConfigError
from nlp_pipeline.settings import Runtime, default_of

PROBABILITY_DIGITS = 6  # probabilities are rounded in the output: float32 carries no more


class ModelSupportError(ConfigError):
    """The task needs code that this version of the project does not have yet."""


@dataclass(frozen=True)
class TaskSpec:
    """Everything a worker needs to build a task: picklable, hashable, and small enough to ship to Dask."""

    name: str
    model_dir: str | None = None
    model_fingerprint: str | None = None  # sha256 over the model folder's files
    device: str = default_of(Runtime, "device")  # resolved in each worker: auto is CUDA where that worker has it
    threads: int | None = 1  # torch threads per worker (None: torch's default, all cores)
    options: tuple[tuple[str, Any], ...] = ()  # task options, e.g. (("lowercase", False),)

    def option(self, key: str, default: Any = None) -> Any:
        return dict(self.options).get(key, default)

    def identity(self) -> dict:
        """What decides the output: part of every shard's fingerprint (not the device or thread count)."""
        return {"task": self.name, "version": TASKS[self.name].version, "model": self.model_fingerprint,
                "options": dict(self.options)}


class Task(ABC):
    """One kind of processing. Subclasses set ``name`` (and ``needs_model``) and implement load/process."""

    name: ClassVar[str]
    version: ClassVar[int] = 1  # bump when the output of the same input changes: finished shards are redone
    needs_model: ClassVar[bool] = False
    option_names: ClassVar[tuple[str, ...]] = ()  # the task options it accepts

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec
        self.torch_threads_before: int | None = None  # what `set_torch_threads` replaced, for in-process runs

    def set_torch_threads(self) -> None:
        """Apply ``spec.threads`` (for tasks that use torch): one thread per worker keeps N workers on N
        cores; torch's own thread pool on a shared machine can be several times slower than one thread."""
        if self.spec.threads:
            import torch

            self.torch_threads_before = torch.get_num_threads()
            torch.set_num_threads(self.spec.threads)

    @classmethod
    def prepare(cls, model: str | None = None, *, cache_dir: str | Path | None = None, device: str = "auto",
                threads: int | None = 1, **options: Any) -> TaskSpec:
        """Check options and resolve the model in the calling process (errors are `ConfigError`s)."""
        given = {k: v for k, v in options.items() if v is not None}
        unknown = sorted(set(given) - set(cls.option_names))
        if unknown:
            valid = ", ".join(cls.option_names) or "none"
            raise ConfigError(f"task {cls.name!r} takes no option {', '.join(unknown)} (its options: {valid})")
        from nlp_pipeline.device import resolve_device

        resolve_device(device)  # an unknown or absent device: one error here, not one per shard in workers
        model_dir = fingerprint = None
        if cls.needs_model:
            if not model:
                raise ConfigError(f"task {cls.name!r} needs a model (--model: a model folder, key prefix or 'latest')")
            from nlp_pipeline.engine import ArtifactCache
            from nlp_pipeline.engine.fingerprint import fingerprint_path

            path = cls.resolve_model(model, cache_dir)
            cls.check_model(path)  # a folder that is no model of this kind: one error now, not one per worker
            model_dir = str(path.resolve())
            fingerprint = fingerprint_path(path, ArtifactCache(cache_dir).fingerprint_memo)
        elif model:
            raise ConfigError(f"task {cls.name!r} takes no model")
        return TaskSpec(cls.name, model_dir, fingerprint, device, threads, tuple(sorted(given.items())))

    @classmethod
    def resolve_model(cls, ref: str, cache_dir: str | Path | None) -> Path:
        """Model reference → folder; the default looks among classifier (``train``) artifacts."""
        from nlp_pipeline.pipelines.artifacts import resolve_model

        return resolve_model(ref, cache_dir)

    model_format: str | None = None  # the ``format`` its model's config.json must declare (None: not checked)

    @classmethod
    def check_model(cls, path: Path) -> None:
        """Cheap check, in the calling process, that ``path`` holds a model this task can load."""
        if cls.model_format is None:
            return
        from nlp_pipeline.errors import read_json

        found = read_json(path / "config.json", "model config")
        declared = found.get("format") if isinstance(found, dict) else None
        if declared != cls.model_format:
            raise ConfigError(f"{path}: not a {cls.name} model (config.json format {declared!r}, expected "
                              f"{cls.model_format!r})")

    @abstractmethod
    def load(self, model_dir: Path | None, device: str) -> None:
        """Load what ``process`` needs; called once per worker process."""

    @abstractmethod
    def process(self, texts: list[str]) -> list[dict]:
        """One output dict per text, in order. A ``tokens`` list (or an ``n_tokens`` count) feeds tokens/s."""


TASKS: dict[str, type[Task]] = {}


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: make a task available to ``process(task=...)`` and the CLI under its ``name``."""
    TASKS[cls.name] = cls
    return cls


def get_task_class(name: str) -> type[Task]:
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(f"unknown task {name!r}; valid: {', '.join(sorted(TASKS))}") from None


@register_task
class TokenizeTask(Task):
    """spaCy tokens with the project's tokenizer settings (lower-cased, HTML breaks removed, by default)."""

    name = "tokenize"
    option_names = ("lowercase",)

    def load(self, model_dir: Path | None, device: str) -> None:
        from nlp_pipeline.text.tokenize import Tokenizer, TokenizerConfig

        lowercase = self.spec.option("lowercase")
        config = TokenizerConfig() if lowercase is None else TokenizerConfig(lowercase=bool(lowercase))
        self.tokenizer = Tokenizer(config)

    def process(self, texts: list[str]) -> list[dict]:
        return [{"tokens": tokens} for tokens in self.tokenizer.pipe(texts)]


@register_task
class SentimentTask(Task):
    """A trained classifier's label, that label's probability and every label's probability."""

    name = "sentiment"
    needs_model = True
    model_format = "nlp-pipeline-classifier"

    def load(self, model_dir: Path | None, device: str) -> None:
        from nlp_pipeline.inference.classifier import Predictor

        self.set_torch_threads()
        self.predictor = Predictor.load(model_dir, device=device)

    def process(self, texts: list[str]) -> list[dict]:
        from nlp_pipeline.inference.classifier import predict_proba

        # Predictor.predict_proba's two steps, with the token lists kept for the token count.
        p = self.predictor
        tokens = p.tokenize(texts)
        probs = predict_proba(p.model, [p.vocab.encode(t) for t in tokens], p.batch_size, p.max_length, p.device)
        out = []
        for text, words, row in zip(texts, tokens, probs.tolist(), strict=True):
            best = max(range(len(row)), key=row.__getitem__)
            out.append({"text": text, "label": p.labels[best], "probability": round(row[best], PROBABILITY_DIGITS),
                        "probabilities": {k: round(v, PROBABILITY_DIGITS) for k, v in zip(p.labels, row, strict=True)},
                        "n_tokens": len(words)})
        return out


TAGGER_MODULE = "nlp_pipeline.inference.tagger"
TAGGER_STAGE = "train_tagger"


@register_task
class TaggingTask(Task):
    """Part-of-speech tags from a trained tagger: ``{"tokens": [...], "tags": [...]}`` per text."""

    name = "tagging"
    needs_model = True
    model_format = "nlp-pipeline-tagger"

    @classmethod
    def resolve_model(cls, ref: str, cache_dir: str | Path | None) -> Path:
        from nlp_pipeline.pipelines import artifacts

        try:
            module = __import__(TAGGER_MODULE, fromlist=["TaggerPredictor"])
            getattr(module, "TaggerPredictor")  # noqa: B009 - the check is the point
        except (ImportError, AttributeError):
            raise ModelSupportError(f"tagging model support not available ({TAGGER_MODULE}.TaggerPredictor "
                                    "is missing in this version)") from None
        if "stage" not in inspect.signature(artifacts.resolve_model).parameters:
            raise ModelSupportError("tagging model support not available (resolve_model cannot look up "
                                    f"{TAGGER_STAGE} artifacts in this version)")
        return artifacts.resolve_model(ref, cache_dir, stage=TAGGER_STAGE)

    def load(self, model_dir: Path | None, device: str) -> None:
        from nlp_pipeline.inference.tagger import TaggerPredictor

        self.set_torch_threads()
        self.tagger = TaggerPredictor.load(model_dir, device=device)

    def process(self, texts: list[str]) -> list[dict]:
        return [{"tokens": r["tokens"], "tags": r["tags"]} for r in self.tagger.tag(texts)]


_LOADED: dict[TaskSpec, Task] = {}
_LOAD_LOCK = threading.Lock()


def load_task(spec: TaskSpec, *, cache: bool = True) -> Task:
    """Build and load the task of ``spec``; with ``cache``, once per process (what workers do)."""
    with _LOAD_LOCK:
        task = _LOADED.get(spec) if cache else None
        if task is None:
            task = get_task_class(spec.name)(spec)
            task.load(Path(spec.model_dir) if spec.model_dir else None, spec.device)
            if cache:
                _LOADED[spec] = task
        return task
