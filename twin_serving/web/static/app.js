// The twin's page. Every value that may come from the corpus or the user is put on the page
// with textContent (never innerHTML), and links only ever get http(s) addresses.
"use strict";

const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
const $ = (selector, root = document) => root.querySelector(selector);
const MAX_LINKS = 5;
const number = (n) => Number(n).toLocaleString("en-US");

function safeUrl(value) {
  try {
    const url = new URL(value, window.location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

async function api(path, options = {}) {
  const headers = { "X-CSRF-Token": csrfToken, ...(options.headers || {}) };
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(options.json);
  }
  const response = await fetch(`/web/api${path}`, {
    method: options.method || "GET",
    body: options.body,
    headers,
    credentials: "same-origin",
    signal: options.signal,
  });
  if (response.status === 401) {
    window.location.assign("/web/login");
    throw new Error("Please log in again.");
  }
  return response;
}

// A fetch that never reached the server: said as what to do, not as the browser's error text.
function networkMessage(error) {
  return error && error.name === "AbortError"
    ? "Stopped."
    : "The page cannot reach the twin's server. Check that it is still running, then try again.";
}

// Error bodies are {"error": "...", "errors"?: {field: message}, "detail"?: [{loc, msg, type}]}.
function bodyMessage(body, status) {
  if (body && typeof body.error === "string" && !Array.isArray(body.detail)) return body.error;
  if (body && typeof body.detail === "string") return body.detail;
  if (status === 503) return "A system the twin needs is down: the status line at the top says which. Start it, then try again.";
  return `The server could not do this (status ${status}). Try again; if it repeats, the server log says why.`;
}

async function errorText(response) {
  const body = await response.json().catch(() => null);
  return bodyMessage(body, response.status);
}

// The API's request-validation details, in words a person acts on (never the validator's).
function plainValidation(field, type) {
  if (field === "prompt") {
    if (type === "string_too_long") return "The prompt is longer than the twin takes: shorten it (the counter below it shows how much fits).";
    return "Write what the twin should write about.";
  }
  if (field === "links") {
    if (type === "too_long") return `At most ${MAX_LINKS} links.`;
    return "Each link must be a full web address, such as https://example.com/post.";
  }
  return "This value is not accepted: check it and try again.";
}

// Field messages keyed by field name: the server's own (``errors``), or translated details.
function validationErrors(body, fallbackKey) {
  if (body && body.errors) return body.errors;
  if (body && Array.isArray(body.detail)) {
    const errors = {};
    for (const item of body.detail) {
      const key = (item.loc || []).filter((part) => part !== "body")[0] || fallbackKey;
      errors[key] = errors[key] || plainValidation(key, item.type);
    }
    return errors;
  }
  return null;
}

function lines(text) {
  return text.split("\n").map((s) => s.trim()).filter(Boolean);
}

function setMessage(element, text, kind) {
  element.textContent = text;
  element.dataset.kind = kind || "";
}

// ---------------------------------------------------------------- errors next to fields
function clearErrors(form) {
  form.querySelectorAll(".field-error").forEach((e) => (e.textContent = ""));
  form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
}

// Shows each message on the field it names, or the nearest enclosing one ("a.b.c" -> "a.b").
function showErrors(form, errors, { focus = true } = {}) {
  let first = null;
  for (const [key, message] of Object.entries(errors)) {
    let parts = key.split(".");
    let target = null;
    while (parts.length && !target) {
      target = form.querySelector(`[data-field="${CSS.escape(parts.join("."))}"]`);
      parts = parts.slice(0, -1);
    }
    const slot = target ? target.querySelector(".field-error") : null;
    const shown = slot || form.querySelector('[data-error-for="form"]') || form.querySelector(".field-error");
    shown.textContent = shown.textContent ? `${shown.textContent} ${message}` : message;
    const input = target && target.querySelector("input, textarea, select");
    if (input) input.setAttribute("aria-invalid", "true");
    if (target && target.closest("details")) target.closest("details").open = true;
    first = first || input || shown;
  }
  if (focus && first && first.focus) first.focus();
}

// ---------------------------------------------------------------- profiles
let authorCount = 0;

function addAuthor(author = {}) {
  const index = authorCount++;
  const fragment = $("#author-template").content.cloneNode(true);
  const fieldset = fragment.querySelector("fieldset");
  fieldset.dataset.index = String(index);
  // Which author of twin.yaml this is: the save edits that one in place.
  if (author._source) fieldset.dataset.source = JSON.stringify(author._source);
  fieldset.querySelector("legend").textContent = author.name ? author.name : "New author";
  fieldset.querySelectorAll("[data-field]").forEach((field) => {
    const path = field.dataset.field;
    field.dataset.field = `authors.${index}.${path}`;
    const input = field.querySelector("[data-kind]");
    const error = field.querySelector(".field-error");
    const id = `author-${index}-${path.replace(/\./g, "-")}`;
    error.id = `${id}-error`;
    if (!input) return;
    input.id = id;
    input.dataset.path = path;
    input.setAttribute("aria-describedby", error.id);
    field.querySelector("label").htmlFor = id;
    const [platform, key] = path.includes(".") ? path.split(".") : [null, path];
    const source = platform ? author[platform] || {} : author;
    const value = source[key];
    if (input.dataset.kind === "list") input.value = (value || []).join("\n");
    else if (input.dataset.kind === "flag") input.checked = value === undefined ? true : Boolean(value);
    else input.value = value || "";
  });
  fieldset.querySelectorAll("details.platform").forEach((details) => {
    const source = author[details.dataset.platform] || {};
    details.open = Object.values(source).some((v) => (Array.isArray(v) ? v.length : v && v !== true));
  });
  fieldset.querySelectorAll("input[data-upload]").forEach((input) => {
    input.id = `author-${index}-upload-${input.dataset.upload}`;
    input.addEventListener("change", () => uploadExport(fieldset, input));
  });
  fieldset.querySelector(".remove-author").addEventListener("click", () => markRemoved(fieldset, true));
  fieldset.querySelector(".undo-remove").addEventListener("click", () => markRemoved(fieldset, false));
  $("#authors").appendChild(fragment);
}

function authorName(fieldset) {
  return fieldset.querySelector('[data-path="name"]').value.trim() || "this new author";
}

// Removal is only a mark until "Save profiles" (and its confirmation): Undo brings it all back.
function markRemoved(fieldset, removed) {
  fieldset.classList.toggle("removed", removed);
  fieldset.dataset.removed = removed ? "true" : "";
  fieldset.querySelectorAll(":scope > .field, :scope > details, :scope > .remove-author").forEach((el) => {
    el.hidden = removed;
  });
  const note = fieldset.querySelector(".removed-note");
  note.hidden = !removed;
  note.querySelector(".removed-text").textContent = `“${authorName(fieldset)}” will be removed when you save.`;
  (removed ? note.querySelector(".undo-remove") : fieldset.querySelector(".remove-author")).focus();
  setMessage($("#profiles-message"), removed ? "Not saved yet." : "");
}

function keptFieldsets() {
  return [...document.querySelectorAll("#authors fieldset.author")].filter((f) => !f.dataset.removed);
}

function readAuthors() {
  // Keyed by position among the kept authors, so error paths (authors.N...) match the page.
  return keptFieldsets().map((fieldset, position) => {
    fieldset.querySelectorAll("[data-field]").forEach((field) => {
      field.dataset.field = field.dataset.field.replace(/^authors\.\d+/, `authors.${position}`);
    });
    const author = fieldset.dataset.source ? { _source: JSON.parse(fieldset.dataset.source) } : {};
    fieldset.querySelectorAll("[data-path]").forEach((input) => {
      const path = input.dataset.path;
      const [platform, key] = path.includes(".") ? path.split(".") : [null, path];
      let value;
      if (input.dataset.kind === "list") value = lines(input.value);
      else if (input.dataset.kind === "flag") value = input.checked;
      else value = input.value.trim() || null;
      if (platform) (author[platform] = author[platform] || {})[key] = value;
      else author[key] = value === null ? "" : value;
    });
    return author;
  });
}

function showAuthors(authors) {
  $("#authors").replaceChildren();
  authorCount = 0;
  (authors.length ? authors : [{}]).forEach((author) => addAuthor(author));
  fillAuthorChoice(authors.map((a) => a.name).filter(Boolean));
}

async function loadProfiles() {
  const response = await api("/profiles");
  const form = $("#profiles-form");
  if (!response.ok) {
    showErrors(form, { form: await errorText(response) }, { focus: false });
    addAuthor();
    return;
  }
  const data = await response.json();
  // The file's name on the page, its full path on hover.
  $("#profiles-path").textContent = data.path.split(/[\\/]/).pop();
  $("#profiles-path").title = data.path;
  showAuthors(data.authors);
}

function confirmRemoval(names) {
  const dialog = $("#confirm-remove");
  $("#confirm-remove-text").textContent =
    names.length === 1 ? `“${names[0]}” will be removed from the profile file.` : `${names.map((n) => `“${n}”`).join(", ")} will be removed from the profile file.`;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "remove"), { once: true });
  });
}

