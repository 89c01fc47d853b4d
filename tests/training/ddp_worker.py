"""Training runs of the distributed tests, in fresh processes: alone, or as the ranks of a launched run.

``python ddp_worker.py curves OUT_DIR`` trains a small classifier, language model and tagger with every
dropout at 0 (each process draws its own masks on its own slice, so with dropout the curves would differ by
design) and writes ``OUT_DIR/<kind>-rank<r>.json``: every training step's mean loss over this process's
slice with the units it averages over (documents, tokens), the loop's history, and the final weights
(``<kind>-rank<r>.safetensors``). The losses are observed where the loops compute them (the classifier's
cross-entropy, the language model's and the tagger's ``loss``), not recomputed.

``python ddp_worker.py resume OUT_DIR`` trains each model three times in the same processes, with dropout
and a checkpoint after every batch: once through, once stopped mid-epoch (an exception at an epoch's or an
evaluation's log line, on every rank), once resumed from that checkpoint; it writes the weights of the
first and the last (``<kind>-<run>-rank<r>.safetensors``) and the checkpoint as the stop left it
(``<kind>-stopped-checkpoint/``).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

from nlp_pipeline.engine import PartialBuild
from nlp_pipeline.training import distributed

CLASSIFIER_VOCAB = 40


class Stop(Exception):
    """Raised at a log line: the run stops there, as a killed one would after its last checkpoint."""


def classifier_task(n: int, seed: int) -> tuple[list[list[int]], list[int]]:
    """Documents of 2-24 word ids; the label says whether word 2 occurs (lengths vary: buckets matter)."""
    rng = np.random.default_rng(seed)
    ids, labels = [], []
    for _ in range(n):
        seq = rng.integers(3, CLASSIFIER_VOCAB, size=int(rng.integers(2, 25))).tolist()
        if rng.random() < 0.5:
            seq[int(rng.integers(0, len(seq)))] = 2
        ids.append(seq)
        labels.append(int(2 in seq))
    return ids, labels


def train_classifier_run(steps: list, dropout: float = 0.0, partial: PartialBuild | None = None,
                         log=None) -> tuple[torch.nn.Module, dict]:
    import torch.nn.functional as F

    from nlp_pipeline.models.classifier import ClassifierConfig, SequenceClassifier
    from nlp_pipeline.training import classifier as classifier_training
    from nlp_pipeline.training.loop import TrainConfig

    class Observed:  # the module's F, whose cross_entropy also records each training step's loss
        def __getattr__(self, name):
            return getattr(F, name)

        @staticmethod
        def cross_entropy(logits, targets, **kw):
            loss = F.cross_entropy(logits, targets, **kw)
            if logits.requires_grad:
                steps.append([float(loss.detach()), int(targets.numel())])
            return loss

    classifier_training.F = Observed()  # put back below: a test may call this in its own process
    train_ids, train_y = classifier_task(203, seed=0)  # 6 batches of 32 and one of 11 per epoch
    dev_ids, dev_y = classifier_task(60, seed=1)
    torch.manual_seed(0)
    model = SequenceClassifier(ClassifierConfig(vocab_size=CLASSIFIER_VOCAB, num_classes=2, embedding_dim=16,
                                                hidden_size=16, encoder="bilstm", dropout=dropout,
                                                embedding_dropout=dropout))
    config = TrainConfig(epochs=3, batch_size=32, lr=0.01, patience=0, num_threads=1, device="cpu")
    try:
        result = classifier_training.train_classifier(model, train_ids, train_y, dev_ids, dev_y, config,
                                                      progress=False, log=log, partial=partial)
    finally:
        classifier_training.F = F
    return model, result.to_dict()


def train_lm_run(steps: list, dropout: float = 0.0, partial: PartialBuild | None = None,
                 log=None) -> tuple[torch.nn.Module, dict]:
    from nlp_pipeline.models.language_model import LanguageModelConfig, RNNLanguageModel
    from nlp_pipeline.training.language_model import LMTrainConfig, encode_documents, train_language_model

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(60)]
    stoi = {w: i + 3 for i, w in enumerate(words)}
    docs = [[words[int(rng.zipf(1.3)) % 60] for _ in range(int(rng.integers(5, 40)))] for _ in range(80)]
    ids, offsets, _ = encode_documents(docs, stoi, eos=2)
    heldout, _, _ = encode_documents(docs[:8], stoi, eos=2)
    torch.manual_seed(0)
    model = RNNLanguageModel(LanguageModelConfig(vocab_size=63, embedding_dim=16, cell="lstm", num_layers=2,
                                                 hidden_size=32, output="adaptive", cutoffs=(10, 30),
                                                 dropout=dropout, embedding_dropout=dropout))
    loss = model.loss

    def observed(features, targets):
        value = loss(features, targets)
        if model.training:
            steps.append([float(value.detach()), int(targets.numel())])
        return value

    model.loss = observed
    config = LMTrainConfig(epochs=2, batch_size=8, bptt=12, lr=0.005, evaluations=4, num_threads=1, device="cpu")
    result = train_language_model(model, ids, offsets, heldout, config, log=log, partial=partial)
    return model, {"history": result.history, "tokens_trained": result.tokens_trained}


def train_tagger_run(steps: list, dropout: float = 0.0, partial: PartialBuild | None = None,
                     log=None) -> tuple[torch.nn.Module, dict]:
    """A CRF tagger with a character CNN (the CRF's loss is computed outside the model's forward) on sentences of a
    toy grammar; its loss averages over tokens, so the slices' weights are their token counts."""
    from nlp_pipeline.models.tagger import SequenceTagger, TaggerConfig
    from nlp_pipeline.models.tagger_encoding import TaggerEncoder
    from nlp_pipeline.text.vocab import Vocab
    from nlp_pipeline.training.loop import TrainConfig
    from nlp_pipeline.training.tagger import train_tagger

    rng = np.random.default_rng(0)
    lexicon = {"DET": ["the", "a"], "ADJ": ["big", "small", "red", "old"], "NOUN": ["cat", "dog", "film", "nation"],
               "VERB": ["saw", "ran", "liked"], "PUNCT": ["."]}
    sentences, tags = [], []
    for _ in range(150):
        shape = ["DET", *(["ADJ"] * int(rng.integers(0, 3))), "NOUN", "VERB", "PUNCT"]
        sentences.append([lexicon[t][int(rng.integers(len(lexicon[t])))] for t in shape])
        tags.append(shape)
    encoder = TaggerEncoder(Vocab.build(sentences), Vocab.build(list(w) for s in sentences for w in s),
                            sorted(lexicon), True)
    train, dev = encoder.encode(sentences[:130], tags[:130]), encoder.encode(sentences[130:], tags[130:])
    torch.manual_seed(0)
    model = SequenceTagger(TaggerConfig(vocab_size=len(encoder.vocab), num_tags=len(encoder.tags),
                                        char_vocab_size=len(encoder.char_vocab), embedding_dim=12, hidden_size=12,
                                        char_dim=6, char_hidden=8, char_encoder="cnn", crf=True, dropout=dropout,
                                        embedding_dropout=dropout,
                                        embedding_mode="random"))
    loss = model.loss

    def observed(scores, targets, lengths):
        value = loss(scores, targets, lengths)
        if model.training:
            steps.append([float(value.detach()), int(lengths.sum())])
        return value

    model.loss = observed
    config = TrainConfig(epochs=3, batch_size=16, lr=0.01, patience=0, num_threads=1, device="cpu")
    result = train_tagger(model, train, dev, config, word_dropout=0.25 if dropout else 0.0, lr_decay=0.5,
                          progress=False, log=log, partial=partial)
    return model, result.to_dict()


