"""The tutorials' lesson, on a run a user can repeat: the label is the first of 100 tokens.

`nlp_pipeline.data.synthetic` writes the task (the first token is ``a`` or ``b``, the label; 99 random filler
words follow). Through the sentiment pipeline, with the decision taken from the encoder's last state
(``model.pooling: last``), an LSTM whose forget gate starts open learns it and the plain tanh RNN stays at
chance; the gradient-flow curves in the training artifacts' metadata say why: the RNN's loss gradient at the
first step, relative to the last step, is more than 1,000 times smaller than the LSTM's. The report draws
both curves in one figure. docs/training.md walks through the same run (with a GRU too) at full size.
"""

from __future__ import annotations

import json

from nlp_pipeline.data.synthetic import write_first_token_task
from nlp_pipeline.pipelines import run_pipeline

LESSON = ["model.pooling=last", "model.embedding_mode=random", "model.hidden_size=32", "model.forget_bias=5",
          "model.dropout=0", "model.embedding_dropout=0", "train.batch_size=32", "train.epochs=2",
          "train.patience=0", "runtime.threads=1", "runtime.device=cpu"]


def test_an_lstm_learns_the_first_of_100_tokens_and_a_tanh_rnn_does_not(tmp_path):
    corpus = write_first_token_task(tmp_path / "first_token", train=1000, dev=200, test=200, length=100)
    result = run_pipeline("sentiment", [f"data.corpus={json.dumps(str(corpus))}", *LESSON],
                          grid=["model.encoder=rnn,lstm"], cache_dir=tmp_path / "cache",
                          report_dir=tmp_path / "reports", progress=False, log=lambda line: None)
    by_encoder = {v.config["model"]["encoder"]: v for v in result.variants}
    dev = {name: v.metrics["dev"]["accuracy"] for name, v in by_encoder.items()}
    assert dev["lstm"] >= 0.95 and dev["rnn"] < 0.65, dev

    flows = {name: v.train["gradient_flow"] for name, v in by_encoder.items()}
    for flow in flows.values():  # the 32 longest dev documents, all 100 steps
        assert flow["steps"] == 100 and flow["sequences"] == 32 and len(flow["norms"]) == 100
    assert flows["lstm"]["state"] == "h, c" and flows["rnn"]["state"] == "h"
    # norms[0]: the last step; norms[-1]: the first, 99 steps before it
    reach = {name: flow["norms"][-1] / flow["norms"][0] for name, flow in flows.items()}
    assert reach["rnn"] * 1000 <= reach["lstm"], reach

    picture = result.report_dir / "gradient_flow.png"
    assert picture.stat().st_size > 10_000
    assert "![gradient flow](gradient_flow.png)" in (result.report_dir / "results.md").read_text(encoding="utf-8")
