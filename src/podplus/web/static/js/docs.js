// The API reference: fetches /openapi.json and renders it, operations grouped by tag, with
// a jump list and a filter.
//
// Every string from the document reaches the page as text (h() makes text nodes), never as
// HTML: descriptions, enums and examples can hold anything, including markup.

import { field, h, showAlert } from "./dom.js";
import {
  MAX_DEPTH,
  anchorFor,
  describe,
  groupByTag,
  operations,
  resolve,
  schemeLabel,
  securityOf,
  text,
} from "./openapi-model.js";

const SPEC_URL = "/openapi.json";

// ---------------------------------------------------------------- rendering

/** A small, safe subset of CommonMark: paragraphs, "- " lists and `code`. */
function prose(source) {
  const blocks = [];
  for (const block of String(source || "").split(/\n\s*\n/)) {
    const lines = block.split("\n").map((line) => line.trim()).filter(Boolean);
    if (!lines.length) continue;
    if (lines.every((line) => /^[-*] /.test(line))) {
      blocks.push(h("ul", {}, lines.map((line) => h("li", {}, inline(line.slice(2))))));
    } else {
      blocks.push(h("p", {}, inline(lines.join(" "))));
    }
  }
  return blocks;
}

// A code span opens and closes with the same number of backticks: `x` or ``x``.
function inline(line) {
  return line.split(/(``.+?``|`[^`]+`)/).map((part) => {
    const ticks = part.startsWith("``") ? 2 : 1;
    const fence = "`".repeat(ticks);
    const isCode = part.length > 2 * ticks && part.startsWith(fence) && part.endsWith(fence);
    return isCode ? h("code", {}, part.slice(ticks, -ticks).trim()) : part;
  });
}

/** A path that may wrap after each "/", not in the middle of "{episode_id}". */
function breakable(path) {
  return path.split(/(?<=\/)/).flatMap((part, index) => (index ? [h("wbr"), part] : [part]));
}

function requiredness(required) {
  const [kind, words] = required ? ["field-required", "required"] : ["field-optional", "optional"];
  return h("span", { class: kind }, words);
}

function chip(content, kind = "") {
  return h("span", { class: `chip ${kind}`.trim() }, content);
}

/** Rows for every property of an object schema, nested objects folded into <details>. */
function fieldRows(doc, schema, { prefix = "", depth = 0, seen = new Set() } = {}) {
  const required = new Set(schema.required || []);
  const rows = [];
  for (const [name, raw] of Object.entries(schema.properties || {})) {
    rows.push(...fieldRow(doc, name, raw, {
      path: `${prefix}${name}`,
      required: required.has(name),
      depth,
      seen,
    }));
  }
  return rows;
}

/** "mp3, m4a, wav": each value as code, commas between. */
function codeList(values) {
  return values.flatMap((value, index) => [index ? ", " : "", h("code", {}, text(value))]);
}

function fieldRow(doc, name, raw, options) {
  const { path, required, depth, seen, location = null, description = "" } = options;
  const info = describe(doc, raw);
  const details = [];
  if (info.enum) details.push(chip(["one of ", ...codeList(info.enum)]));
  for (const phrase of info.constraints) details.push(chip(phrase));
  // An object's default repeats its fields' own defaults, which the nested rows show.
  const objectDefault = info.nested && info.default !== null && typeof info.default === "object";
  if (info.default !== undefined && !objectDefault) {
    details.push(chip(["default ", h("code", {}, JSON.stringify(info.default))]));
  }
  const examples = info.examples && info.examples.length ? info.examples : null;

  const prosePart = prose(description || info.description);
  const row = h(
    "tr",
    { dataset: { schemaPath: path } },
    h(
      "th",
      { scope: "row" },
      h("code", { class: "field-name" }, name),
      location ? h("span", { class: "field-in" }, `in ${location}`) : null,
      requiredness(required),
    ),
    h(
      "td",
      {},
      h("span", { class: "field-type" }, info.label),
      info.nullable ? chip("nullable", "chip--null") : null,
    ),
    h(
      "td",
      { class: "field-details" },
      prosePart.length ? h("div", { class: "prose" }, prosePart) : null,
      details.length ? h("p", { class: "field-limits" }, details) : null,
      examples ? h("p", { class: "example-inline" }, "Example: ", h("code", {}, text(examples[0]))) : null,
      !prosePart.length && !details.length && !examples ? h("span", { class: "none" }, "—") : null,
    ),
  );

  const rows = [row];
  const inner = new Set(seen);
  if (info.name) inner.add(info.name);
  if (info.nested && depth < MAX_DEPTH && !(info.name && seen.has(info.name))) {
    const prefix = { array: `${path}[].`, map: `${path}.*.` }[info.kind] || `${path}.`;
    const count = Object.keys(info.nested.properties || {}).length;
    const summary = ["Fields of ", h("code", {}, path), ` (${count})`];
    rows.push(nestedRow(summary, fieldTable(doc, info.nested, { prefix, depth: depth + 1, seen: inner })));
  } else if (info.variants && depth < MAX_DEPTH) {
    info.variants.forEach((branch, index) => {
      const variant = describe(doc, branch);
      if (!variant.nested) return;
      const summary = [`Option ${index + 1}: `, h("code", {}, variant.label)];
      const options = { prefix: `${path}.`, depth: depth + 1, seen: inner };
      rows.push(nestedRow(summary, fieldTable(doc, variant.nested, options)));
    });
  }
  return rows;
}