RUNS = {"classifier": train_classifier_run, "lm": train_lm_run, "tagger": train_tagger_run}
# Mid-epoch: a checkpoint after every batch before it.
STOP_AT = {"classifier": "epoch 2/3", "lm": "step 30/", "tagger": "epoch 2/3"}


def save_weights(model: torch.nn.Module, path: Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, path)


def curves(out: Path, rank: int, world: int) -> None:
    for kind, train in RUNS.items():
        steps: list = []
        model, result = train(steps)
        save_weights(model, out / f"{kind}-rank{rank}.safetensors")
        (out / f"{kind}-rank{rank}.json").write_text(json.dumps({"steps": steps, "result": result, "world": world}))


def resume(out: Path, rank: int) -> None:
    for kind, train in RUNS.items():
        for run in ("through", "stopped", "resumed"):
            build = f"{kind}-{'through' if run == 'through' else 'stopped'}"  # resumed: the stopped one's build
            partial = PartialBuild(out / f"partial-{build}", "train", build, "1", every_seconds=1e-9)

            def log(message: str, run: str = run, kind: str = kind) -> None:
                if run == "stopped" and STOP_AT[kind] in message:
                    raise Stop(message)

            try:
                model, _ = train([], dropout=0.2, partial=partial, log=log)
            except Stop:
                if rank == 0:  # as the stop left it (the resumed run writes its own checkpoints there)
                    shutil.copytree(partial.folder, out / f"{kind}-stopped-checkpoint")
                continue
            save_weights(model, out / f"{kind}-{run}-rank{rank}.safetensors")


def main(mode: str, out: Path) -> None:
    with distributed.processes("cpu") as group:
        rank, world = (group.rank, group.world_size) if group is not None else (0, 1)
        if mode == "curves":
            curves(out, rank, world)
        else:
            resume(out, rank)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
