// nlp-pipeline's page: plain JavaScript over the server's JSON API (/v1/), no library, nothing fetched from
// elsewhere. Every request goes through `api`, which sends the API key when the server asked for one and turns
// the API's {"error": {"field", "message"}} into an ApiError that the section it belongs to shows inline.
"use strict";

(() => {
  const KEY_STORE = "nlp-pipeline-api-key"; // sessionStorage: this tab only, gone when it closes
  const KINDS = ["classifier", "tagger", "vectors", "language_model"];
  const NAMES = {classifier: "classifier", tagger: "tagger", vectors: "word vectors", language_model: "language model"};
  // How to load a kind the server does not hold: the option of `nlp-pipeline serve` and what it takes.
  const HOW = {
    classifier: ["--model REF", "a model folder, a train key prefix, or latest"],
    tagger: ["--tagger REF", "a tagger folder, a train_tagger key prefix, or latest"],
    vectors: ["-v REF", "a word2vec file, an embed key prefix, a pipeline name, or latest"],
    language_model: ["--lm REF", "a language model folder, a train_lm key prefix, or latest"],
  };
  const SECTION_OF = {classifier: "text", tagger: "text", language_model: "text", vectors: "words"};
  const METHOD_NAMES = {tsne: "t-SNE", pca: "PCA", umap: "UMAP"};
  // Universal Dependencies tags; any other tag gets a colour from its name.
  const TAG_COLOURS = {
    NOUN: "#bcd8ff", PROPN: "#9fc5f8", PRON: "#f9c9e6", VERB: "#ffc9b8", AUX: "#ffe1d3", ADJ: "#c7efc0",
    ADV: "#e3f5bd", ADP: "#e2d3f7", DET: "#f2dfb8", NUM: "#ffe69a", CCONJ: "#c8ecec", SCONJ: "#a9e0e0",
    PART: "#ecec9f", INTJ: "#f6b8b8", PUNCT: "#e2e2e2", SYM: "#d5d5d5", X: "#eeeeee",
  };
  const MAP_LABELS = 80; // the most frequent words labelled on the map, where they do not overlap

  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value);
    }
    node.append(...children);
    return node;
  }

  const state = {
    key: sessionStorage.getItem(KEY_STORE),
    models: {},          // kind → its entry of /v1/models
    map: null,           // the /v1/map answer
    screen: [],          // the map's points where they are drawn: {word, x, y} in CSS pixels
    highlight: null,     // {query, neighbours}: the last neighbours query, drawn on the map
    hover: -1,           // the index of the point under the pointer
  };

  class ApiError extends Error {
    constructor(status, field, message, suggestions) {
      super(message);
      this.status = status;
      this.field = field;
      this.suggestions = suggestions || [];
    }
  }

  // GET path, or POST body as JSON; the answer's JSON, or an ApiError in the API's words.
  async function api(path, body) {
    const headers = {Accept: "application/json"};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (state.key) headers.Authorization = `Bearer ${state.key}`;
    let response;
    try {
      response = await fetch(path, {method: body === undefined ? "GET" : "POST", headers,
                                    body: body === undefined ? undefined : JSON.stringify(body)});
    } catch (err) {
      throw new ApiError(0, null, `cannot reach the server (${err.message}): is it still running?`);
    }
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null; // not JSON: a proxy's page, say
    }
    if (!response.ok) {
      const error = data && data.error;
      const message = error ? error.message : `HTTP ${response.status} ${response.statusText}`.trim();
      if (response.status === 401) askForKey(message);
      throw new ApiError(response.status, error ? error.field : null, message, error && error.suggestions);
    }
    if (data === null) throw new ApiError(response.status, null, "the server's answer is not JSON");
    return data;
  }

  // An error inline in `box`: "field: message", and the close spellings as buttons that run `retry(word)`.
  function showError(box, err, retry) {
    box.replaceChildren();
    if (err.field) box.append(el("span", {class: "field", text: err.field}), ": ");
    box.append(err.message || String(err));
    if (retry && err.suggestions && err.suggestions.length) {
      box.append(" Try:");
      for (const word of err.suggestions) {
        box.append(el("button", {type: "button", class: "link", text: word, onclick: () => retry(word)}));
      }
    }
    box.hidden = false;
  }

  function clearError(box) {
    box.hidden = true;
    box.replaceChildren();
  }

  const fmt = (x, digits = 3) => (typeof x === "number" ? (Number.isInteger(x) ? x.toLocaleString("en")
                                                                               : x.toFixed(digits)) : String(x));

  // -- the API key -------------------------------------------------------------------------------------------

  function askForKey(message) {
    const section = $("#key");
    const wasHidden = section.hidden;
    section.hidden = false;
    const box = $("#key-error");
    if (state.key) showError(box, new ApiError(401, null, message));
    else clearError(box);
    if (wasHidden) $("#key-input").focus();
  }

  function useKey(event) {
    event.preventDefault();
    const key = $("#key-input").value.trim();
    if (!key) return;
    state.key = key;
    sessionStorage.setItem(KEY_STORE, key);
    $("#key-input").value = "";
    $("#key").hidden = true;
    start();
  }

  // -- what is loaded ----------------------------------------------------------------------------------------

  async function start() {
    const status = $("#status");
    status.className = "status";
    status.textContent = "Loading what the server holds…";
    status.hidden = false;
    let listing;
    try {
      listing = await api("v1/models");
    } catch (err) {
      if (err.status === 401) {
        status.textContent = "The server needs an API key: give it above.";
      } else {
        status.className = "status error";
        status.textContent = `Could not list the models: ${err.message}`;
      }
      return;
    }
    status.hidden = true;
    state.models = Object.fromEntries(listing.models.map((m) => [m.kind, m]));
    showModels(listing.models);
    showKinds();
    if (state.models.vectors) loadMap();
  }

  function holds(model) {
    const vocab = `vocabulary ${fmt(model.vocab_size)}`;
    if (model.kind === "classifier") return `labels: ${(model.labels || []).join(", ")} · ${vocab}`;
    if (model.kind === "tagger") return `${(model.tags || []).length} tags · ${vocab}`;
    if (model.kind === "vectors") return `${fmt(model.vocab_size)} words × ${model.dim} dimensions`;
    return `${model.direction || "forward"} · ${vocab}`;
  }

  // The numbers a build recorded, nested ones by their dotted path ("intrinsic.wordsim353.spearman").
  function numbers(metrics, prefix = "") {
    return Object.entries(metrics || {}).flatMap(([k, v]) => {
      if (v && typeof v === "object" && !Array.isArray(v)) return numbers(v, `${prefix}${k}.`);
      return typeof v === "number" ? [[`${prefix}${k}`, v]] : [];
    });
  }

  // "name value" for the headline numbers a build recorded (accuracy, perplexity, correlation with human
  // judgements), each once; with none of those, every number.
  function metricsText(metrics) {
    const all = numbers(metrics);
    const headline = /(^|\.)(best_dev_accuracy|accuracy|macro_f1|heldout_ppl|perplexity|spearman)$/;
    const seen = new Set();
    const first = all.filter(([k]) => headline.test(k))
      .sort(([a], [b]) => a.split(".").length - b.split(".").length)
      .filter(([k, v]) => {
        const id = `${k.split(".").pop()}=${v}`;
        return seen.has(id) ? false : seen.add(id);
      });
    const shown = first.length ? first : all;
    return shown.map(([k, v]) => `${k.replace(/^intrinsic\./, "")} ${fmt(v)}`);
  }

  function showModels(models) {
    const list = $("#models-list");
    list.replaceChildren();
    for (const model of models) {
      const metrics = metricsText(model.metrics);
      const key = el("code", {title: `${model.key || "no manifest"}\n${model.path}`, text: model.short_key || "-"});
      list.append(el("li", {"data-kind": model.kind},
        el("strong", {text: NAMES[model.kind]}), " ", key, " ", el("span", {text: holds(model)}),
        el("span", {class: "metrics", title: metrics.join("\n"), text: metrics.slice(0, 3).join(" · ")})));
    }
    const missing = $("#models-missing");
    missing.replaceChildren();
    for (const kind of KINDS.filter((k) => !state.models[k])) missing.append(howToLoad(kind));
    $("#models").hidden = false;
  }

  function howToLoad(kind) {
    const [option, what] = HOW[kind];
    return el("li", {"data-missing": kind}, `No ${NAMES[kind]} is loaded: start the server with `,
              el("code", {text: option}), ` (${what}).`);
  }

  // Show what each loaded kind answers; where a kind is not loaded, say how to load it.
  function showKinds() {
    for (const node of $$("[data-needs]")) {
      node.hidden = !node.dataset.needs.split(" ").some((kind) => state.models[kind]);
    }
    for (const node of $$("[data-key]")) {
      const model = state.models[node.dataset.key];
      node.textContent = model && model.short_key ? model.short_key : "";
    }
    for (const list of $$("[data-missing-in]")) {
      list.replaceChildren(...KINDS.filter((k) => !state.models[k] && SECTION_OF[k] === list.dataset.missingIn)
                                   .map(howToLoad));
    }
    $("#text").hidden = false;
    $("#words").hidden = false;
    if (state.models.tagger) showLegend(new Set());
  }

  // -- text: classifier, tagger, language model ------------------------------------------------------------

  function tagColour(tag) {
    if (TAG_COLOURS[tag]) return TAG_COLOURS[tag];
    let hash = 0;
    for (const ch of tag) hash = (hash * 31 + ch.codePointAt(0)) % 360;
    return `hsl(${hash}, 65%, 84%)`;
  }

  function showLegend(present) {
    const legend = $("#tag-legend");
    legend.replaceChildren();
    for (const tag of state.models.tagger.tags || []) {
      const item = el("li", {"data-tag": tag, text: tag, class: present.has(tag) ? "present" : ""});
      item.style.background = tagColour(tag);
      legend.append(item);
    }
  }

  async function classify(text) {
    const out = $("#classify-out");
    clearError($(".error", out));
    out.setAttribute("aria-busy", "true");
    try {
      const answer = await api("v1/classify", {texts: [text]});
      const result = answer.results[0];
      $("#classify-label").textContent = `${result.label} (${fmt(result.probabilities[result.label])})`;
      $(".label-line", out).hidden = false;
      const bars = $("#classify-probs");
      bars.replaceChildren();
      for (const label of answer.labels) {
        const p = result.probabilities[label];
        const bar = el("div", {class: "bar"});
        bar.style.width = `${(100 * p).toFixed(1)}%`;
        bars.append(el("span", {class: label === result.label ? "top-label" : "", text: label}),
                    el("div", {class: "bar-track", role: "presentation"}, bar),
                    el("span", {class: "num", text: fmt(p)}));
      }
    } catch (err) {
      showError($(".error", out), err);
    } finally {
      out.removeAttribute("aria-busy");
    }
  }

  async function tag(text) {
    const out = $("#tag-out");
    clearError($(".error", out));
    out.setAttribute("aria-busy", "true");
    try {
      const result = (await api("v1/tag", {texts: [text]})).results[0];
      const tokens = $("#tag-tokens");
      tokens.replaceChildren();
      result.tokens.forEach((token, i) => {
        const chip = el("span", {class: "token", "data-tag": result.tags[i], title: result.tags[i]},
                        el("span", {class: "word", text: token}), el("span", {class: "tag", text: result.tags[i]}));
        chip.style.background = tagColour(result.tags[i]);
        tokens.append(chip);
      });
      showLegend(new Set(result.tags));
    } catch (err) {
      showError($(".error", out), err);
    } finally {
      out.removeAttribute("aria-busy");
    }
  }

  function numberOf(selector, parse) {
    const raw = $(selector).value.trim();
    if (raw === "") return undefined;
    const value = parse(raw);
    return Number.isNaN(value) ? raw : value; // the API names a value that is not a number
  }

  async function generate(text) {
    const out = $("#generate-out");
    clearError($(".error", out));
    out.setAttribute("aria-busy", "true");
    const body = {prompt: text, max_tokens: numberOf("#gen-max", (x) => Number(x)),
                  temperature: numberOf("#gen-temp", (x) => Number(x)), seed: numberOf("#gen-seed", (x) => Number(x))};
    for (const name of Object.keys(body)) if (body[name] === undefined) delete body[name];
    try {
      const answer = await api("v1/generate", body);
      const shown = $("#generate-text"); // the prompt as typed (the answer's text is the model's tokens)
      const mark = el("mark", {text: answer.generated});
      if (!answer.prompt.trim()) shown.replaceChildren(mark);
      else if (state.models.language_model.direction === "backward") shown.replaceChildren(mark, " ", answer.prompt);
      else shown.replaceChildren(answer.prompt, " ", mark);
      const why = answer.stopped === "eos" ? "the model ended the document" : "as many as asked for";
      $("#generate-about").textContent = `${answer.tokens} words generated (highlighted); ${why}.`;
    } catch (err) {
      showError($(".error", out), err);
    } finally {
      out.removeAttribute("aria-busy");
    }
  }

  function analyze(event) {
    event.preventDefault();
    const text = $("#text-input").value;
    const jobs = [];
    if (state.models.classifier) jobs.push(classify(text));
    if (state.models.tagger) jobs.push(tag(text));
    if (state.models.language_model) jobs.push(generate(text));
    return Promise.all(jobs);
  }

  // -- word vectors: neighbours, analogies -----------------------------------------------------------------

  function neighbourList(list, results) {
    list.replaceChildren(...results.map((r) => el("li", {},
      el("button", {type: "button", class: "link", text: r.word, title: `the neighbours of ${r.word}`,
                    onclick: () => similar(r.word)}),
      " ", el("span", {class: "score num", text: r.score.toFixed(3)}))));
  }

  async function similar(word) {
    if (word !== undefined) $("#similar-word").value = word;
    const query = $("#similar-word").value.trim();
    const out = $("#similar-out");
    clearError($(".error", out));
    const body = {words: [query]};
    const topn = numberOf("#similar-topn", (x) => Number(x));
    if (topn !== undefined) body.topn = topn;
    try {
      const result = (await api("v1/similar", body)).results[0];
      neighbourList($(".neighbours", out), result.results);
      state.highlight = {query: result.query, neighbours: result.results.map((r) => r.word)};
    } catch (err) {
      $(".neighbours", out).replaceChildren();
      state.highlight = null;
      showError($(".error", out), err, similar);
    }
    drawMap();
  }

  async function analogy(event) {
    if (event) event.preventDefault();
    const inputs = ["#analogy-a", "#analogy-b", "#analogy-c"].map((s) => $(s));
    const out = $("#analogy-out");
    clearError($(".error", out));
    try {
      const answer = await api("v1/analogy", {queries: [inputs.map((i) => i.value.trim())], topn: 5,
                                              method: $("#analogy-method").value});
      neighbourList($(".neighbours", out), answer.results[0].results);
    } catch (err) {
      $(".neighbours", out).replaceChildren();
      const at = /^queries\[0\]\[(\d)\]$/.exec(err.field || "");
      showError($(".error", out), err, at ? (word) => { inputs[Number(at[1])].value = word; analogy(); } : null);
    }
  }

  // -- the map ------------------------------------------------------------------------------------------------

  async function loadMap(event) {
    if (event) event.preventDefault();
    const params = new URLSearchParams();
    const n = numberOf("#map-n", (x) => Number(x));
    if (n !== undefined) params.set("n", n);
    const method = $("#map-method").value;
    params.set("method", method);
    clearError($("#map-error"));
    $("#map-caption").textContent = `Projecting the ${n ? fmt(n) : "most frequent"} words with ${METHOD_NAMES[method]}…`
      + " (the first time takes seconds)";
    try {
      state.map = await api(`v1/map?${params}`);
      state.hover = -1;
      drawMap();
    } catch (err) {
      $("#map-caption").textContent = "";
      showError($("#map-error"), err);
    }
  }

  function colours(canvas) {
    const css = getComputedStyle(canvas);
    const get = (name) => css.getPropertyValue(name).trim();
    return {bg: get("--map-bg"), point: get("--map-point"), label: get("--map-label"), query: get("--map-query"),
            neighbour: get("--map-neighbour"), hover: get("--map-hover")};
  }

  function drawMap() {
    const map = state.map;
    const canvas = $("#map-canvas");
    const width = canvas.parentElement.clientWidth;
    if (!map || !width) return;
    const height = Math.round(Math.max(260, Math.min(width * 0.66, 640)));
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
      canvas.style.height = `${height}px`;
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const c = colours(canvas);
    ctx.fillStyle = c.bg;
    ctx.fillRect(0, 0, width, height);

    // Scale the projection into the canvas, keeping its aspect; y grows upwards as on a plot.
    const xs = map.points.map((p) => p.x);
    const ys = map.points.map((p) => p.y);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const pad = 18;
    const scale = Math.min((width - 2 * pad) / (x1 - x0 || 1), (height - 2 * pad) / (y1 - y0 || 1));
    const ox = (width - scale * (x1 - x0)) / 2;
    const oy = (height - scale * (y1 - y0)) / 2;
    state.screen = map.points.map((p) => ({word: p.word, x: ox + (p.x - x0) * scale,
                                           y: height - (oy + (p.y - y0) * scale)}));
    const at = new Map(state.screen.map((p, i) => [p.word, i]));

    ctx.fillStyle = c.point;
    for (const p of state.screen) {
      ctx.beginPath();
      ctx.arc(p.x, p.y, 2.5, 0, 2 * Math.PI);
      ctx.fill();
    }

    // The query and its neighbours first claim their labels' room, then frequent words fill what is left.
    const placed = [];
    const fits = (box) => box.x >= 0 && box.x + box.w <= width && box.y >= 0 && box.y + box.h <= height
      && !placed.some((b) => box.x < b.x + b.w && b.x < box.x + box.w && box.y < b.y + b.h && b.y < box.y + box.h);
    // A label right of its point, else left, above or below: the first place that overlaps no label yet
    // (``always``: right or left whatever it overlaps).
    const label = (p, font, colour, always) => {
      ctx.font = font;
      const w = ctx.measureText(p.word).width;
      const h = parseInt(font.replace(/^bold /, ""), 10) + 2;
      const places = [{x: p.x + 6, y: p.y - h / 2}, {x: p.x - 6 - w, y: p.y - h / 2},
                      {x: p.x - w / 2, y: p.y - 6 - h}, {x: p.x - w / 2, y: p.y + 6}].map((b) => ({...b, w, h}));
      let box = places.find(fits);
      if (!box && always) box = places[0].x + w <= width ? places[0] : places[1];
      if (!box) return;
      placed.push(box);
      ctx.textBaseline = "middle";
      ctx.lineWidth = 3;
      ctx.strokeStyle = c.bg;
      ctx.strokeText(p.word, box.x, box.y + h / 2);
      ctx.fillStyle = colour;
      ctx.fillText(p.word, box.x, box.y + h / 2);
    };
    const hl = state.highlight;
    const query = hl ? at.get(hl.query) : undefined;
    const near = hl ? hl.neighbours.filter((w) => at.has(w)).map((w) => at.get(w)) : [];
    const marked = new Set([query, ...near]);

    if (query !== undefined) {
      ctx.strokeStyle = c.neighbour;
      ctx.globalAlpha = 0.45;
      ctx.lineWidth = 1;
      for (const i of near) {
        ctx.beginPath();
        ctx.moveTo(state.screen[query].x, state.screen[query].y);
        ctx.lineTo(state.screen[i].x, state.screen[i].y);
        ctx.stroke();
      }
      ctx.globalAlpha = 1;
    }
    const dot = (p, r, colour) => {
      ctx.beginPath();
      ctx.arc(p.x, p.y, r, 0, 2 * Math.PI);
      ctx.fillStyle = colour;
      ctx.fill();
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = c.bg;
      ctx.stroke();
    };
    for (const i of near) dot(state.screen[i], 4.5, c.neighbour);
    if (query !== undefined) dot(state.screen[query], 6, c.query);
    // The marked dots keep their room: no label drawn later (its outline is the background's colour) covers them.
    for (const i of marked) {
      if (i === undefined) continue;
      const r = i === query ? 7.5 : 6;
      placed.push({x: state.screen[i].x - r, y: state.screen[i].y - r, w: 2 * r, h: 2 * r});
    }
    if (query !== undefined) label(state.screen[query], "bold 14px system-ui, sans-serif", c.query, true);
    for (const i of near) label(state.screen[i], "bold 12px system-ui, sans-serif", c.neighbour, false);
    for (let i = 0; i < Math.min(state.screen.length, MAP_LABELS); i++) {
      if (!marked.has(i)) label(state.screen[i], "11px system-ui, sans-serif", c.label, false);
    }
    if (state.hover >= 0 && state.hover < state.screen.length) {
      const p = state.screen[state.hover];
      ctx.beginPath();
      ctx.arc(p.x, p.y, 7, 0, 2 * Math.PI);
      ctx.lineWidth = 2;
      ctx.strokeStyle = c.hover;
      ctx.stroke();
    }
    canvas.setAttribute("aria-label", `${map.points.length} most frequent words in two dimensions`
      + (hl && query !== undefined ? `; ${hl.query} and ${near.length} of its neighbours highlighted` : ""));
    caption(query, near);
  }

  function caption(query, near) {
    const map = state.map;
    let text = `The ${fmt(map.points.length)} most frequent words of the vectors, by ${METHOD_NAMES[map.method]}`
      + ` (seed ${map.seed}). Hover a point to see its word; click it for its neighbours.`;
    const hl = state.highlight;
    if (hl) {
      const total = hl.neighbours.length;
      text += query !== undefined
        ? ` ${hl.query} (pink) and ${near.length} of its ${total} neighbours (orange) are on the map.`
        : ` ${hl.query} is not among these words; ${near.length} of its ${total} neighbours (orange) are.`;
    }
    $("#map-caption").textContent = text;
  }

  function pointAt(event) {
    const box = $("#map-canvas").getBoundingClientRect();
    const x = event.clientX - box.left;
    const y = event.clientY - box.top;
    let best = -1;
    let bestDistance = 10 * 10; // within 10 CSS pixels
    state.screen.forEach((p, i) => {
      const d = (p.x - x) ** 2 + (p.y - y) ** 2;
      if (d <= bestDistance) {
        best = i;
        bestDistance = d;
      }
    });
    return best;
  }

  function hover(event) {
    const i = pointAt(event);
    const tip = $("#map-tip");
    if (i !== state.hover) {
      state.hover = i;
      drawMap();
    }
    if (i < 0) {
      tip.hidden = true;
      return;
    }
    const p = state.screen[i];
    tip.textContent = p.word;
    tip.hidden = false;
    const wrap = tip.parentElement.clientWidth;
    tip.style.left = `${Math.max(0, Math.min(p.x + 10, wrap - tip.offsetWidth))}px`;
    tip.style.top = `${Math.max(0, p.y - 28)}px`;
  }

  function leave() {
    $("#map-tip").hidden = true;
    if (state.hover >= 0) {
      state.hover = -1;
      drawMap();
    }
  }

  // -- wiring ------------------------------------------------------------------------------------------------

  function init() {
    $("#key-form").addEventListener("submit", useKey);
    $("#text-form").addEventListener("submit", analyze);
    $("#text-input").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        $("#text-form").requestSubmit();
      }
    });
    $("#similar-form").addEventListener("submit", (event) => { event.preventDefault(); similar(); });
    $("#analogy-form").addEventListener("submit", analogy);
    $("#map-form").addEventListener("submit", loadMap);
    const canvas = $("#map-canvas");
    canvas.addEventListener("mousemove", hover);
    canvas.addEventListener("mouseleave", leave);
    canvas.addEventListener("click", (event) => {
      const i = pointAt(event);
      if (i >= 0) similar(state.screen[i].word);
    });
    let width = 0;
    new ResizeObserver(() => {
      const now = canvas.parentElement.clientWidth;
      if (now !== width) {
        width = now;
        requestAnimationFrame(drawMap);
      }
    }).observe(canvas.parentElement);
    // ?n=300&method=pca in the page's address chooses the first map.
    const asked = new URLSearchParams(window.location.search);
    if (asked.get("n")) $("#map-n").value = asked.get("n");
    if (asked.get("method") in METHOD_NAMES) $("#map-method").value = asked.get("method");
    start();
  }

  init();
})();