async function saveProfiles(event) {
  event.preventDefault();
  const form = $("#profiles-form");
  const message = $("#profiles-message");
  clearErrors(form);
  const removed = [...document.querySelectorAll("#authors fieldset.author")].filter((f) => f.dataset.removed);
  if (removed.length && !(await confirmRemoval(removed.map(authorName)))) {
    setMessage(message, "Not saved: nothing was removed. Press Undo to keep them, or save again.");
    return;
  }
  setMessage(message, "Saving…");
  // The form is never reset on failure: nothing typed is lost.
  let response;
  try {
    response = await api("/profiles", { method: "PUT", json: { authors: readAuthors() } });
  } catch (error) {
    setMessage(message, `Not saved: ${networkMessage(error)}`, "error");
    return;
  }
  if (response.ok) {
    const data = await response.json();
    showAuthors(data.authors); // the file's new positions, for the next save
    setMessage(message, "Saved.", "ok");
    return;
  }
  const body = await response.json().catch(() => null);
  showErrors(form, (response.status === 422 && validationErrors(body, "form")) || { form: bodyMessage(body, response.status) });
  setMessage(message, "Not saved: see the marked fields.", "error");
}

async function uploadExport(fieldset, input) {
  const file = input.files[0];
  if (!file) return;
  const name = fieldset.querySelector('[data-path="name"]').value.trim();
  const field = input.closest("[data-field]");
  const slot = field.querySelector(".field-error");
  slot.textContent = "";
  if (!name) {
    slot.textContent = "Give the author a name first.";
    return;
  }
  const platform = input.dataset.upload;
  const query = new URLSearchParams({ author: name, platform });
  let response;
  try {
    response = await api(`/profiles/exports?${query}`, {
      method: "POST",
      body: file,
      headers: { "Content-Type": "application/zip" },
    });
  } catch (error) {
    slot.textContent = networkMessage(error);
    return;
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    slot.textContent = body.errors ? Object.values(body.errors).join(" ") : bodyMessage(body, response.status);
    return;
  }
  const list = field.querySelector('textarea[data-kind="list"]');
  list.value = [...lines(list.value), body.path].join("\n");
  setMessage($("#profiles-message"), "Export uploaded: press “Save profiles” to use it.", "ok");
}

