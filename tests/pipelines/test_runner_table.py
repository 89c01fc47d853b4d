"""The results table ranks variants by dev accuracy as a number."""

from pathlib import Path

from nlp_pipeline.config import load_config
from nlp_pipeline.pipelines.registry import declared
from nlp_pipeline.reports.results import PipelineResult, VariantResult


def _variant(encoder: str, accuracy: float) -> VariantResult:
    cfg = load_config("sentiment", [f"model.encoder={encoder}"]).to_dict()
    return VariantResult(encoder, [], cfg, {"dev": {"accuracy": accuracy, "macro_f1": accuracy}},
                         {"best_epoch": 1, "train_seconds": 1.0}, {"intrinsic": {}}, {})


def test_table_ranks_by_numeric_dev_accuracy():
    result = PipelineResult("sentiment", [_variant("rnn", 0.095), _variant("lstm", 0.8635), _variant("gru", 1.0)],
                            Path("r"), 0.0, columns=declared("sentiment").columns)
    body = result.table().splitlines()[2:]
    assert [line.split()[0] for line in body] == ["gru", "lstm", "rnn"]
    assert "9.50" in body[2] and "100.00" in body[0]