/** A full-width row under a field, holding its own fields folded away. */
function nestedRow(summary, table) {
  const details = h("details", { class: "nested" }, h("summary", {}, summary), table);
  return h("tr", { class: "nested-row" }, h("td", { colSpan: 3 }, details));
}

/** A table of fields: the properties of ``schema``, or rows already made (parameters). */
function fieldTable(doc, schema, options, { caption = null, first = "Field" } = {}) {
  const titles = [first, "Type", "Details"].map((title) => h("th", { scope: "col" }, title));
  return h(
    "table",
    { class: "fields" },
    caption ? h("caption", { class: "visually-hidden" }, caption) : null,
    h("thead", {}, h("tr", {}, titles)),
    h("tbody", {}, Array.isArray(schema) ? schema : fieldRows(doc, schema, options)),
  );
}

/** A body's schema: its fields as a table, or one line for a list, a file or a scalar. */
function schemaBlock(doc, raw, caption) {
  const info = describe(doc, raw);
  const summary = h("p", { class: "schema-type" }, "Type: ", h("code", {}, info.label));
  if (info.nullable) summary.append(" ", chip("nullable", "chip--null"));
  const parts = [summary];
  if (info.description) parts.push(h("div", { class: "prose" }, prose(info.description)));
  if (info.enum) parts.push(h("p", {}, "One of: ", codeList(info.enum)));
  const limits = info.closed ? [...info.constraints, "no other fields"] : info.constraints;
  if (limits.length) parts.push(h("p", { class: "schema-limits" }, limits.map((limit) => chip(limit))));
  if (info.nested) {
    const options = { prefix: info.kind === "array" ? "[]." : "", seen: new Set([info.name]) };
    parts.push(h("div", { class: "table-wrap" }, fieldTable(doc, info.nested, options, { caption })));
  }
  return parts;
}

/** A media type's `example` and named `examples`, each folded in a <details>. */
function examplesBlock(media) {
  const found = [];
  if (Object.hasOwn(media, "example")) found.push(["Example", media.example]);
  for (const [key, example] of Object.entries(media.examples || {})) {
    if (example && Object.hasOwn(example, "value")) {
      found.push([`Example: ${example.summary || key}`, example.value]);
    }
  }
  return found.map(([title, value]) => {
    const source = typeof value === "string" ? value : JSON.stringify(value, null, 2);
    // Focusable, so a keyboard can scroll a wide example sideways.
    const pre = h("pre", { tabIndex: 0 }, h("code", {}, source));
    return h("details", { class: "example" }, h("summary", {}, title), pre);
  });
}

function contentBlock(doc, content, { caption, collapsed }) {
  return Object.entries(content || {}).map(([type, rawMedia]) => {
    const media = resolve(doc, rawMedia).schema;
    const body = [];
    if (media.schema) {
      const block = schemaBlock(doc, media.schema, caption);
      const { label, nested } = describe(doc, media.schema);
      // A file or a bare "object" is one line; only a table is worth folding away.
      if (collapsed && nested) {
        const summary = h("summary", {}, "Schema: ", h("code", {}, label));
        body.push(h("details", { class: "schema" }, summary, block));
      } else {
        body.push(...block);
      }
    }
    body.push(...examplesBlock(media));
    return h("div", { class: "media" }, h("p", { class: "media__type" }, h("code", {}, type)), body);
  });
}

/** A response's OpenAPI links: the operations that can follow it, as in-page links. */
function linksBlock(links, byOperationId) {
  const targets = Object.values(links || {})
    .map((link) => byOperationId.get(link.operationId))
    .filter(Boolean);
  if (!targets.length) return null;
  return h(
    "p",
    { class: "response__links" },
    "Next: ",
    targets.flatMap((target, index) => [
      index ? ", " : "",
      h("a", { href: `#${target.id}` }, h("code", {}, `${target.method.toUpperCase()} ${target.path}`)),
    ]),
  );
}