// ---------------------------------------------------------------- collection
const STATUS_WORDS = {
  QUEUED: "Waiting in Dagster's queue…",
  NOT_STARTED: "Waiting for Dagster to start the run…",
  STARTING: "Starting…",
  STARTED: "Collecting…",
  CANCELING: "Stopping…",
  CANCELED: "The run was canceled.",
  FAILURE: "The run failed: open it in Dagster to see why.",
  SUCCESS: "Done.",
  NOT_LAUNCHED: "not started",
};
// A follow-on run's state in a few words (it is not a collection: no "Collecting…").
const FOLLOW_ON_WORDS = {
  NOT_LAUNCHED: "not started yet",
  QUEUED: "waiting in Dagster's queue",
  NOT_STARTED: "waiting to start",
  STARTING: "starting",
  STARTED: "running",
  CANCELING: "stopping",
  CANCELED: "canceled",
  FAILURE: "failed",
  SUCCESS: "done",
};
const ACTIVE = new Set(["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"]);
const ASSET_LABELS = {
  linkedin_posts: "LinkedIn",
  medium_articles: "Medium",
  substack_posts: "Substack",
  github_repositories: "GitHub",
  custom_articles: "Other articles",
};

function runSummary(run) {
  const failed = run.failures.length;
  if (run.outcome === "ok") return "Done: every source answered.";
  if (run.outcome === "partial") {
    return `Done, but ${failed} ${failed === 1 ? "source" : "sources"} could not be read (listed below); what the others gave is stored.`;
  }
  return STATUS_WORDS[run.status] || run.status;
}

