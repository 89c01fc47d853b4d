"""A pipeline: a declared list of steps (a stage, how its parameters come from the config, its wiring).

The step's ``params`` function is the one place a pipeline configuration is read for that stage: it
builds the stage's frozen parameter object, which is then both hashed into the key and handed to the
build function. Wiring is data: an input named by a string is an earlier step's artifact; a callable
input turns the config into an external input (a `DataRef` to a corpus). Because keys depend on
upstream *keys*, not on built files, `plan` computes every stage key of a configuration without
building anything (what the every-setting test and ``--dry-run`` style tools need).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nlp_pipeline.engine.cache import Artifact, ArtifactCache, short_key
from nlp_pipeline.engine.stage import ArtifactRef, Input, Runtime, Stage, StageRun, Task, run_stage

logger = logging.getLogger(__name__)


def always(cfg: Any) -> bool:
    return True


@dataclass(frozen=True)
class Step:
    stage: Stage
    params: Callable[[Any], Any]  # config → the stage's parameter object
    # input name → an earlier step's name (its artifact), a tuple of them (the first that ran), or
    # config → an external input (None: absent)
    inputs: Mapping[str, str | tuple[str, ...] | Callable[[Any], Input | None]] = field(default_factory=dict)
    when: Callable[[Any], bool] = always  # whether this configuration runs the step at all

    @property
    def name(self) -> str:
        return self.stage.name


@dataclass(frozen=True)
class Pipeline:
    name: str
    steps: tuple[Step, ...]
    runtime: Callable[[Any], Runtime]  # config → execution settings (not in any key)
    train_step: str  # whose artifact is "the model" of a variant
    evaluate_step: str  # whose metadata are a variant's metrics

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for step in self.steps:
            if step.name in seen:
                raise TypeError(f"pipeline {self.name}: step {step.name} declared twice")
            for name, source in step.inputs.items():
                for upstream in (source,) if isinstance(source, str) else source if isinstance(source, tuple) else ():
                    if upstream not in seen:
                        raise TypeError(f"pipeline {self.name}: {step.name}.{name} reads {upstream!r}, "
                                        "not an earlier step")
            declared = set(step.stage.inputs) | set(step.stage.optional_inputs)
            if undeclared := set(step.inputs) - declared:
                raise TypeError(f"pipeline {self.name}: {step.name} wires undeclared inputs {sorted(undeclared)}")
            seen.add(step.name)
        if not {self.train_step, self.evaluate_step} <= seen:
            raise TypeError(f"pipeline {self.name}: train/evaluate steps must be among its steps")

    def bind(self, step: Step, cfg: Any, upstream: Mapping[str, Artifact | ArtifactRef]) -> Task | None:
        """The step's task for ``cfg`` given the upstream artifacts so far, or None if it does not run."""
        if not step.when(cfg):
            return None
        inputs: dict[str, Input] = {}
        for name, source in step.inputs.items():
            if isinstance(source, str):
                value = upstream.get(source)
            elif isinstance(source, tuple):
                value = next((upstream[s] for s in source if s in upstream), None)
            else:
                value = source(cfg)
            if value is None:
                if name in step.stage.inputs:
                    raise TypeError(f"pipeline {self.name}: {step.name} needs {name!r} but {source!r} did not run")
                continue
            inputs[name] = value
        return Task(step.stage, step.params(cfg), inputs)

    def plan(self, cfg: Any, cache: ArtifactCache, runtime: Runtime | None = None) -> list[tuple[Task, str]]:
        """``(task, key)`` of every step this configuration runs, computed without building anything."""
        runtime = runtime or self.runtime(cfg)
        refs: dict[str, ArtifactRef] = {}
        planned = []
        for step in self.steps:
            task = self.bind(step, cfg, refs)
            if task is None:
                continue
            key = task.key(cache, runtime)
            refs[step.name] = ArtifactRef(step.name, key)
            planned.append((task, key))
        return planned

    def execute(self, cfg: Any, cache: ArtifactCache, runtime: Runtime, *, force: bool = False,
                log: Callable[[str], None] | None = None,
                on_run: Callable[[Task, StageRun], None] | None = None,
                run: Callable[..., StageRun] = run_stage) -> dict[str, Artifact]:
        """Run every step of ``cfg`` in order; returns ``{step: artifact}``. ``log`` receives a line per
        step and the stages' own lines (default: this module's logger at INFO level). ``run`` runs a step's
        task (`run_stage`, or its version for the processes of a distributed run)."""
        log = log or logger.info
        arts: dict[str, Artifact] = {}
        for step in self.steps:
            task = self.bind(step, cfg, arts)
            if task is None:
                continue
            log(f"▶ {step.name}: {step.stage.describe(task.params)}")
            result = run(task, cache, runtime, force=force, log=log)
            status = "cached" if result.hit else f"done in {result.seconds:.1f}s"
            log(f"✓ {step.name} [{short_key(result.artifact.key)}] {status}")
            arts[step.name] = result.artifact
            if on_run is not None:
                on_run(task, result)
        return arts
