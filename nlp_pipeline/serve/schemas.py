"""The API's request and response bodies, as pydantic models: FastAPI validates requests with them and the
OpenAPI page at ``/docs`` documents every field from them.

Request models are built per server (`request_models`), because their limits are the server's settings
(`nlp_pipeline.settings.Serve`): the schema a client reads shows the limits that server enforces. The
sampling fields of ``generate`` take their defaults and ranges from the declared `settings.Generate` (the
report's samples), so a range is written once. Response models are fixed; a client may import them.
"""


from types import SimpleNamespace
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from nlp_pipeline.settings import EvaluateVectors, Generate, Serve, default_of

METHODS = Literal["3cosadd", "3cosmul"]
MAP_METHODS = Literal["tsne", "umap", "pca"]


def _printable(text: str) -> str:
    """A text the models can read: not only spaces. (A lone surrogate from a JSON ``\\ud800`` escape, which
    no UTF-8 response could echo, is refused by pydantic's ``str`` itself.)"""
    if not text.strip():
        raise ValueError("must not be blank")
    return text


class Request(BaseModel):
    """A request body: unknown fields, wrong types ("5" for 5, true for 1) and NaN are errors, not guesses."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


def _from_generate(name: str) -> list[Any]:
    """The declared range of a `settings.Generate` field, to put on a request field of the same meaning."""
    return list(Generate.model_fields[name].metadata)


def request_models(limits: Serve) -> SimpleNamespace:
    """The request models of a server with these ``limits``: ``Classify``, ``Tag``, ``Similar``, ``Similarity``,
    ``Analogy``, ``Generate``, ``Perplexity``."""
    Text = Annotated[str, StringConstraints(min_length=1, max_length=limits.max_text_chars),
                     AfterValidator(_printable)]
    Texts = Annotated[list[Text], Field(min_length=1, max_length=limits.max_texts,
                                        description=f"1 to {limits.max_texts} texts, each of 1 to "
                                        f"{limits.max_text_chars:,} characters")]
    Word = Annotated[str, StringConstraints(min_length=1, max_length=limits.max_text_chars),
                     AfterValidator(_printable)]
    TopN = Annotated[int, Field(ge=1, le=limits.max_topn, description="how many answers, best first")]

    class Classify(Request):
        """Texts to label with the loaded classifier."""

        texts: Texts

    class Tag(Request):
        """Texts to tokenize and tag, or sentences already tokenized (give one of the two)."""

        texts: Texts | None = Field(None, description="raw texts, tokenized as the tagger was trained")
        tokens: Annotated[list[Annotated[list[Word], Field(min_length=1, max_length=limits.max_text_chars)]],
                          Field(min_length=1, max_length=limits.max_texts)] | None = Field(
            None, description="sentences as token lists, tagged as they are")

    class Similar(Request):
        """Words whose nearest neighbours to find (one query each)."""

        words: Annotated[list[Word], Field(min_length=1, max_length=limits.max_texts)]
        topn: TopN = 10

    class Similarity(Request):
        """Word pairs whose cosine similarity to compute."""

        pairs: Annotated[list[Annotated[list[Word], Field(min_length=2, max_length=2)]],
                         Field(min_length=1, max_length=limits.max_texts, description='[["good", "bad"], ...]')]

    class Analogy(Request):
        """Analogy questions: [a, b, c] asks "a is to b as c is to ?"."""

        queries: Annotated[list[Annotated[list[Word], Field(min_length=3, max_length=3)]],
                           Field(min_length=1, max_length=limits.max_texts,
                                 description='[["man", "king", "woman"], ...]')]
        topn: TopN = 10
        method: METHODS = Field("3cosadd", description="3cosadd: cos(x, b - a + c); 3cosmul: Levy & Goldberg's")

    class GenerateText(Request):
        """A prompt to continue (a backward model: to precede) and how to sample."""

        prompt: Annotated[str, StringConstraints(max_length=limits.max_text_chars)] = \
            Field("", description="text to continue; empty: a new document")
        max_tokens: Annotated[int, *_from_generate("max_tokens"), Field(le=limits.max_generate_tokens)] = Field(
            min(default_of(Generate, "max_tokens"), limits.max_generate_tokens),
            description="the most words to add (it ends sooner at the end of a document)")
        temperature: Annotated[float, *_from_generate("temperature")] = Field(
            default_of(Generate, "temperature"), description="below 1: safer words; 0: always the most likely word")
        top_k: Annotated[int, *_from_generate("top_k")] = Field(
            default_of(Generate, "top_k"), description="sample among the k most likely words only; 0 = all")
        top_p: Annotated[float, *_from_generate("top_p")] = Field(
            default_of(Generate, "top_p"), description="sample among the fewest words holding this much probability")
        seed: Annotated[int, *_from_generate("seed")] | None = Field(
            None, description="the same seed gives the same text; none: a new one each time")

    class Perplexity(Request):
        """Documents to score with the language model (one text each)."""

        texts: Texts

    return SimpleNamespace(Classify=Classify, Tag=Tag, Similar=Similar, Similarity=Similarity, Analogy=Analogy,
                           Generate=GenerateText, Perplexity=Perplexity)


MAP_DEFAULT_WORDS = default_of(EvaluateVectors, "map_words")  # the report's map: the same view by default
MAP_DEFAULT_METHOD = default_of(EvaluateVectors, "map_method")
MAP_SEED = default_of(EvaluateVectors, "seed")


# -- responses -------------------------------------------------------------------------------------


class Classified(BaseModel):
    text: str
    label: str = Field(description="the most probable label")
    probabilities: dict[str, float] = Field(description="every label's probability")


class ClassifyResponse(BaseModel):
    model: str | None = Field(description="the classifier's key prefix (null: a folder without a manifest)")
    labels: list[str]
    results: list[Classified] = Field(description="one per text, in order")


class Tagged(BaseModel):
    text: str
    tokens: list[str]
    tags: list[str] = Field(description="one tag per token")


class TagResponse(BaseModel):
    model: str | None = Field(description="the tagger's key prefix")
    results: list[Tagged] = Field(description="one per text or sentence, in order")


class Neighbour(BaseModel):
    word: str
    score: float = Field(description="cosine similarity (analogy: the method's score), 6 decimals")


class SimilarResult(BaseModel):
    query: str
    results: list[Neighbour]


class SimilarResponse(BaseModel):
    vectors: str | None = Field(description="the vectors' key prefix (null: a vectors file)")
    results: list[SimilarResult] = Field(description="one per word, in order")


class SimilarityResult(BaseModel):
    query: list[str]
    similarity: float = Field(description="cosine similarity, 6 decimals")


class SimilarityResponse(BaseModel):
    vectors: str | None
    results: list[SimilarityResult]


class AnalogyResult(BaseModel):
    query: list[str]
    method: str
    results: list[Neighbour] = Field(description="a, b and c are never answers")


class AnalogyResponse(BaseModel):
    vectors: str | None
    results: list[AnalogyResult]


class GenerateResponse(BaseModel):
    model: str | None = Field(description="the language model's key prefix")
    prompt: str
    text: str = Field(description="prompt and generated words together")
    generated: str = Field(description="the generated words alone")
    tokens: int = Field(description="how many words were generated")
    stopped: Literal["eos", "max_tokens"] = Field(description="eos: the model ended the document")


class PerplexityResponse(BaseModel):
    model: str | None
    documents: int
    tokens: int = Field(description="words and one end-of-document per document")
    perplexity: float | None = Field(description="null when every text is blank")
    nll_per_token: float | None
    unknown_rate: float | None = Field(description="share of the words the model does not know")
    direction: str


class ModelInfo(BaseModel):
    kind: Literal["classifier", "tagger", "vectors", "language_model"]
    key: str | None = Field(description="the artifact's cache key (null: no manifest)")
    short_key: str | None = Field(description="the key prefix the CLI shows and takes")
    path: str
    labels: list[str] | None = Field(None, description="classifier: its labels")
    tags: list[str] | None = Field(None, description="tagger: its tags")
    vocab_size: int
    dim: int | None = Field(None, description="vectors: their dimension")
    direction: str | None = Field(None, description="language model: forward or backward")
    metrics: dict[str, Any] = Field(description="what its build recorded (accuracy, perplexity, ...)")


class ModelsResponse(BaseModel):
    models: list[ModelInfo]


class MapPoint(BaseModel):
    word: str
    x: float
    y: float


class MapResponse(BaseModel):
    vectors: str | None
    method: str
    seed: int
    points: list[MapPoint] = Field(description="most frequent word first")


class Health(BaseModel):
    status: Literal["ok"]
    loaded: list[str] = Field(description="the kinds of model this server answers with")


class Counts(BaseModel):
    requests: int
    items: int = Field(description="texts or queries in those requests")
    model_calls: int = Field(description="calls to the model: fewer than requests when batching gathered some")
    largest_batch: int = Field(description="the most items one call held")


class StatsResponse(BaseModel):
    batching: bool
    batch_wait_ms: float
    batch_max_size: int
    map_projections: int = Field(description="how many map projections were computed (each is then cached)")
    queues: dict[str, Counts] = Field(description="per batched endpoint group: classify, tag, vectors")


class ErrorDetail(BaseModel):
    field: str | None = Field(description="the request field at fault (texts[2], topn, body, Authorization)")
    message: str = Field(description="one line")
    suggestions: list[str] | None = Field(None, description="unknown word: close spellings the vectors know")


class ErrorResponse(BaseModel):
    error: ErrorDetail