function showFollowOn(runs) {
  const list = $("#follow-on");
  list.replaceChildren();
  $("#follow-on-block").hidden = !runs.length;
  $("#follow-on-hint").hidden = !runs.some((run) => run.status === "NOT_LAUNCHED");
  for (const run of runs) {
    const item = document.createElement("li");
    item.dataset.job = run.job;
    item.dataset.status = run.status;
    const label = document.createElement("span");
    label.textContent = `${run.label}: `;
    const state = document.createElement("span");
    state.className = "run-state";
    state.textContent = FOLLOW_ON_WORDS[run.status] || run.status.toLowerCase();
    item.append(label, state);
    if (run.gate) {
      const gate = document.createElement("span");
      gate.className = "gate";
      gate.dataset.passed = String(run.gate.startsWith("passed"));
      gate.textContent = ` · promotion gate ${run.gate}`;
      item.append(gate);
    }
    const href = run.url && safeUrl(run.url);
    if (href) {
      const link = document.createElement("a");
      link.href = href;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.textContent = "open in Dagster";
      item.append(" · ", link);
    }
    list.append(item);
  }
}

function showRun(run) {
  const kinds = { ok: "ok", partial: "warning", failed: "error", canceled: "warning", running: "" };
  setMessage($("#collection-message"), `${runSummary(run)} (run ${run.run_id.slice(0, 8)}, ${run.steps_done} steps done)`, kinds[run.outcome]);
  const failures = $("#collection-failures");
  failures.replaceChildren();
  for (const failure of run.failures) {
    const item = document.createElement("li");
    const where = document.createElement("strong");
    where.textContent = `${ASSET_LABELS[failure.asset] || failure.asset}: `;
    const source = document.createElement("span");
    source.className = "failed-source";
    source.textContent = failure.source;
    const reason = document.createElement("span");
    reason.className = "failed-reason";
    reason.textContent = ` — ${failure.reason}`;
    item.append(where, source, reason);
    failures.append(item);
  }
  $("#collection-failures-block").hidden = !run.failures.length;
  const counts = $("#collection-counts");
  counts.replaceChildren();
  for (const [label, value] of Object.entries(run.counts)) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = String(value);
    dd.dataset.count = label;
    counts.append(dt, dd);
  }
  const link = $("#run-link");
  const href = safeUrl(run.url);
  link.hidden = !href;
  if (href) link.href = href;
  showFollowOn(run.follow_on || []);
  $("#collect").disabled = !run.finished;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let following = null;

// Polls the run until it ends, then the runs it set off while any of them is active (and for a
// minute after the end, while the sensors may still start them).
async function followRun(runId) {
  following = runId;
  let endedAt = null;
  while (following === runId) {
    await sleep(endedAt ? 3000 : 1500);
    let response;
    try {
      response = await api(`/collection/${encodeURIComponent(runId)}`);
    } catch (error) {
      setMessage($("#collection-message"), networkMessage(error), "error");
      return;
    }
    if (!response.ok) {
      setMessage($("#collection-message"), await errorText(response), "error");
      return;
    }
    const run = await response.json();
    showRun(run);
    if (!run.finished) continue;
    if (!endedAt) {
      endedAt = Date.now();
      loadStatus();
    }
    const busy = run.follow_on.some((r) => ACTIVE.has(r.status));
    const waiting = run.follow_on.some((r) => r.status === "NOT_LAUNCHED") && Date.now() - endedAt < 60_000;
    if (!busy && !waiting) {
      loadStatus();
      return;
    }
  }
}