function statusKind(status) {
  return { 2: "ok", 4: "client", 5: "server" }[String(status)[0]] || "info";
}

function authChip(doc, op) {
  const security = securityOf(doc, op);
  if (security === "none") return chip("No token needed", "chip--public");
  if (security === "optional") return chip("Token optional", "chip--public");
  const labels = new Set(security.map((name) => schemeLabel(doc, name)));
  return chip(`${[...labels].join(" or ")} required`, "chip--auth");
}

function section(title, ...content) {
  return h("section", { class: "op__section" }, h("h4", {}, title), ...content);
}

function parametersSection(doc, parameters, where) {
  const rows = parameters.flatMap((param) =>
    fieldRow(doc, param.name, param.schema || {}, {
      path: param.name,
      required: Boolean(param.required),
      depth: 0,
      seen: new Set(),
      location: param.in,
      description: param.description,
    }),
  );
  const table = fieldTable(doc, rows, {}, { caption: `Parameters of ${where}`, first: "Parameter" });
  return section("Parameters", h("div", { class: "table-wrap" }, table));
}

function requestBodySection(doc, raw, where) {
  const body = resolve(doc, raw).schema;
  return section(
    ["Request body ", requiredness(Boolean(body.required))],
    body.description ? h("div", { class: "prose" }, prose(body.description)) : null,
    contentBlock(doc, body.content, { caption: `Request body of ${where}`, collapsed: false }),
  );
}

function responsesSection(doc, responses, where, byOperationId) {
  const items = Object.entries(responses).map(([status, raw]) => {
    const response = resolve(doc, raw).schema;
    const head = h(
      "div",
      { class: "response__head" },
      h("span", { class: `status status--${statusKind(status)}` }, status),
      h("div", { class: "prose" }, prose(response.description)),
    );
    const caption = `${status} response of ${where}`;
    return h(
      "li",
      { class: "response" },
      head,
      contentBlock(doc, response.content, { caption, collapsed: true }),
      linksBlock(response.links, byOperationId),
    );
  });
  return section("Responses", h("ul", { class: "responses" }, items));
}

function operationCard(doc, entry, byOperationId) {
  const { op, method, path, parameters, id } = entry;
  const where = `${method.toUpperCase()} ${path}`;
  const title = h(
    "h3",
    { id: `${id}-title`, class: "op__title" },
    h("span", { class: `method method--${method}` }, method.toUpperCase()),
    " ", // so the heading reads "POST /api/episodes", not "POST/api/episodes"
    h("code", { class: op.deprecated ? "op__path op__path--deprecated" : "op__path" }, path),
  );
  const deprecated = op.deprecated ? chip("Deprecated", "chip--deprecated") : null;
  const badges = h("div", { class: "op__badges" }, authChip(doc, op), deprecated);
  return h(
    "article",
    { class: "op", id, "aria-labelledby": `${id}-title` },
    h("header", { class: "op__header" }, title, badges),
    op.summary ? h("p", { class: "op__summary" }, op.summary) : null,
    op.description ? h("div", { class: "prose op__description" }, prose(op.description)) : null,
    parameters.length ? parametersSection(doc, parameters, where) : null,
    op.requestBody ? requestBodySection(doc, op.requestBody, where) : null,
    op.responses ? responsesSection(doc, op.responses, where, byOperationId) : null,
  );
}

/** How to authenticate, one block per security scheme. */
function authSection(doc) {
  const schemes = Object.entries(doc.components?.securitySchemes || {});
  return schemes.map(([name, raw]) => {
    const scheme = resolve(doc, raw).schema;
    const lines = [h("h3", {}, schemeLabel(doc, name), " ", h("span", { class: "hint" }, `(${name})`))];
    lines.push(...prose(scheme.description));
    const send = (how, after = " with each request.") => h("p", {}, "Send ", h("code", {}, how), after);
    const tokenUrl = scheme.flows?.password?.tokenUrl;
    if (tokenUrl) {
      lines.push(h("p", {}, "Get a token from ", h("code", {}, `POST ${tokenUrl}`), " (form fields ",
        h("code", {}, "username"), " and ", h("code", {}, "password"), ")."));
      lines.push(send("Authorization: Bearer <token>"));
    } else if (scheme.type === "http") {
      const kind = (scheme.scheme || "bearer").replace(/^./, (first) => first.toUpperCase());
      lines.push(send(`Authorization: ${kind} <token>`));
    } else if (scheme.type === "apiKey") {
      const how = {
        query: `?${scheme.name}=<token>`,
        header: `${scheme.name}: <token>`,
        cookie: `Cookie: ${scheme.name}=<token>`,
      }[scheme.in];
      if (how) lines.push(send(how, ` in the ${scheme.in}.`));
    }
    return h("div", { class: "scheme" }, lines);
  });
}

