// The show form: what a show's feed tells podcast apps and directories, and the show's
// defaults (the preset a new episode of the show starts from).
//
// It owns the show description the API takes (toJSON) and nothing else: saving is the
// Shows view's business (js/shows.js). Its limits and choices are the server's, from the
// OpenAPI document: Apple's categories and each one's subcategories (ShowInput's
// `x-apple-categories`), the show types, the lengths, and the defaults' ranges (the
// episode's own Loudness, Output and MusicBed). Until the document arrives the API's 422
// messages say what doesn't fit.

import { choose, fillMediaSelect, h, setAttribute } from "./dom.js";
import { FORMAT_LABELS } from "./episode-form.js";

const TYPE_LABELS = { episodic: "Episodic (newest first)", serial: "Serial (in order, oldest first)" };
// One-line fields sent as typed (trimmed); the optional ones are null when empty.
const TEXT_FIELDS = ["title", "author", "owner_name", "owner_email", "language", "link", "copyright", "slug"];
const OPTIONAL = new Set(["link", "copyright", "slug"]);
const MEDIA_SELECTS = { intro: "intro_id", outro: "outro_id", music: "music_id" };
const NONE_LABELS = { intro: "No intro", outro: "No outro", music: "No music" };
// The tags the form shows; any others a show has (set through the API) ride along.
const TAG_INPUTS = { artist: "tag_artist", album: "tag_album" };
const UNSET = "";

export class ShowForm {
  constructor(form) {
    this.form = form;
    // The show as last loaded (null for a new one): what the form doesn't show rides along.
    this.saved = null;
    this.media = [];
    this.subcategories = {};
    this.lossyFormats = new Set(["mp3", "m4a"]);
    // A loaded show's files not yet in the library list (it may load after the show).
    this.pendingMedia = null;
    this.elements.category.addEventListener("change", () => this.fillSubcategories());
    for (const name of Object.values(MEDIA_SELECTS)) {
      this.elements[name].addEventListener("change", () => (this.pendingMedia = null));
    }
    this.form.addEventListener("change", () => this.changed());
    this.changed();
  }

  get elements() {
    return this.form.elements;
  }

  /** Take limits and choices from the OpenAPI document's schemas (loadApiSchemas()). */
  applySchemas(schemas) {
    const values = this.elements;
    const show = schemas.get("ShowInput");
    for (const name of [...TEXT_FIELDS, "description"]) {
      setAttribute(values[name], "maxlength", show.limits(name).maxLength);
    }
    this.subcategories = show.root["x-apple-categories"] || {};

    const category = values.category.value;
    values.category.replaceChildren(
      h("option", { value: "" }, "Choose a category"),
      ...show.choices("category").map((value) => h("option", { value }, value)),
    );
    values.category.value = category;

    const types = show.choices("type");
    if (types.length) {
      const chosen = values.type.value;
      values.type.replaceChildren(...types.map((value) => h("option", { value }, TYPE_LABELS[value] || value)));
      const initial = choose(values.type, show.limits("type").default);
      if (initial) initial.defaultSelected = true;
      choose(values.type, chosen);
    }

    const gain = schemas.get("MusicBed").limits("gain_db");
    setAttribute(values.music_gain_db, "min", gain.minimum);
    setAttribute(values.music_gain_db, "max", gain.maximum);
    setAttribute(values.music_gain_db, "value", gain.default);

    const output = schemas.get("Output");
    this.lossyFormats = new Set(output.root["x-lossy-formats"] || []);
    const formats = output.choices("format");
    if (formats.length) {
      const chosen = values.format.value;
      values.format.replaceChildren(
        h("option", { value: UNSET }, "Episode default"),
        ...formats.map((value) => h("option", { value }, FORMAT_LABELS[value] || String(value))),
      );
      values.format.value = chosen;
    }
    // A preset the server would refuse is no choice at all.
    dropOutOfRange(values.target_lufs, schemas.get("Loudness").limits("target_lufs"));
    dropOutOfRange(values.bitrate_kbps, output.limits("bitrate_kbps"));

    this.fillSubcategories();
    this.changed();
  }

  /** The media library changed: refresh the intro, outro and music pickers. */
  setMedia(items) {
    this.media = items;
    for (const [kind, name] of Object.entries(MEDIA_SELECTS)) {
      fillMediaSelect(this.elements[name], { kind, items, noneLabel: NONE_LABELS[kind] });
    }
    // A show loaded before the library: its choices can be shown now.
    if (this.pendingMedia) this.loadMedia(this.pendingMedia);
    this.changed();
  }