async function collect() {
  const button = $("#collect");
  button.disabled = true;
  setMessage($("#collection-message"), "Asking Dagster to start the collection…");
  try {
    const response = await api("/collection", { method: "POST" });
    const body = await response.json().catch(() => null);
    if (response.status === 409 && body && body.run_id) {
      showRun(body); // the run Dagster already has: follow it instead
      setMessage($("#collection-message"), body.error, "warning");
      if (!body.finished) await followRun(body.run_id);
      return;
    }
    if (!response.ok) {
      setMessage($("#collection-message"), bodyMessage(body, response.status), "error");
      button.disabled = false;
      return;
    }
    showRun(body);
    await followRun(body.run_id);
  } catch (error) {
    setMessage($("#collection-message"), networkMessage(error), "error");
    button.disabled = false;
  }
}

async function resumeCollection() {
  let response;
  try {
    response = await api("/collection/current");
  } catch {
    return;
  }
  if (!response.ok) {
    setMessage($("#collection-message"), await errorText(response), "error");
    return;
  }
  const { run } = await response.json();
  if (!run) return;
  showRun(run);
  if (!run.finished || run.follow_on.some((r) => ACTIVE.has(r.status))) followRun(run.run_id);
}

// ---------------------------------------------------------------- the conversation
// Kept per author in this browser (localStorage), newest last; never sent anywhere.
const HISTORY_LIMIT = 30;
const historyKey = () => `twin.conversation.${$("#author").value || "*"}`;
let turns = [];
let streaming = null; // {controller, turn, element} while an answer streams

function loadHistory() {
  try {
    turns = JSON.parse(localStorage.getItem(historyKey()) || "[]");
  } catch {
    turns = [];
  }
  const list = $("#conversation");
  list.replaceChildren();
  turns.forEach((turn) => list.append(renderTurn(turn)));
  updateConversation();
}

function saveHistory() {
  try {
    localStorage.setItem(historyKey(), JSON.stringify(turns.slice(-HISTORY_LIMIT)));
  } catch {
    // Storage full or disabled: the conversation still shows, it is just not kept.
  }
}

function updateConversation() {
  $("#conversation-empty").hidden = turns.length > 0;
  $("#clear-conversation").hidden = turns.length === 0;
  const items = [...$("#conversation").children];
  items.forEach((item, i) => {
    item.querySelector(".regenerate").hidden = i !== items.length - 1 || Boolean(streaming);
  });
}

function addSource(list, source) {
  const item = document.createElement("li");
  const href = safeUrl(source.url || "");
  const title = source.title || source.url || "Untitled";
  if (href) {
    const link = document.createElement("a");
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.textContent = title;
    item.append(link);
  } else {
    const span = document.createElement("span");
    span.textContent = title;
    item.append(span);
  }
  // Which sources the user gave and which came from the knowledge base.
  const kind = document.createElement("span");
  kind.className = "source-kind";
  kind.textContent = source.kind === "link" ? "your link" : "past writing";
  item.append(" ", kind);
  if (source.snippet) {
    const snippet = document.createElement("p");
    snippet.className = "snippet";
    snippet.textContent = source.snippet;
    item.append(snippet);
  }
  list.append(item);
}

function fillTurn(element, turn) {
  element.querySelector(".prompt-text").textContent = turn.prompt;
  element.querySelector(".answer").textContent = turn.text || "";
  element.querySelector(".model").textContent = turn.model_version || "…";
  element.querySelector(".when").textContent = turn.at ? ` · ${new Date(turn.at).toLocaleString()}` : "";
  element.querySelector(".turn-error").textContent = turn.error || "";
  const warnings = element.querySelector(".warnings");
  warnings.replaceChildren();
  for (const text of turn.warnings || []) {
    const item = document.createElement("li");
    item.textContent = linkWarning(text);
    warnings.append(item);
  }
  const sources = element.querySelector(".sources");
  sources.replaceChildren();
  (turn.sources || []).forEach((source) => addSource(sources, source));
  element.querySelector(".no-sources").hidden = !turn.done || (turn.sources || []).length > 0;
}

function renderTurn(turn) {
  const element = $("#turn-template").content.firstElementChild.cloneNode(true);
  fillTurn(element, turn);
  element.querySelector(".copy").addEventListener("click", () => copyAnswer(element));
  element.querySelector(".regenerate").addEventListener("click", () => regenerate(element));
  return element;
}

// Server-sent events over fetch (EventSource cannot POST): blank-line separated blocks of
// "event:" and "data:" lines.
async function* readEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { event, data: data.join("\n") };
    }
  }
}

