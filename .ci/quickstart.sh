#!/usr/bin/env bash
# The README's quick start, run as written, against the package as a user gets it: the checkout built into
# an sdist, the sdist into a wheel, the wheel installed into a fresh venv outside the checkout (torch
# first, then the wheel with its dependencies from the package index), and the fenced ```bash blocks
# between <!-- quickstart:begin --> and <!-- quickstart:end --> in README.md run from an empty folder,
# with a fresh HOME (so a fresh ~/.cache/nlp-pipeline) and offline, as the README promises.
#
#   .ci/quickstart.sh                  # make check-install runs it with the project venv's python
#   PYTHON=python3.12 .ci/quickstart.sh
#
# Environment: PYTHON (default python3; it must have setuptools, as the build runs without isolation),
# TORCH (default torch==2.13.0, the CPU wheel: a loose range pulls gigabytes of CUDA packages),
# README (default the checkout's), QUICKSTART_LIMIT_S (default 300: the quick start itself must finish
# within it). The temporary folder is removed on success and kept, with its path printed, on failure.
set -euo pipefail
started=$SECONDS
repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
torch="${TORCH:-torch==2.13.0}"
readme="${README:-$repo/README.md}"
limit="${QUICKSTART_LIMIT_S:-300}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/nlp-pipeline-quickstart.XXXXXX")"
trap 'status=$?; if [ $status -eq 0 ]; then rm -rf "$tmp"; else echo "quickstart: failed (exit $status); its files are in $tmp" >&2; fi' EXIT

say() { echo "quickstart: $*" >&2; }

# The quick start: each ```bash fence between the markers, in order. No markers or no block is an error,
# not an empty run that passes.
awk '/<!-- quickstart:begin -->/ {inside = 1; next} /<!-- quickstart:end -->/ {inside = 0; next}
     inside && /^```bash[[:space:]]*$/ {fence = 1; next} fence && /^```[[:space:]]*$/ {fence = 0; print ""; next}
     fence {print}' "$readme" > "$tmp/quickstart.body"
if ! grep -q '[^[:space:]]' "$tmp/quickstart.body"; then
  say "no \`\`\`bash block between <!-- quickstart:begin --> and <!-- quickstart:end --> in $readme"
  exit 1
fi
# Each command echoed with the seconds since the quick start began; the first failure stops it.
{ echo 'set -euo pipefail'; echo "PS4='+ [\${SECONDS}s] '"; echo 'set -x'; cat "$tmp/quickstart.body"; } > "$tmp/quickstart.sh"

# The build, from a copy of the working tree (the files git tracks or would track), so nothing is written
# into the checkout; the wheel is built from the sdist, which proves the sdist holds all the build needs.
say "building the sdist and the wheel with $("$python" --version 2>&1)"
mkdir -p "$tmp/src" "$tmp/dist"
git -C "$repo" ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' name; do
  if [ -f "$repo/$name" ]; then mkdir -p "$tmp/src/$(dirname "$name")" && cp -p "$repo/$name" "$tmp/src/$name"; fi
done
(cd "$tmp/src" && "$python" -c 'import sys; from setuptools import build_meta as b; open(sys.argv[2], "w").write(
  b.build_sdist(sys.argv[1]))' "$tmp/dist" "$tmp/sdist-name") > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; exit 1; }
sdist="$(cat "$tmp/sdist-name")"
tar -tzf "$tmp/dist/$sdist" > "$tmp/sdist-members"
for member in pipelines/sentiment.yaml corpora/pang_lee_polarity.yaml nlp_pipeline/embeddings/w2v_kernel.c setup.py; do
  grep -qx "[^/]*/$member" "$tmp/sdist-members" || { say "the sdist $sdist lacks $member"; exit 1; }
done
"$python" -m pip wheel -q --no-deps --no-build-isolation -w "$tmp/dist" "$tmp/dist/$sdist"
wheel="$(ls "$tmp/dist"/nlp_pipeline-*.whl)"

# A fresh venv outside the checkout: torch (pinned, the CPU wheel) first, then the wheel and its dependencies.
say "installing $torch, then $(basename "$wheel"), into a fresh venv in $tmp/venv"
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q "$torch"
"$tmp/venv/bin/python" -m pip install -q "$wheel"
installed=$SECONDS

# The quick start, from an empty folder, with a fresh HOME and no setting of ours inherited.
mkdir -p "$tmp/home" "$tmp/work"
cd "$tmp/work"
unset PYTHONPATH NLP_PIPELINE_CACHE_DIR NLP_PIPELINE_DATA_DIR NLP_PIPELINE_CORPORA_DIR NLP_PIPELINE_NO_NATIVE
unset XDG_CACHE_HOME XDG_CONFIG_HOME XDG_DATA_HOME VIRTUAL_ENV
export HOME="$tmp/home" PATH="$tmp/venv/bin:$PATH" NLP_PIPELINE_OFFLINE=1 MPLBACKEND=Agg
where="$(python -c 'import nlp_pipeline; print(nlp_pipeline.__file__)')"
case "$where" in
  "$tmp/venv/"*) say "nlp_pipeline imports from $where" ;;
  *) say "nlp_pipeline imports from $where, not from the venv"; exit 1 ;;
esac
say "running the quick start of $readme"
bash "$tmp/quickstart.sh"
took=$((SECONDS - installed))
say "build and install $((installed - started)) s, quick start $took s, in all $((SECONDS - started)) s"
if [ "$took" -gt "$limit" ]; then
  say "the quick start took $took s, over its limit of $limit s"
  exit 1
fi
