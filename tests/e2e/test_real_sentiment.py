"""Real data, end to end (slow: `make test-slow`): SST-2 through every stage with small settings.

Pretraining text is only the SST-2 training phrases and the vectors are small, so this runs in a
few minutes; it checks that the real corpus flows through tokenize → pretrain_text → embed →
train → evaluate and that the model learns (well above the 51% majority class), not the final bar.
"""

import json

import pytest
from click.testing import CliRunner

from nlp_pipeline.cli import main
from nlp_pipeline.data.resolve import shared_roots

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shared_roots(), reason="needs ../shared/corpora"),
]


def test_sst2_small_pipeline_learns(tmp_path):
    args = [
        "run", "sentiment", "--json", "-q",
        "--cache-dir", str(tmp_path / "cache"), "--report-dir", str(tmp_path / "reports"),
        "--set", "data.text=sst2:train", "--set", "embed.vector_size=50", "--set", "embed.epochs=2",
        "--set", "model.hidden_size=32", "--set", "train.epochs=2", "--set", "train.batch_size=128",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout[result.stdout.index("{"):])
    variant = out["variants"][0]
    tokenize = next(r for r in variant["stage_runs"] if r["stage"] == "tokenize")
    assert tokenize["hit"] is False
    assert variant["metrics"]["dev"]["n"] == 872
    assert variant["metrics"]["dev"]["accuracy"] > 0.75
    assert variant["embeddings"]["vocab_size"] > 5000