function readRequest() {
  return {
    prompt: $("#prompt").value.trim(),
    platform: $("#platform").value,
    links: lines($("#links").value),
    author: $("#author").value || null,
  };
}

// The checks the server would make, said before anything is sent (nothing is ever cut).
function requestProblems(request) {
  if (!request.prompt) return { prompt: "Write what the twin should write about." };
  const over = promptOverLimit();
  if (over) return { prompt: over };
  if (request.links.length > MAX_LINKS) return { links: `At most ${MAX_LINKS} links: you gave ${request.links.length}.` };
  const bad = request.links.find((link) => !safeUrl(link) || !/^https?:\/\//i.test(link));
  if (bad) return { links: `Not a web address: ${bad}. Links start with https:// (or http://).` };
  return null;
}

function setStreaming(state) {
  streaming = state;
  $("#ask-button").disabled = Boolean(state);
  $("#stop").hidden = !state;
  updateConversation();
}

// Streams one answer into ``element``; ``turn`` is updated and kept as it goes. A failure before
// the stream starts removes the turn (nothing was answered) and marks the field it concerns.
async function stream(request, turn, element, { fresh }) {
  const form = $("#ask-form");
  const answer = element.querySelector(".answer");
  const controller = new AbortController();
  setStreaming({ controller, turn, element });
  answer.setAttribute("aria-busy", "true");
  Object.assign(turn, { text: "", sources: [], warnings: [], error: "", done: false, model_version: null });
  fillTurn(element, turn);
  $("#links-warnings").replaceChildren();
  const fail = (errors) => {
    if (fresh) {
      element.remove();
      turns.pop();
    } else {
      turn.error = Object.values(errors).join(" ");
      fillTurn(element, turn);
    }
    showErrors(form, errors);
  };
  try {
    const response = await api("/ask", { method: "POST", json: request, signal: controller.signal });
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      fail((response.status === 422 && validationErrors(body, "form")) || (body && body.errors) || { form: bodyMessage(body, response.status) });
      return;
    }
    for await (const message of readEvents(response)) {
      const data = JSON.parse(message.data);
      if (message.event === "token") answer.textContent += data.text;
      else if (message.event === "error") turn.error = data.error;
      else if (message.event === "done") {
        Object.assign(turn, {
          text: data.text, sources: data.sources || [], warnings: data.warnings || [],
          model_version: data.model_version || "unknown", done: true,
        });
      }
    }
    if (!turn.done && !turn.error) turn.error = "The answer was cut off before it ended. Press “Regenerate” to try again.";
  } catch (error) {
    if (error.name === "AbortError") turn.error = "Stopped: the twin stopped writing. Press “Regenerate” for a new answer.";
    else if (!answer.textContent && fresh) return fail({ form: networkMessage(error) });
    else turn.error = networkMessage(error);
  } finally {
    answer.setAttribute("aria-busy", "false");
    setStreaming(null);
  }
  if (!turn.done) turn.text = answer.textContent;
  turn.at = new Date().toISOString();
  fillTurn(element, turn);
  showLinkWarnings(turn.warnings);
  saveHistory();
}

// "link <url> skipped: <why>" from the server, as the page says it.
function linkWarning(text) {
  return `Not used: ${text.replace(/^link /, "")}. The answer was written without it.`;
}

function showLinkWarnings(warnings) {
  const list = $("#links-warnings");
  list.replaceChildren();
  for (const text of warnings || []) {
    const item = document.createElement("li");
    item.textContent = linkWarning(text);
    list.append(item);
  }
}

async function ask(event) {
  event.preventDefault();
  if (streaming) return;
  const form = $("#ask-form");
  clearErrors(form);
  const request = readRequest();
  const problems = requestProblems(request);
  if (problems) return showErrors(form, problems);
  const turn = { ...request };
  turns.push(turn);
  const element = renderTurn(turn);
  $("#conversation").append(element);
  updateConversation();
  element.scrollIntoView({ block: "nearest" });
  await stream(request, turn, element, { fresh: true });
  // Focus stays in the prompt box, ready for the next question.
  $("#prompt").focus({ preventScroll: true });
}

