// The twin's page. Every value that may come from the corpus or the user is put on the page
// with textContent (never innerHTML), and links only ever get http(s) addresses.
"use strict";

const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
const $ = (selector, root = document) => root.querySelector(selector);

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
  });
  if (response.status === 401) {
    window.location.assign("/web/login");
    throw new Error("Please log in again.");
  }
  return response;
}

// Error bodies are {"error": "...", "errors"?: {field: message}, "detail"?: [{loc, msg}]}.
function bodyMessage(body, status) {
  if (body && typeof body.error === "string") return body.error;
  if (body && typeof body.detail === "string") return body.detail;
  return `The server answered ${status}.`;
}

async function errorText(response) {
  const body = await response.json().catch(() => null);
  return bodyMessage(body, response.status);
}

// Request-validation details ({loc: ["body", "links", 0], msg}) keyed by field name.
function validationErrors(body, fallbackKey) {
  if (body && body.errors) return body.errors;
  if (body && Array.isArray(body.detail)) {
    const errors = {};
    for (const item of body.detail) {
      const key = (item.loc || []).filter((part) => part !== "body")[0] || fallbackKey;
      errors[key] = errors[key] ? `${errors[key]} ${item.msg}` : item.msg;
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
function showErrors(form, errors) {
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
  if (first && first.focus) first.focus();
}

// ---------------------------------------------------------------- profiles
let authorCount = 0;

function addAuthor(author = {}) {
  const index = authorCount++;
  const fragment = $("#author-template").content.cloneNode(true);
  const fieldset = fragment.querySelector("fieldset");
  fieldset.dataset.index = String(index);
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
  fieldset.querySelector(".remove-author").addEventListener("click", () => fieldset.remove());
  $("#authors").appendChild(fragment);
}

function readAuthors() {
  // Keyed by position on the page, so error paths (authors.N...) match what is shown.
  const authors = [];
  document.querySelectorAll("#authors fieldset.author").forEach((fieldset, position) => {
    fieldset.querySelectorAll("[data-field]").forEach((field) => {
      field.dataset.field = field.dataset.field.replace(/^authors\.\d+/, `authors.${position}`);
    });
    const author = {};
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
    authors.push(author);
  });
  return authors;
}

async function loadProfiles() {
  const response = await api("/profiles");
  const form = $("#profiles-form");
  if (!response.ok) {
    showErrors(form, { form: await errorText(response) });
    addAuthor();
    return;
  }
  const data = await response.json();
  $("#profiles-path").textContent = data.path;
  $("#authors").replaceChildren();
  authorCount = 0;
  (data.authors.length ? data.authors : [{}]).forEach((author) => addAuthor(author));
}

async function saveProfiles(event) {
  event.preventDefault();
  const form = $("#profiles-form");
  const message = $("#profiles-message");
  clearErrors(form);
  setMessage(message, "Saving…");
  // The form is never reset on failure: nothing typed is lost.
  let response;
  try {
    response = await api("/profiles", { method: "PUT", json: { authors: readAuthors() } });
  } catch (error) {
    setMessage(message, `Not saved: ${error.message}`, "error");
    return;
  }
  if (response.ok) {
    setMessage(message, "Saved.", "ok");
    document.querySelectorAll("#authors fieldset.author").forEach((fieldset) => {
      const name = fieldset.querySelector('[data-path="name"]').value.trim();
      fieldset.querySelector("legend").textContent = name || "New author";
    });
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
  const response = await api(`/profiles/exports?${query}`, {
    method: "POST",
    body: file,
    headers: { "Content-Type": "application/zip" },
  });
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
  QUEUED: "Waiting for Dagster to start the run…",
  NOT_STARTED: "Waiting for Dagster to start the run…",
  STARTING: "Starting…",
  STARTED: "Collecting…",
  SUCCESS: "Done.",
  FAILURE: "The run failed: open it in Dagster to see why.",
  CANCELING: "Stopping…",
  CANCELED: "The run was canceled.",
};

function showRun(run) {
  setMessage(
    $("#collection-message"),
    `${STATUS_WORDS[run.status] || run.status} (run ${run.run_id.slice(0, 8)}, ${run.steps_done} steps done)`,
    run.status === "FAILURE" ? "error" : run.status === "SUCCESS" ? "ok" : "",
  );
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
}

async function followRun(runId) {
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const response = await api(`/collection/${encodeURIComponent(runId)}`);
    if (!response.ok) {
      setMessage($("#collection-message"), await errorText(response), "error");
      return;
    }
    const run = await response.json();
    showRun(run);
    if (run.finished) {
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
    if (!response.ok) {
      setMessage($("#collection-message"), await errorText(response), "error");
      return;
    }
    const run = await response.json();
    showRun(run);
    if (!run.finished) await followRun(run.run_id);
  } catch (error) {
    setMessage($("#collection-message"), error.message, "error");
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- asking
function addSource(source) {
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
  $("#sources").append(item);
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

async function ask(event) {
  event.preventDefault();
  const form = $("#ask-form");
  clearErrors(form);
  const prompt = $("#prompt").value.trim();
  const links = lines($("#links").value);
  if (!prompt) return showErrors(form, { prompt: "Write what the twin should write about." });
  if (links.length > 5) return showErrors(form, { links: "At most 5 links." });
  const bad = links.find((link) => !safeUrl(link) || !/^https?:\/\//i.test(link));
  if (bad) return showErrors(form, { links: `Not a web address: ${bad}` });

  const button = $("#ask-button");
  const answer = $("#answer");
  button.disabled = true;
  $("#answer-block").hidden = false;
  answer.textContent = "";
  answer.setAttribute("aria-busy", "true");
  $("#sources").replaceChildren();
  $("#no-sources").hidden = true;
  $("#answer-model").textContent = "…";
  setMessage($("#copy-status"), "");
  try {
    const response = await api("/ask", {
      method: "POST",
      json: { prompt, platform: $("#platform").value, links },
    });
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      showErrors(form, (response.status === 422 && validationErrors(body, "form")) || { form: bodyMessage(body, response.status) });
      $("#answer-block").hidden = true;
      return;
    }
    for await (const message of readEvents(response)) {
      const data = JSON.parse(message.data);
      if (message.event === "token") answer.textContent += data.text;
      else if (message.event === "error") showErrors(form, { form: `The answer stopped: ${data.error}` });
      else if (message.event === "done") {
        answer.textContent = data.text;
        $("#answer-model").textContent = data.model_version || "unknown";
        (data.sources || []).forEach(addSource);
        $("#no-sources").hidden = (data.sources || []).length > 0;
      }
    }
  } catch (error) {
    showErrors(form, { form: `The answer was cut off: ${error.message}` });
  } finally {
    answer.setAttribute("aria-busy", "false");
    button.disabled = false;
  }
}

async function copyAnswer() {
  const text = $("#answer").textContent;
  try {
    await navigator.clipboard.writeText(text);
    setMessage($("#copy-status"), "Copied.", "ok");
  } catch {
    // Clipboard API refused (plain http on another host): select the text for Ctrl+C instead.
    const range = document.createRange();
    range.selectNodeContents($("#answer"));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    setMessage($("#copy-status"), "Selected: press Ctrl+C (⌘C) to copy.", "");
  }
}

// ---------------------------------------------------------------- status
function formatTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "never";
}

async function loadStatus() {
  const response = await api("/status");
  if (!response.ok) return;
  const status = await response.json();
  const model = status.model;
  $("#status-model").textContent = model.error
    ? `unknown (${model.error})`
    : [model.version, model.note].filter(Boolean).join(" · ") || "none";
  const metrics = Object.entries(model.metrics || {});
  $("#status-metrics").textContent = metrics.length
    ? metrics.map(([k, v]) => `${k} ${Number.isInteger(v) ? v : Number(v).toFixed(3)}`).join(" · ")
    : "no evaluation yet";
  const kb = status.knowledge_base;
  $("#status-kb").textContent = kb.error
    ? `unknown (${kb.error})`
    : `${kb.chunks} ${kb.chunks === 1 ? "chunk" : "chunks"} of past writing`;
  const collection = status.collection;
  $("#status-collection").textContent = collection.error ? `unknown (${collection.error})` : formatTime(collection.last_run_at);
}

// ---------------------------------------------------------------- start
document.addEventListener("DOMContentLoaded", () => {
  $("#ask-form").addEventListener("submit", ask);
  $("#copy").addEventListener("click", copyAnswer);
  $("#collect").addEventListener("click", collect);
  $("#profiles-form").addEventListener("submit", saveProfiles);
  $("#add-author").addEventListener("click", () => addAuthor());
  $("#refresh-status").addEventListener("click", loadStatus);
  const logout = $("#logout");
  if (logout) {
    logout.addEventListener("click", async () => {
      await fetch("/web/logout", { method: "POST", headers: { "X-CSRF-Token": csrfToken } });
      window.location.assign("/web/login");
    });
  }
  loadProfiles();
  loadStatus();
});
