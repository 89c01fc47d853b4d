"""evaluate_lm: a language model → its exact held-out perplexity and samples from fixed prompts.

The held-out perplexity here is that of the held-out documents read as one stream with the state
carried throughout (`LanguageModel.score_ids`), the number `nlp-pipeline perplexity` gives for the
same text; the per-evaluation numbers in the training history read the stream in parallel rows.
Samples depend only on the prompts and sampling settings, so changing them re-runs this stage and
not the training. Writes ``metrics.json``, ``samples.json``, ``learning_curve.png`` and ``details.md``
(this variant's part of the report).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Mapping

import numpy as np

from nlp_pipeline import settings
from nlp_pipeline.engine import Artifact, BuildContext, Stage
from nlp_pipeline.stages.common import metadata_summary

EvaluateLMParams = settings.stage_params("EvaluateLMParams", settings.Generate)


def build(params: EvaluateLMParams, inputs: Mapping, ctx: BuildContext) -> dict:
    from nlp_pipeline.inference.language_model import LanguageModel

    model_art: Artifact = inputs["model"]
    data: Artifact = inputs["data"]
    lm = LanguageModel.load(model_art.path, device=ctx.runtime.device)
    from nlp_pipeline.training.language_model import in_reading_order

    ids = in_reading_order(np.load(data.file("heldout.npy")), np.load(data.file("heldout_offsets.npy")),
                           lm.model.config.direction)
    # the stream's documents each end in <eos>; scoring starts after one, as training read it
    nll, count = lm.score_ids(ids.tolist())
    heldout_ppl = math.exp(nll / count) if count else None
    samples = [lm.generate(prompt, max_tokens=params.max_tokens, temperature=params.temperature,
                           top_k=params.top_k, top_p=params.top_p, seed=params.seed + i)
               for i, prompt in enumerate(params.prompts)]
    (ctx.out_dir / "samples.json").write_text(json.dumps(samples, indent=2, ensure_ascii=False))
    curve = model_art.path / "learning_curve.png"
    if curve.is_file():
        shutil.copy2(curve, ctx.out_dir / "learning_curve.png")
    train = model_art.metadata
    metrics = {
        "direction": lm.model.config.direction,
        "heldout_ppl": round(heldout_ppl, 2) if heldout_ppl else None,
        "heldout_tokens": count,
        "heldout_unknown_rate": data.metadata.get("heldout", {}).get("unknown_rate"),
        "unigram_heldout_ppl": data.metadata.get("unigram_heldout_ppl"),
        "samples": samples,
    }
    (ctx.out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False))
    lines = [
        f"Held-out perplexity **{metrics['heldout_ppl']}** ({count:,} tokens, one stream; unigram model "
        f"{metrics['unigram_heldout_ppl']}), {train.get('tokens_trained', 0):,} tokens trained at "
        f"{train.get('tokens_per_second', 0):,} tokens/s in {train.get('train_seconds', 0):.0f} s.",
        "",
        "![learning curve]({variant}/learning_curve.png)",
        "",
        f"Samples ({lm.model.config.direction}; temperature {params.temperature}, top-k {params.top_k}, "
        f"top-p {params.top_p}, seed {params.seed}+i):",
        "",
    ]
    lines += [f"- **{s['prompt'] or '(no prompt)'}** → {s['text']}" for s in samples]
    (ctx.out_dir / "details.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ctx.log(f"  held-out perplexity {metrics['heldout_ppl']} over {count:,} tokens")
    return metrics


STAGE = Stage(name="evaluate_lm", version="1", params=EvaluateLMParams, build=build, inputs=("model", "data"),
              describe=lambda p: f"held-out perplexity and {len(p.prompts)} samples",
              summary=metadata_summary("held-out ppl {heldout_ppl}"))