// ---------------------------------------------------------------- the page

function searchText(entry) {
  const { op, method, path } = entry;
  return [method, path, op.summary, op.description, op.operationId, ...(op.tags || [])]
    .filter(Boolean)
    .join(" ")
    .toLowerCase();
}

function render(doc, root) {
  const info = doc.info || {};
  const title = info.title || "podplus";
  field(root, "title").textContent = /\bapi\b/i.test(title) ? title : `${title} API`;
  document.title = `API reference — ${title}`;
  field(root, "meta").replaceChildren(
    chip(`version ${info.version || "?"}`, "chip--version"),
    " ",
    chip(`OpenAPI ${doc.openapi || "?"}`),
  );
  field(root, "description").replaceChildren(...prose(info.description));
  const auth = authSection(doc);
  root.querySelector("[data-list='auth']").replaceChildren(...auth);
  field(root, "auth").hidden = !auth.length;

  const entries = operations(doc);
  const taken = new Set();
  for (const entry of entries) entry.id = anchorFor(entry, taken);
  const byOperationId = new Map(entries.map((entry) => [entry.op.operationId, entry]));
  const tagList = root.querySelector("[data-list='tags']");
  const jump = root.querySelector("[data-list='jump']");
  const items = [];
  const groups = groupByTag(doc, entries).map((group) => {
    const groupId = `tag-${group.tag.name.replace(/[^A-Za-z0-9_-]+/g, "-")}`;
    const links = [];
    const cards = group.entries.map((entry) => {
      const card = operationCard(doc, entry, byOperationId);
      const badge = `method method--${entry.method} method--small`;
      const method = h("span", { class: badge }, entry.method.toUpperCase());
      const target = h("span", { class: "jump__path" }, breakable(entry.path));
      const link = h("li", {}, h("a", { href: `#${entry.id}`, class: "jump__link" }, method, " ", target));
      links.push(link);
      items.push({ card, link, haystack: searchText(entry) });
      return card;
    });
    const section = h(
      "section",
      { class: "tag", "aria-labelledby": `${groupId}-title` },
      h("h2", { id: `${groupId}-title`, class: "tag__title" }, group.tag.name),
      h("div", { class: "prose tag__description" }, prose(group.tag.description)),
      cards,
    );
    const tagLink = h("a", { href: `#${groupId}-title`, class: "jump__tag" }, group.tag.name);
    const jumpGroup = h("li", {}, tagLink, h("ul", {}, links));
    return { section, jumpGroup, members: items.slice(items.length - cards.length) };
  });
  tagList.replaceChildren(...groups.map((group) => group.section));
  jump.replaceChildren(...groups.map((group) => group.jumpGroup));

  const input = document.getElementById("docs-filter");
  const count = field(root, "count");
  const noMatch = field(root, "no-match");
  const apply = () => {
    const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const item of items) {
      const match = words.every((word) => item.haystack.includes(word));
      item.card.hidden = !match;
      item.link.hidden = !match;
      if (match) shown += 1;
    }
    for (const group of groups) {
      const empty = group.members.every((item) => item.card.hidden);
      group.section.hidden = empty;
      group.jumpGroup.hidden = empty;
    }
    count.textContent = words.length
      ? `${shown} of ${items.length} operations match.`
      : `${items.length} operations.`;
    noMatch.textContent = `No operation matches “${input.value.trim()}”.`;
    noMatch.hidden = shown > 0;
  };
  input.addEventListener("input", apply);
  input.disabled = false;
  apply();

  // The browser looked for the #fragment before the operations existed.
  if (window.location.hash.length > 1) {
    document.getElementById(decodeURIComponent(window.location.hash.slice(1)))?.scrollIntoView();
  }
}

async function start() {
  const root = document.body;
  const loading = field(root, "loading");
  try {
    const response = await fetch(SPEC_URL, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${SPEC_URL} answered HTTP ${response.status}.`);
    const doc = await response.json();
    if (!doc || typeof doc !== "object" || typeof doc.paths !== "object") {
      throw new Error(`${SPEC_URL} is not an OpenAPI document.`);
    }
    render(doc, root);
  } catch (error) {
    showAlert(field(root, "error"), `Couldn't load the API description: ${error.message}`);
  } finally {
    loading.hidden = true;
  }
}

start();