async function regenerate(element) {
  if (streaming) return;
  const index = [...$("#conversation").children].indexOf(element);
  const turn = turns[index];
  if (!turn) return;
  clearErrors($("#ask-form"));
  const { prompt, platform, links, author } = turn;
  await stream({ prompt, platform, links, author }, turn, element, { fresh: false });
}

function stop() {
  if (streaming) streaming.controller.abort(); // closes the stream: the server stops generating
}

function clearConversation() {
  turns = [];
  saveHistory();
  loadHistory();
}

async function copyAnswer(element) {
  const answer = element.querySelector(".answer");
  const status = element.querySelector(".copy-status");
  try {
    await navigator.clipboard.writeText(answer.textContent);
    setMessage(status, "Copied.", "ok");
  } catch {
    // Clipboard API refused (plain http on another host): select the text for Ctrl+C instead.
    const range = document.createRange();
    range.selectNodeContents(answer);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    setMessage(status, "Selected: press Ctrl+C (⌘C) to copy.", "");
  }
}

function fillAuthorChoice(names) {
  const select = $("#author");
  const chosen = select.value || (names.length === 1 ? names[0] : "");
  select.replaceChildren(new Option("Any author", ""));
  names.forEach((name) => select.append(new Option(name, name)));
  select.value = names.includes(chosen) ? chosen : "";
  loadHistory();
}

// ---------------------------------------------------------------- the prompt counter
let measured = null; // {tokens, limit, chars, max_chars} of the text now in the box
let measureTimer = null;

function promptOverLimit() {
  const chars = $("#prompt").value.trim().length;
  const maxChars = measured ? measured.max_chars : 4000;
  if (chars > maxChars) {
    return `The prompt is ${number(chars)} characters; the twin takes at most ${number(maxChars)}. Shorten it by ${number(chars - maxChars)} (nothing was cut).`;
  }
  if (measured && measured.limit && measured.tokens > measured.limit) {
    return `The prompt needs ${number(measured.tokens)} tokens; the model takes ${number(measured.limit)}. Shorten it by about ${number(Math.ceil((measured.tokens - measured.limit) * 0.75))} words.`;
  }
  return null;
}

function showCounter() {
  const counter = $("#prompt-counter");
  const chars = $("#prompt").value.trim().length;
  const maxChars = measured ? measured.max_chars : 4000;
  const parts = [`${number(chars)} of ${number(maxChars)} characters`];
  if (measured && measured.limit) parts.unshift(`${number(measured.tokens)} of ${number(measured.limit)} tokens`);
  else if (measured) parts.push("token budget unknown while the model server is down");
  const over = promptOverLimit();
  counter.textContent = over || parts.join(" · ");
  counter.dataset.kind = over ? "error" : measured && measured.limit && measured.tokens > measured.limit * 0.8 ? "warning" : "";
}

async function measurePrompt() {
  const request = readRequest();
  try {
    const response = await api("/prompt-length", {
      method: "POST",
      json: { prompt: $("#prompt").value, platform: request.platform, author: request.author },
    });
    if (response.ok) measured = await response.json();
  } catch {
    // The counter keeps the characters; the next keystroke tries again.
  }
  showCounter();
}

function schedulePromptMeasure() {
  showCounter();
  clearTimeout(measureTimer);
  measureTimer = setTimeout(measurePrompt, 250);
}

// ---------------------------------------------------------------- status
function formatTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "never";
}

function formatValue(v) {
  if (v === null || v === undefined) return "—";
  return Number.isInteger(v) ? String(v) : Number(v).toFixed(3);
}

function showMetrics(model) {
  const table = $("#metrics-table");
  const body = table.querySelector("tbody");
  body.replaceChildren();
  const rows = model.explained || [];
  table.hidden = rows.length === 0;
  $("#status-metrics").textContent = model.error
    ? `unknown (${model.error})`
    : rows.length ? "" : "No evaluation yet: it is measured when a trained twin is evaluated.";
  for (const row of rows) {
    const tr = document.createElement("tr");
    tr.dataset.metric = row.key;
    const better = row.better ? `${row.better[0].toUpperCase()}${row.better.slice(1)} is better` : "";
    const cells = [row.label, formatValue(row.twin), formatValue(row.base), better, row.meaning];
    cells.forEach((text, i) => {
      const cell = document.createElement(i === 0 ? "th" : "td");
      if (i === 0) cell.scope = "row";
      cell.textContent = text;
      if (i === 1 && row.verdict) {
        const chip = document.createElement("span");
        chip.className = "verdict";
        chip.dataset.verdict = row.verdict;
        chip.textContent = row.verdict === "better" ? " better than base" : " worse than base";
        cell.append(chip);
      }
      tr.append(cell);
    });
    body.append(tr);
  }
  const reasons = $("#promotion-reasons");
  reasons.replaceChildren();
  for (const reason of model.promotion || []) {
    const item = document.createElement("li");
    item.textContent = `Promotion: ${reason}`;
    reasons.append(item);
  }
}

