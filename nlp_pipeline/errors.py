"""User-facing errors.

Anything a user can cause (a bad file, a bad option, a missing corpus) raises a `PipelineError`
subclass whose message names the file and line, or the key. The CLI prints it as one line and exits
with code 2; no traceback. Programming errors stay ordinary exceptions.
"""

from __future__ import annotations

from pathlib import Path

MAX_MESSAGE = 480  # characters: an error quoting a 5 MB line must not print 5 MB; room for a few long paths


def excerpt(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters (with an ellipsis and the full length), for quoting in errors."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def _capped(message: str) -> str:
    """One line of at most `MAX_MESSAGE` characters. The start says what went wrong and the end what to do
    about it, so a message too long keeps both halves and loses its middle (usually a quoted line or value),
    saying exactly how many characters it left out."""
    message = " ".join(message.split()) if "\n" in message else message
    if len(message) <= MAX_MESSAGE:
        return message
    head = MAX_MESSAGE // 2
    widest = f" […{len(message):,} characters left out…] "  # the count below is smaller, never wider
    tail = MAX_MESSAGE - head - len(widest)
    return f"{message[:head]} […{len(message) - head - tail:,} characters left out…] {message[-tail:]}"


class PipelineError(Exception):
    """An error the user can fix. ``str(err)`` is the one-line message the CLI prints.

    The message is kept to one line of at most `MAX_MESSAGE` characters, whatever it quotes.
    """

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None) -> None:
        self.message = _capped(message)
        self.path = str(path) if path is not None else None
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        return f"{where}{self.message}"


class DataError(PipelineError):
    """Malformed or unreadable input data (empty, binary, bad encoding, missing column, unknown label)."""


def read_json(path: str | Path, what: str):
    """Parse a JSON file; a missing or unreadable one is a `DataError` naming it and saying ``what`` it is."""
    import json

    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{what} file not found", path=path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"cannot read {what}: {err}", path=path) from None


class ConfigError(PipelineError):
    """A bad pipeline option, override key or value."""


class CorpusNotFoundError(PipelineError):
    """A corpus file could not be found locally nor downloaded."""


class UnknownWordError(DataError):
    """A query word that is not in the vectors' vocabulary; carries close spellings that are."""

    def __init__(self, word: str, suggestions: list[str] | None = None, *, vocab_size: int | None = None) -> None:
        self.word = word
        self.suggestions = list(suggestions or [])
        size = f" of {vocab_size:,} words" if vocab_size is not None else ""
        hint = f"; did you mean: {', '.join(self.suggestions)}?" if self.suggestions else "; no close spelling in it"
        super().__init__(f"{excerpt(word)!r} is not in the vocabulary{size}{hint}")
