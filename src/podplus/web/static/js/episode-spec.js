// The episode's shape as the server declares it: the JSON Schema at GET /api/spec/episode.
//
// The studio form reads its ranges, defaults and choices from here rather than keeping
// copies of them, so a limit changed on the server is the limit the form shows.
//
//   const spec = await loadEpisodeSpec();
//   spec.limits("music_bed.gain_db");    // { minimum: -60, maximum: 0, default: -20, ... }
//   spec.choices("output.format");       // ["mp3", "m4a", "wav", "flac"]
//   spec.field("output")["x-lossy-formats"];
//
// The other bodies (a show, a publication) are read the same way from the OpenAPI document:
//
//   const schemas = await loadApiSchemas();
//   schemas.get("ShowInput").choices("category");

import { request } from "./api.js";

export const EPISODE_SPEC_PATH = "/api/spec/episode";
export const OPENAPI_PATH = "/openapi.json";

export class EpisodeSpec {
  /** `schema` is the whole document (where `$ref`s point); `root` the shape read, if not it. */
  constructor(schema, root = schema) {
    this.schema = schema;
    this.root = root;
  }

  /**
   * The schema of one field, by its dotted path ("loudness.target_lufs"), with `$ref`s
   * followed and a nullable field's null branch set aside; null if there is no such field.
   * A list's items are stepped into by name: "segments.gain_db".
   */
  field(path) {
    let node = this.resolve(this.root);
    for (const name of path.split(".")) {
      if (node.items && !node.properties?.[name]) node = this.resolve(node.items);
      const next = node.properties?.[name];
      if (!next) return null;
      node = this.resolve(next);
    }
    return node;
  }

  /** What a field allows: minimum, maximum, default, maxLength (undefined when not set). */
  limits(path) {
    const node = this.field(path) || {};
    return { minimum: node.minimum, maximum: node.maximum, default: node.default, maxLength: node.maxLength };
  }

  /** The values a field accepts, when it is a choice ([] when it is not). */
  choices(path) {
    return this.field(path)?.enum || [];
  }

  // A node with its `$ref` followed, the keywords beside the `$ref` (such as `default`)
  // winning; a nullable node (anyOf: [X, null]) becomes X with the outer keywords.
  resolve(node, seen = new Set()) {
    if (!node || typeof node !== "object") return {};
    if (typeof node.$ref === "string") {
      if (seen.has(node.$ref)) return {};
      seen.add(node.$ref);
      const { $ref, ...beside } = node;
      return { ...this.resolve(this.pointer($ref), seen), ...beside };
    }
    const variants = node.anyOf || node.oneOf;
    if (Array.isArray(variants)) {
      const real = variants.filter((variant) => variant?.type !== "null");
      if (real.length === 1) {
        const { anyOf, oneOf, ...outer } = node;
        return { ...this.resolve(real[0], seen), ...outer };
      }
    }
    return node;
  }

  // Only references into this document ("#/$defs/Output") are followed.
  pointer(ref) {
    if (!ref.startsWith("#")) return {};
    let node = this.schema;
    for (const part of ref.slice(1).split("/").filter(Boolean)) {
      node = node?.[part.replaceAll("~1", "/").replaceAll("~0", "~")];
    }
    return node || {};
  }
}

/** Fetch the schema (it needs no login). Call it once; an ApiError if it can't be had. */
export async function loadEpisodeSpec() {
  return new EpisodeSpec(await request(EPISODE_SPEC_PATH, { auth: false }));
}

/**
 * Fetch the OpenAPI document (no login) once; `get(name)` reads one of its body schemas
 * (`components.schemas[name]`, an empty shape if the server has none by that name).
 */
export async function loadApiSchemas() {
  const doc = await request(OPENAPI_PATH, { auth: false });
  const schemas = doc?.components?.schemas || {};
  return { get: (name) => new EpisodeSpec(doc, schemas[name] || {}) };
}
