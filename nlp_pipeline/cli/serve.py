"""`serve`: the trained models behind an HTTP JSON API (`nlp_pipeline.serve`).

Its limits and batching options are generated from the `nlp_pipeline.settings.Serve` declarations, so a
default, range or meaning is written once, there.
"""

from __future__ import annotations

import json

import click

from nlp_pipeline.cli.common import json_option, main, model_options, user_errors
from nlp_pipeline.engine import short_key
from nlp_pipeline.errors import ConfigError
from nlp_pipeline.settings import Serve

INSTALL = 'pip install "nlp-pipeline[serve]"'
LOOPBACK_WARNING = ("warning: listening on {host} without an API key: anyone who can reach this machine can use the "
                    "models; give --api-key or set $NLP_PIPELINE_API_KEY")


def setting_options(fn):
    """An option per `Serve` setting, from its declaration: ``--max-texts`` (its range checked by click),
    ``--batching/--no-batching``; the default and the meaning are the declaration's."""
    for name, field in reversed(list(Serve.model_fields.items())):
        flag = "--" + name.replace("_", "-")
        about = f"{(field.description or '')[:1].upper()}{(field.description or '')[1:]}."
        if field.annotation is bool:
            option = click.option(f"{flag}/--no-{name.replace('_', '-')}", name, default=field.default, help=about)
        else:
            low = next((m.ge for m in field.metadata if hasattr(m, "ge")), None)
            high = next((m.le for m in field.metadata if hasattr(m, "le")), None)
            kind = click.IntRange(low, high) if field.annotation is int else click.FloatRange(low, high)
            option = click.option(flag, name, type=kind, default=field.default, help=about)
        fn = option(fn)
    return fn


@main.command()
@click.option("--model", metavar="REF", help="Classifier: a model folder, a train key prefix, or 'latest'.")
@click.option("--tagger", metavar="REF", help="Part-of-speech tagger: a folder, a train_tagger key prefix, or "
              "'latest'.")
@click.option("--vectors", "-v", "vectors", metavar="REF",
              help="Word vectors: a word2vec .txt/.vec/.bin file, an embed artifact folder or key prefix, a pipeline "
                   "name, or 'latest'.")
@click.option("--lm", metavar="REF", help="Language model: a folder, a train_lm key prefix, or 'latest'.")
@click.option("--host", default="127.0.0.1",
              help="Address to listen on; any other than this machine's own without an API key is warned about.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, help="Port to listen on (0: a free one).")
@click.option("--api-key", envvar="NLP_PIPELINE_API_KEY", show_envvar=True, metavar="KEY",
              help="Every endpoint but /health then needs 'Authorization: Bearer KEY' or 'X-API-Key: KEY'.")
@setting_options
@model_options
@json_option("Once listening, print what is served and the URL as one JSON object on stdout.")
@user_errors
def serve(model, tagger, vectors, lm, host, port, api_key, device, cache_dir, as_json, **settings):
    """Serve trained models over HTTP: a JSON API under /v1/ (classify, tag, similar, similarity, analogy,
    generate, perplexity, map), its documentation at /docs.

    With none of --model, --tagger, --vectors, --lm, the latest of each kind the cache holds is served. Each
    artifact is checked against its manifest first; requests never choose what is read. Ctrl+C stops.
    """
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ConfigError(f"serve needs FastAPI and uvicorn, which are not installed: {INSTALL}") from None
    import torch

    from nlp_pipeline.device import resolve_device
    from nlp_pipeline.serve.app import create_app, serve_settings, torch_threads
    from nlp_pipeline.serve.listen import is_loopback, listen, run, url_of

    limits = serve_settings(settings)
    api_key = api_key or None  # an empty $NLP_PIPELINE_API_KEY is no key
    if not is_loopback(host) and api_key is None:
        click.echo(LOOPBACK_WARNING.format(host=host), err=True)
    device = resolve_device(device)  # once, before anything is read
    sock = listen(host, port)
    try:
        app = create_app(model, tagger, vectors, lm, settings=limits, cache_dir=cache_dir, device=str(device),
                         api_key=api_key)
    except BaseException:
        sock.close()
        raise
    threads = torch_threads(limits, app.state.server.models)
    torch.set_num_threads(threads)  # this process is the server: its threads are the models' workers'
    url = url_of(sock)
    loaded = app.state.server.models.loaded()
    if as_json:
        click.echo(json.dumps({"url": url, "page": f"{url}/", "docs": f"{url}/docs", "api_key": api_key is not None,
                               "models": [{"kind": a.kind, "key": a.key, "path": str(a.path)} for a in loaded],
                               "settings": limits.model_dump(), "torch_threads": threads}))
    else:
        width = max(len(a.kind) for a in loaded)
        for a in loaded:
            click.echo(f"{a.kind.replace('_', ' '):<{width}}  {short_key(a.key) if a.key else '-':<12}  {a.path}")
        batching = (f"batching up to {limits.batch_max_size} items, {limits.batch_wait_ms:g} ms" if limits.batching
                    else "batching off")
        click.echo(f"serving on {url} (the page: {url}/, the API's docs: {url}/docs; {batching}"
                   f"{'; API key required' if api_key else ''}); Ctrl+C stops")
    run(app, sock)
