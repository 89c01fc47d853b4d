"""The CLI reference page (``docs/cli.md``), rendered from the commands themselves, so it cannot drift.

``make docs-cli`` writes it; a test keeps the file equal to what this renders. Each command's section is
click's own ``--help`` text at a fixed width, in the order a newcomer meets the commands.
"""

from __future__ import annotations

import click

WIDTH = 100  # columns of the rendered help, whatever the terminal that runs `make docs-cli`

CONVENTIONS = """\
## Conventions

The same words mean the same thing in every command:

- **A model a command needs is its first argument** (`predict MODEL`, `tag MODEL`, `generate MODEL`,
  `perplexity MODEL`, `evaluate model MODEL`, `export model MODEL`, `process MODEL`): a model folder, a
  key prefix of one in the cache, or `latest` (the model of the last run; after a grid, its best variant).
- **Word vectors are `-v/--vectors`** in every vectors command (`similar`, `similarity`, `analogy`,
  `evaluate vectors`, `export vectors`); left out, they are the newest vectors in the cache.
- **`-o/--output`** is where a command writes (`export`, `process`, `evaluate model`'s picture).
- **`--force`** only ever means "overwrite the output"; `run --rebuild` rebuilds cached stages.
- **`--json`** prints the result as JSON on stdout, on every command with a result; progress and
  warnings go to stderr.
- **`--format`** is always an *output* format; `process` reads its inputs' format from `--input-format`.
- **`-n`** is `--topn` (how many answers); `generate` takes `--max-tokens`.
- **`--cache-dir`** is the artifact cache everywhere (default `~/.cache/nlp-pipeline`, or
  `$NLP_PIPELINE_CACHE_DIR`); `--stage` is checked against the stages that exist.
- **Errors**: a bad file, value or option is one line naming the file and line (or the option) on
  stderr, exit code 2. A usage mistake click catches is exit code 2 too.

Changed in 0.2 (the old spellings still work for one release, each with a one-line warning):
`run --force` → `run --rebuild`; `process INPUTS --task T --model REF --out DIR` →
`process MODEL INPUTS -o DIR` (MODEL `tokenize` for tokens); `process --format` → `--input-format`;
`export vectors REF --out FILE` → `export vectors -v REF -o FILE`; `evaluate vectors VECTORS` →
`evaluate vectors -v VECTORS`; `generate -n` → `generate --max-tokens`.
"""

ORDER = ("run", "predict", "tag", "generate", "perplexity", "similar", "similarity", "analogy", "evaluate",
         "export", "process", "config", "cache", "corpora", "info")


def leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command a user can run, as (its words after ``nlp-pipeline``, the command), groups expanded."""
    names = sorted(group.commands, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    found = []
    for name in names:
        command = group.commands[name]
        if isinstance(command, click.Group):
            found += leaf_commands(command, (*prefix, name))
        else:
            found.append(((*prefix, name), command))
    return found


def command_help(root: click.Group, words: tuple[str, ...]) -> str:
    """``nlp-pipeline WORDS --help`` as click prints it, at `WIDTH` columns."""
    ctx = click.Context(root, info_name="nlp-pipeline", terminal_width=WIDTH, max_content_width=WIDTH,
                        **root.context_settings)
    command: click.Command = root
    for word in words:
        assert isinstance(command, click.Group)
        command = command.commands[word]
        ctx = click.Context(command, info_name=word, parent=ctx, terminal_width=WIDTH, max_content_width=WIDTH)
    return command.get_help(ctx)


def reference_markdown() -> str:
    from nlp_pipeline.cli import main

    out = ["# CLI reference", "",
           "Generated from the commands themselves (`make docs-cli`): each section is that command's `--help`.",
           "Every setting `--set` can change is in the [configuration reference](configuration.md).", "",
           CONVENTIONS]
    for words, _ in leaf_commands(main):
        out += [f"## nlp-pipeline {' '.join(words)}", "", "```text", command_help(main, words).rstrip(), "```", ""]
    return "\n".join(out)
