# One command sets everything up and runs the main job (make run); one sets up and tests (make test).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch first, pinned to the CPU wheel: a loose range with no torch installed pulls GBs of CUDA packages.
TORCH  ?= torch==2.13.0

.PHONY: install run test test-fast test-e2e test-slow check-install lint pipelines docs-config docs-cli docs bench bench-word2vec bench-similarity bench-process bench-tagger bench-onnx bench-serve gpu-check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install  ## the default pipeline: SST-2, skip-gram vectors, fine-tuned BiLSTM
	$(BIN)/nlp-pipeline run sentiment

test: install  ## what CI runs: lint + every test but the slow real-data ones (fast and e2e) on every core
	$(BIN)/ruff check nlp_pipeline tests benchmarks
	$(BIN)/pytest -q -n auto --dist worksteal

test-fast: install  ## after each change: lint + the unit tests on tiny fixtures (not slow, not e2e), under 100 s
	$(BIN)/ruff check nlp_pipeline tests benchmarks
	$(BIN)/pytest -q -n auto --dist worksteal -m "not slow and not e2e"

test-e2e: install  ## the end-to-end tests: CLI, HTTP server, browser, installed package in fresh processes (5-8 min here)
	$(BIN)/pytest -q -n auto --dist worksteal -m "e2e and not slow"

check-install: install  ## the wheel in a fresh venv outside the checkout, then the README's quick start as written (.ci/quickstart.sh)
	PYTHON="$(CURDIR)/$(BIN)/python" TORCH="$(TORCH)" .ci/quickstart.sh

test-slow: install
	$(BIN)/pytest -q -m slow

lint: install
	$(BIN)/ruff check nlp_pipeline tests benchmarks

docs-config: install  ## rewrite docs/configuration.md from the settings' declarations
	$(BIN)/python -c "from nlp_pipeline.config import reference_markdown; print(reference_markdown(), end='')" > docs/configuration.md

docs-cli: install  ## rewrite docs/cli.md from the commands' own --help
	$(BIN)/python -c "from nlp_pipeline.cli.reference import reference_markdown; print(reference_markdown(), end='')" > docs/cli.md

docs: install  ## build the documentation site (mkdocs.yml, docs/) into site/; --strict fails on a broken link
	$(BIN)/pip install -q -e ".[docs]"
	$(BIN)/mkdocs build --strict

pipelines: install  ## rewrite pipelines/*.yaml from the settings' declarations (after adding or changing a setting)
	for p in $$($(BIN)/python -c "from nlp_pipeline.config import pipeline_names; print(*pipeline_names())"); do $(BIN)/nlp-pipeline config init $$p pipelines/$$p.yaml --force; done

bench: install  ## classifier training throughput (tokens/s) per encoder
	$(BIN)/python benchmarks/bench_classifier.py

bench-word2vec: install  ## our word2vec vs gensim, the original C tool and fastText on 20M IMDB tokens, both settings (words/s, memory, quality; ~1 h+; BENCH_WORD2VEC_ARGS="--quick" or "--seeds 1,2,3")
	$(BIN)/pip install -q -e ".[bench]"
	$(BIN)/python benchmarks/bench_word2vec.py --setting issue,sentiment $(BENCH_WORD2VEC_ARGS)

bench-similarity: install  ## batched similarity queries vs gensim most_similar (queries/s, same top 10)
	$(BIN)/python benchmarks/bench_similarity.py

bench-process: install  ## `nlp-pipeline process` vs the plain loop on IMDB (~30 min; BENCH_PROCESS_ARGS="--sentiment-max-docs 4000": ~9 min)
	$(BIN)/python benchmarks/bench_process.py $(BENCH_PROCESS_ARGS)

bench-tagger: install  ## tagging throughput (tokens/s) on 10k raw IMDB reviews: batched vs the per-document loop
	$(BIN)/python benchmarks/bench_tagger.py

bench-onnx: install  ## CPU latency per sentence, PyTorch vs ONNX Runtime, batch 1 and 32 (trains a small model; BENCH_ONNX_ARGS="--model KEY")
	$(BIN)/python benchmarks/bench_onnx.py $(BENCH_ONNX_ARGS)

bench-serve: install  ## `serve` under 1, 8, 32 clients: batched vs --no-batching vs a `predict` process per request, and its memory (~6 min; BENCH_SERVE_ARGS="--model KEY --vectors KEY")
	$(BIN)/python benchmarks/bench_serve.py $(BENCH_SERVE_ARGS)

gpu-check: install  ## on a CUDA machine: the CUDA tests, then GPU vs CPU word2vec and classifier speed (one table); elsewhere: says so, exits 0
	$(BIN)/python benchmarks/gpu_check.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