async function loadStatus() {
  let response;
  try {
    response = await api("/status");
  } catch {
    return;
  }
  if (!response.ok) return;
  const status = await response.json();
  const model = status.model;
  $("#status-model").textContent = model.error
    ? `unknown (${model.error})`
    : [model.version, model.note].filter(Boolean).join(" · ") || "none";
  const served = status.served || {};
  $("#status-served").textContent = served.error ? `nothing: ${served.error}` : served.version;
  $("#status-served").dataset.kind = served.error ? "error" : "";
  showMetrics(model);
  const kb = status.knowledge_base;
  $("#status-kb").textContent = kb.error
    ? `unknown (${kb.error})`
    : `${kb.chunks} ${kb.chunks === 1 ? "chunk" : "chunks"} of past writing`;
  const collection = status.collection;
  $("#status-collection").textContent = collection.error ? `unknown (${collection.error})` : formatTime(collection.last_run_at);
}

// The live line: the API's own readiness (/ready: model server and Milvus) and Dagster.
const SYSTEM_NAMES = { tgi: "Model server", milvus: "Milvus", dagster: "Dagster" };

function showSystem(name, ok, detail) {
  const pill = $(`#live [data-system="${name}"]`);
  pill.dataset.ok = ok ? "true" : "false";
  pill.textContent = `${SYSTEM_NAMES[name]} ${ok ? "up" : "down"}`;
  pill.title = detail || "";
}

async function loadLive() {
  try {
    const ready = await (await fetch("/ready", { credentials: "same-origin" })).json();
    for (const name of ["tgi", "milvus"]) {
      const check = ready.checks[name];
      showSystem(name, check.ok, check.detail);
    }
  } catch {
    ["tgi", "milvus"].forEach((name) => showSystem(name, false, "The twin's server did not answer."));
  }
  try {
    const dagster = await (await api("/dagster")).json();
    showSystem("dagster", dagster.ok, dagster.detail);
  } catch {
    showSystem("dagster", false, "The twin's server did not answer.");
  }
}

// ---------------------------------------------------------------- start
document.addEventListener("DOMContentLoaded", () => {
  const askForm = $("#ask-form");
  askForm.addEventListener("submit", ask);
  // Ctrl+Enter (⌘+Enter) sends from any box of the form; Enter alone is a new line.
  askForm.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      askForm.requestSubmit();
    }
  });
  $("#stop").addEventListener("click", stop);
  $("#clear-conversation").addEventListener("click", clearConversation);
  $("#author").addEventListener("change", () => {
    loadHistory();
    schedulePromptMeasure();
  });
  $("#platform").addEventListener("change", schedulePromptMeasure);
  $("#prompt").addEventListener("input", schedulePromptMeasure);
  $("#links").addEventListener("input", () => $("#links-warnings").replaceChildren());
  $("#collect").addEventListener("click", collect);
  $("#profiles-form").addEventListener("submit", saveProfiles);
  $("#add-author").addEventListener("click", () => addAuthor());
  $("#refresh-status").addEventListener("click", () => {
    loadStatus();
    loadLive();
  });
  const logout = $("#logout");
  if (logout) {
    logout.addEventListener("click", async () => {
      await fetch("/web/logout", { method: "POST", headers: { "X-CSRF-Token": csrfToken } });
      window.location.assign("/web/login");
    });
  }
  loadHistory();
  loadProfiles();
  loadStatus();
  loadLive();
  setInterval(loadLive, 15_000);
  resumeCollection();
  measurePrompt();
});
