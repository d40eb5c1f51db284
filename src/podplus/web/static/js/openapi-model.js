// Reading an OpenAPI 3.1 document for the API reference: operations by tag, security, and
// what each schema means (type, limits, nesting) as plain data. No DOM here: docs.js draws.

export const METHODS = ["get", "put", "post", "patch", "delete", "head", "options", "trace"];
const UNTAGGED = "Other";
// A schema that refers to itself, directly or through others, is drawn down to here.
export const MAX_DEPTH = 6;

// ---------------------------------------------------------------- reading the document

/** Follow local "$ref"s ("#/components/schemas/Episode"); name is the last one's last part. */
export function resolve(doc, node) {
  let name = null;
  const seen = new Set();
  let current = node;
  while (current && typeof current === "object" && typeof current.$ref === "string") {
    const ref = current.$ref;
    if (seen.has(ref) || !ref.startsWith("#/")) break;
    seen.add(ref);
    const parts = ref.slice(2).split("/").map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"));
    const target = parts.reduce((value, key) => (value instanceof Object ? value[key] : undefined), doc);
    if (target === undefined) break;
    name = parts[parts.length - 1];
    // OpenAPI 3.1 lets a $ref carry siblings (a description, say); they win.
    const { $ref, ...siblings } = current;
    current = { ...target, ...siblings };
  }
  return { schema: current || {}, name };
}

export function isNull(schema) {
  return schema.type === "null" || (Object.hasOwn(schema, "const") && schema.const === null);
}

/** Every operation, in path order, with its path-level parameters merged in. */
export function operations(doc) {
  const found = [];
  for (const [path, rawItem] of Object.entries(doc.paths || {})) {
    const item = resolve(doc, rawItem).schema;
    for (const method of METHODS) {
      const op = item[method];
      if (!op || typeof op !== "object") continue;
      const params = new Map();
      for (const raw of [...(item.parameters || []), ...(op.parameters || [])]) {
        const param = resolve(doc, raw).schema;
        params.set(`${param.in}:${param.name}`, param);
      }
      found.push({ path, method, op, parameters: [...params.values()] });
    }
  }
  return found;
}

export function anchorFor(entry, taken) {
  const base = `op-${entry.op.operationId || `${entry.method}-${entry.path}`}`
    .replace(/[^A-Za-z0-9_-]+/g, "-")
    .replace(/-+$/, "");
  let id = base;
  for (let n = 2; taken.has(id); n += 1) id = `${base}-${n}`;
  taken.add(id);
  return id;
}

/** Tag name → operations, in the document's tag order, then the order tags first appear. */
export function groupByTag(doc, entries) {
  const groups = new Map();
  for (const tag of doc.tags || []) groups.set(tag.name, { tag, entries: [] });
  for (const entry of entries) {
    // An operation is listed once, under its first tag, so the count is the document's.
    const name = (entry.op.tags && entry.op.tags[0]) || UNTAGGED;
    if (!groups.has(name)) groups.set(name, { tag: { name }, entries: [] });
    groups.get(name).entries.push(entry);
  }
  return [...groups.values()].filter((group) => group.entries.length);
}

/** "none", "optional" or the list of scheme names one of which is needed. */
export function securityOf(doc, op) {
  const requirements = op.security ?? doc.security ?? [];
  if (!requirements.length) return "none";
  if (requirements.some((req) => !Object.keys(req).length)) return "optional";
  return [...new Set(requirements.flatMap((req) => Object.keys(req)))];
}

export function schemeLabel(doc, name) {
  const scheme = resolve(doc, doc.components?.securitySchemes?.[name]).schema;
  if (scheme.type === "oauth2" || (scheme.type === "http" && /^bearer$/i.test(scheme.scheme || ""))) {
    return "Bearer token";
  }
  if (scheme.type === "apiKey") return `API key (${scheme.in} ${scheme.name})`;
  return name;
}

// ---------------------------------------------------------------- describing a schema