  fillSubcategories() {
    const select = this.elements.subcategory;
    const chosen = select.value;
    const own = this.subcategories[this.elements.category.value] || [];
    select.replaceChildren(h("option", { value: "" }, "None"), ...own.map((value) => h("option", { value }, value)));
    select.value = own.includes(chosen) ? chosen : "";
    select.disabled = own.length === 0;
  }

  changed() {
    const values = this.elements;
    const music = values.music_id.value !== "";
    values.music_gain_db.disabled = !music;
    values.music_duck.disabled = !music;
    const bitrate = values.bitrate_kbps.closest("[data-field='show-bitrate']");
    bitrate.hidden = values.format.value !== UNSET && !this.lossyFormats.has(values.format.value);
  }

  /** The body for POST /api/shows and PATCH /api/shows/{id}. */
  toJSON() {
    const values = this.elements;
    const body = {};
    for (const name of TEXT_FIELDS) {
      const text = values[name].value.trim();
      body[name] = OPTIONAL.has(name) && text === "" ? null : text;
    }
    body.description = values.description.value.trim();
    body.category = values.category.value;
    body.subcategory = values.subcategory.value || null;
    body.type = values.type.value;
    body.explicit = values.explicit.checked;
    body.defaults = this.defaultsJSON();
    return body;
  }

  // The show's preset, over the saved one (a PATCH replaces `defaults` whole, so what this
  // form doesn't show rides along).
  defaultsJSON() {
    const values = this.elements;
    const saved = this.saved?.defaults || {};
    const gain = values.music_gain_db.value.trim();
    const musicBed = values.music_id.value
      ? {
          media_id: values.music_id.value,
          ...(gain === "" ? {} : { gain_db: Number(gain) }),
          duck: values.music_duck.checked,
        }
      : null;
    const loudness = values.target_lufs.value === UNSET ? null : { ...saved.loudness, target_lufs: Number(values.target_lufs.value) };
    let output = null;
    if (values.format.value !== UNSET) {
      output = { ...saved.output, format: values.format.value };
      if (this.lossyFormats.has(output.format) && values.bitrate_kbps.value !== UNSET) {
        output.bitrate_kbps = Number(values.bitrate_kbps.value);
      }
    }
    const tags = { ...saved.tags };
    for (const [tag, name] of Object.entries(TAG_INPUTS)) {
      const text = values[name].value.trim();
      if (text) tags[tag] = text;
      else delete tags[tag];
    }
    return {
      intro_id: values.intro_id.value || null,
      outro_id: values.outro_id.value || null,
      music_bed: musicBed,
      loudness,
      output,
      tags: Object.keys(tags).length ? tags : null,
    };
  }

  /** Show a saved show for editing. */
  load(show) {
    const values = this.elements;
    this.form.reset();
    this.saved = show;
    for (const name of TEXT_FIELDS) values[name].value = show[name] ?? "";
    values.description.value = show.description;
    choose(values.category, show.category);
    this.fillSubcategories();
    if (show.subcategory) choose(values.subcategory, show.subcategory);
    choose(values.type, show.type);
    values.explicit.checked = show.explicit;
    const defaults = show.defaults || {};
    this.loadMedia(defaults);
    if (defaults.music_bed) {
      values.music_gain_db.value = defaults.music_bed.gain_db;
      values.music_duck.checked = defaults.music_bed.duck;
    }
    choose(values.target_lufs, defaults.loudness?.target_lufs);
    choose(values.format, defaults.output?.format);
    choose(values.bitrate_kbps, defaults.output?.bitrate_kbps);
    for (const [tag, name] of Object.entries(TAG_INPUTS)) values[name].value = defaults.tags?.[tag] ?? "";
    this.changed();
  }

  // The preset's files, as far as the library lists them; the rest wait for setMedia.
  loadMedia(defaults) {
    const values = this.elements;
    const wanted = { intro_id: defaults.intro_id, outro_id: defaults.outro_id, music_id: defaults.music_bed?.media_id };
    let missing = false;
    for (const [name, id] of Object.entries(wanted)) {
      const known = Boolean(id) && this.media.some((item) => item.id === id);
      values[name].value = known ? id : "";
      missing ||= Boolean(id) && !known;
    }
    this.pendingMedia = missing ? defaults : null;
  }

  reset() {
    this.form.reset();
    this.saved = null;
    this.pendingMedia = null;
    this.fillSubcategories();
    this.changed();
  }
}

// Remove the preset options outside the schema's range (keeping "Episode default").
function dropOutOfRange(select, { minimum, maximum }) {
  for (const option of [...select.options]) {
    if (option.value === UNSET) continue;
    const value = Number(option.value);
    if (value < minimum || value > maximum) option.remove();
  }
}