export const text = (value) => (typeof value === "string" ? value : JSON.stringify(value));
export const plural = (count, one, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

/**
 * What a schema means, flattened for a table row: its type label, whether null is allowed,
 * its limits as short phrases, and the schema whose fields (if any) nest under it.
 */
export function describe(doc, raw, depth = 0) {
  let { schema, name } = resolve(doc, raw);
  let nullable = false;
  if (depth > MAX_DEPTH) return describeOpaque(name);

  // anyOf/oneOf with null is the usual spelling of "may be null"; drop the null branch.
  const union = schema.anyOf || schema.oneOf;
  let variants = null;
  if (Array.isArray(union)) {
    const others = union.filter((branch) => !isNull(resolve(doc, branch).schema));
    nullable = others.length < union.length;
    const { anyOf, oneOf, ...outer } = schema;
    if (others.length === 1) {
      const inner = describe(doc, others[0], depth + 1);
      return {
        ...inner,
        nullable: nullable || inner.nullable,
        description: outer.description || inner.description,
        default: Object.hasOwn(outer, "default") ? outer.default : inner.default,
        examples: outer.examples || inner.examples,
      };
    }
    variants = others;
    schema = outer;
  }

  if (Array.isArray(schema.allOf)) {
    // Merge the parts: the usual use is "this named shape, plus a description".
    const merged = { properties: {}, required: [] };
    for (const part of schema.allOf) {
      const resolved = resolve(doc, part);
      name = name || resolved.name;
      const partSchema = describe(doc, part, depth + 1).schema;
      Object.assign(merged, partSchema, {
        properties: { ...merged.properties, ...(partSchema.properties || {}) },
        required: [...merged.required, ...(partSchema.required || [])],
      });
    }
    const { allOf, ...outer } = schema;
    schema = { ...merged, ...outer };
  }

  let types = Array.isArray(schema.type) ? [...schema.type] : schema.type ? [schema.type] : [];
  if (types.includes("null")) {
    nullable = true;
    types = types.filter((type) => type !== "null");
  }
  if (!types.length && schema.properties) types = ["object"];
  if (!types.length && Object.hasOwn(schema, "const")) types = [typeof schema.const];

  const constraints = [];
  const add = (key, phrase) => Object.hasOwn(schema, key) && constraints.push(phrase(schema[key]));
  add("const", (v) => `always ${text(v)}`);
  add("minimum", (v) => `min ${v}`);
  add("exclusiveMinimum", (v) => `more than ${v}`);
  add("maximum", (v) => `max ${v}`);
  add("exclusiveMaximum", (v) => `less than ${v}`);
  add("multipleOf", (v) => `multiple of ${v}`);
  add("minLength", (v) => `min length ${v}`);
  add("maxLength", (v) => `max length ${v}`);
  add("pattern", (v) => `pattern ${v}`);
  add("minItems", (v) => `min ${plural(v, "item")}`);
  add("maxItems", (v) => `max ${plural(v, "item")}`);
  if (schema.uniqueItems) constraints.push("unique items");
  add("minProperties", (v) => `min ${plural(v, "entry", "entries")}`);
  add("maxProperties", (v) => `max ${plural(v, "entry", "entries")}`);
  if (schema.readOnly) constraints.push("read-only");
  if (schema.writeOnly) constraints.push("write-only");
  if (schema.deprecated) constraints.push("deprecated");

  let label;
  let kind = "value"; // or "array" or "map": where nested fields sit in a field's path
  let nested = null;
  let closed = false;
  if (variants) {
    const described = variants.map((branch) => describe(doc, branch, depth + 1));
    label = described.map((variant) => variant.label).join(" | ");
    // "string | integer", each with its own limits: say which limit is whose.
    for (const variant of described) {
      const as = `as ${variant.label}:`;
      if (variant.enum) constraints.push(`${as} one of ${variant.enum.map(text).join(", ")}`);
      constraints.push(...variant.constraints.map((phrase) => `${as} ${phrase}`));
    }
  } else if (types.includes("array")) {
    const items = describe(doc, schema.items || {}, depth + 1);
    kind = "array";
    label = `array of ${items.label}`;
    nested = items.nested;
    constraints.push(...items.constraints.map((phrase) => `each: ${phrase}`));
    if (items.enum) constraints.push(`each one of ${items.enum.map(text).join(", ")}`);
  } else if (types.includes("object")) {
    const extra = schema.additionalProperties;
    const [namePattern, patterned] = Object.entries(schema.patternProperties || {})[0] || [];
    const values = patterned || (extra && typeof extra === "object" ? extra : null);
    if (!schema.properties && values) {
      // A map: {"artist": "Ada", …}. Say what the names and the values may be.
      const described = describe(doc, values, depth + 1);
      kind = "map";
      label = `map of ${described.label}`;
      if (namePattern) constraints.push(`names match ${namePattern}`);
      constraints.push(...described.constraints.map((phrase) => `each: ${phrase}`));
      nested = described.nested;
    } else {
      label = name || "object";
      if (schema.properties) nested = schema;
      closed = Boolean(schema.properties) && extra === false;
    }
    if (schema.propertyNames) {
      const names = describe(doc, schema.propertyNames, depth + 1);
      constraints.push(...names.constraints.map((phrase) => `names: ${phrase}`));
    }
  } else {
    label = types.length ? types.join(" | ") : name || "any";
    if (schema.format === "binary") label = "file";
    else if (schema.format) label = `${label} (${schema.format})`;
  }

  return {
    schema,
    name,
    kind,
    label,
    nullable,
    constraints,
    enum: Array.isArray(schema.enum) ? schema.enum : null,
    default: schema.default,
    description: schema.description || "",
    examples: schema.examples || (Object.hasOwn(schema, "example") ? [schema.example] : null),
    nested,
    closed,
    variants,
  };
}

/** What describe() says of a schema nested too deep to follow. */
export function describeOpaque(name) {
  return {
    schema: {},
    name,
    kind: "value",
    label: name || "any",
    nullable: false,
    constraints: [],
    enum: null,
    default: undefined,
    description: "",
    examples: null,
    nested: null,
    closed: false,
    variants: null,
  };
}

