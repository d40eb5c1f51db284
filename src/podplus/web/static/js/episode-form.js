// The episode form: title, intro, ordered segments, outro, music bed, clean-up (js/cleanup.js),
// loudness and format.
//
// It owns the episode description the API takes (toJSON) and nothing else: saving and
// assembling are the assembly panel's business.
//
// Its limits, defaults and formats are the server's (js/episode-spec.js), applied when the
// schema arrives. Until then, or if it never does, the selects say "Server default" and
// leave those fields out, and the API's own 422 messages say what doesn't fit.

import { CleanupFields } from "./cleanup.js";
import { choose, field, fillMediaSelect, formatDuration, h, setAttribute } from "./dom.js";
import { loadEpisodeSpec } from "./episode-spec.js";

// How the formats read; a format the server adds shows its value until it gets a label.
export const FORMAT_LABELS = { mp3: "MP3", m4a: "M4A (AAC)", wav: "WAV", flac: "FLAC" };
// The value of the "Server default" option each select holds until the schema arrives.
const UNSET = "";
const SELECTS = { intro: "intro_id", outro: "outro_id", music: "music_id" };
const NONE_LABELS = { intro: "No intro", outro: "No outro", music: "No music" };

export class EpisodeForm {
  /** onChange() runs after any edit, so the page can update what depends on the form. */
  constructor(panel, { onChange }) {
    this.onChange = onChange;
    this.form = panel.querySelector("form[data-form='episode']");
    this.heading = field(panel, "episode-heading");
    this.segmentList = this.form.querySelector("[data-list='segments']");
    this.segmentsEmpty = field(this.form, "segments-empty");
    this.summary = field(this.form, "summary");
    this.bitrate = field(this.form, "bitrate");
    this.media = new Map();
    this.segments = [];
    this.episodeId = null;
    // The episode as last loaded: the parts of its loudness and output the form doesn't
    // show ride along, since a PATCH replaces those objects whole.
    this.saved = null;
    // Formats a bitrate applies to; unknown (so never shown) until the schema says.
    this.lossyFormats = new Set();
    this.cleanup = new CleanupFields(this.form);
    // The user's shows by id, for the show picker and their presets.
    this.shows = new Map();
    this.elements.show_id.addEventListener("change", () => this.showChosen());

    this.form.addEventListener("input", () => this.changed());
    this.form.addEventListener("change", () => this.changed());
    this.setMedia([]);
    this.changed();
    loadEpisodeSpec().then(
      (spec) => this.applySpec(spec),
      // The form still works without it: the server fills its defaults and says what's wrong.
      () => {},
    );
  }

  /** Take limits, defaults and choices from the episode schema (an EpisodeSpec). */
  applySpec(spec) {
    const values = this.elements;
    const gain = spec.limits("music_bed.gain_db");
    setAttribute(values.music_gain_db, "min", gain.minimum);
    setAttribute(values.music_gain_db, "max", gain.maximum);
    // The default value, not the value: an episode loaded meanwhile keeps its own level.
    setAttribute(values.music_gain_db, "value", gain.default);
    setAttribute(values.title, "maxlength", spec.limits("title").maxLength);
    setAttribute(values.description, "maxlength", spec.limits("description").maxLength);
    this.lossyFormats = new Set(spec.field("output")?.["x-lossy-formats"] || []);
    this.cleanup.applySpec(spec);

    const formats = spec.choices("output.format");
    if (formats.length) {
      const chosen = values.format.value;
      values.format.replaceChildren(...formats.map((value) => h("option", { value }, FORMAT_LABELS[value] || String(value))));
      settle(values.format, chosen, spec.limits("output.format"));
    }
    for (const [select, path] of [
      [values.target_lufs, "loudness.target_lufs"],
      [values.bitrate_kbps, "output.bitrate_kbps"],
    ]) {
      const limits = spec.limits(path);
      const chosen = select.value;
      // A preset the server would refuse is no choice at all.
      for (const option of [...select.options]) {
        const value = Number(option.value);
        if (option.value !== chosen && (value < limits.minimum || value > limits.maximum)) option.remove();
      }
      settle(select, chosen, limits);
    }
    this.changed();
  }

  get elements() {
    return this.form.elements;
  }

  get ready() {
    return this.elements.title.value.trim() !== "" && this.segments.length > 0;
  }

  /** The library changed: refresh the pickers and forget anything deleted. */
  setMedia(items) {
    this.media = new Map(items.map((item) => [item.id, item]));
    for (const [kind, name] of Object.entries(SELECTS)) {
      fillMediaSelect(this.elements[name], { kind, items, noneLabel: NONE_LABELS[kind] });
    }
    this.segments = this.segments.filter((segment) => this.media.has(segment.media_id));
    this.changed();
  }

  /** The user's shows changed: refresh the show picker, keeping its choice. */
  setShows(shows) {
    this.shows = new Map(shows.map((show) => [show.id, show]));
    const select = this.elements.show_id;
    const chosen = select.value;
    select.replaceChildren(
      h("option", { value: "" }, "No show"),
      ...shows.map((show) => h("option", { value: show.id }, show.title)),
    );
    select.value = this.shows.has(chosen) ? chosen : "";
  }

  // A new episode takes the chosen show's defaults into the form, so what is shown is what
  // is sent; a saved episode only moves (its own settings stay).
  showChosen() {
    const show = this.shows.get(this.elements.show_id.value);
    if (show && this.episodeId === null) this.applyPreset(show.defaults);
  }

  /** Set the fields a show's defaults (its preset) give a value; leave the others. */
  applyPreset(defaults) {
    const values = this.elements;
    const media = (id) => (this.media.has(id) ? id : "");
    if (defaults.intro_id) values.intro_id.value = media(defaults.intro_id);
    if (defaults.outro_id) values.outro_id.value = media(defaults.outro_id);
    if (defaults.music_bed) {
      values.music_id.value = media(defaults.music_bed.media_id);
      values.music_gain_db.value = defaults.music_bed.gain_db;
      values.music_duck.checked = defaults.music_bed.duck;
    }
    choose(values.target_lufs, defaults.loudness?.target_lufs);
    choose(values.format, defaults.output?.format);
    choose(values.bitrate_kbps, defaults.output?.bitrate_kbps);
    this.changed();
  }

  /** Put a library item where its kind belongs: a segment, or the intro/outro/music slot. */
  use(item) {
    const select = SELECTS[item.kind];
    if (select) {
      this.elements[select].value = item.id;
    } else {
      this.segments.push({ media_id: item.id });
    }
    this.changed();
  }

  moveSegment(index, offset) {
    const target = index + offset;
    if (target < 0 || target >= this.segments.length) return;
    const [segment] = this.segments.splice(index, 1);
    this.segments.splice(target, 0, segment);
    this.changed();
    // Keep the keyboard on the segment that moved.
    const row = this.segmentList.children[target];
    const again = row?.querySelector(`[data-action='${offset < 0 ? "move-up" : "move-down"}']:not(:disabled)`);
    (again || row?.querySelector("button:not(:disabled)"))?.focus();
  }

  removeSegment(index) {
    this.segments.splice(index, 1);
    this.changed();
    const row = this.segmentList.children[Math.min(index, this.segments.length - 1)];
    row?.querySelector("[data-action='remove-segment']")?.focus();
  }

  changed() {
    this.renderSegments();
    this.bitrate.hidden = !this.lossyFormats.has(this.elements.format.value);
    const music = this.elements.music_id.value !== "";
    this.elements.music_gain_db.disabled = !music;
    this.elements.music_duck.disabled = !music;
    this.summary.textContent = this.describe();
    this.onChange();
  }

  renderSegments() {
    const count = this.segments.length;
    this.segmentList.replaceChildren(
      ...this.segments.map((segment, index) => {
        const item = this.media.get(segment.media_id);
        const name = item ? item.filename : "Missing file";
        const button = (action, label, text, onclick, disabled = false) =>
          h(
            "button",
            { type: "button", class: "icon-button", "aria-label": label, dataset: { action }, onclick, disabled },
            h("span", { "aria-hidden": "true" }, text),
          );
        return h(
          "li",
          { class: "segment", dataset: { mediaId: segment.media_id } },
          h("span", { class: "segment__index", "aria-hidden": "true" }, String(index + 1)),
          h("span", { class: "segment__name" }, name),
          h("span", { class: "segment__duration" }, formatDuration(item?.duration_s)),
          h(
            "span",
            { class: "segment__actions" },
            button("move-up", `Move ${name} earlier`, "↑", () => this.moveSegment(index, -1), index === 0),
            button("move-down", `Move ${name} later`, "↓", () => this.moveSegment(index, 1), index === count - 1),
            button("remove-segment", `Remove ${name} from the episode`, "×", () => this.removeSegment(index)),
          ),
        );
      }),
    );
    this.segmentsEmpty.hidden = count > 0;
  }

  describe() {
    const ids = [
      this.elements.intro_id.value,
      ...this.segments.map((segment) => segment.media_id),
      this.elements.outro_id.value,
    ].filter(Boolean);
    if (ids.length === 0) return "";
    const seconds = ids.reduce((total, id) => total + (this.media.get(id)?.duration_s || 0), 0);
    return `${ids.length} part${ids.length === 1 ? "" : "s"}, about ${formatDuration(seconds)} before crossfades and trims.`;
  }

  /**
   * The body for POST /api/episodes and PATCH /api/episodes/{id}. A field the form has no
   * value for is left out, so the server's default applies (or, on PATCH, the saved value).
   */
  toJSON() {
    const values = this.elements;
    const output = { ...this.saved?.output };
    if (values.format.value !== UNSET) output.format = values.format.value;
    if (this.lossyFormats.has(output.format) && values.bitrate_kbps.value !== UNSET) {
      output.bitrate_kbps = Number(values.bitrate_kbps.value);
    }
    const loudness = { ...this.saved?.loudness };
    if (values.target_lufs.value !== UNSET) loudness.target_lufs = Number(values.target_lufs.value);
    return {
      title: values.title.value.trim(),
      description: values.description.value,
      show_id: values.show_id.value || null,
      // null, not absent: PATCH keeps fields that are left out.
      intro_id: values.intro_id.value || null,
      outro_id: values.outro_id.value || null,
      segments: this.segments.map((segment) => ({ ...segment })),
      music_bed: values.music_id.value
        ? {
            media_id: values.music_id.value,
            gain_db: this.musicGain(),
            duck: values.music_duck.checked,
          }
        : null,
      cleanup: this.cleanup.toJSON(this.saved?.cleanup),
      loudness: Object.keys(loudness).length ? loudness : undefined,
      output: Object.keys(output).length ? output : undefined,
    };
  }

  // The bed's level within the input's range (the schema's); left out (undefined) when
  // the input is empty, so the server's default applies.
  musicGain() {
    const input = this.elements.music_gain_db;
    if (input.value.trim() === "") return undefined;
    const gain = Number(input.value);
    if (!Number.isFinite(gain)) return undefined;
    const low = input.min === "" ? -Infinity : Number(input.min);
    const high = input.max === "" ? Infinity : Number(input.max);
    return Math.min(high, Math.max(low, gain));
  }

  /** Show a saved episode for editing. */
  load(episode) {
    const values = this.elements;
    this.form.reset();
    this.cleanup.reset();
    this.episodeId = episode.id;
    this.saved = episode;
    this.heading.textContent = "Edit episode";
    values.title.value = episode.title;
    values.description.value = episode.description || "";
    if (episode.show_id) choose(values.show_id, episode.show_id);
    values.intro_id.value = episode.intro_id || "";
    values.outro_id.value = episode.outro_id || "";
    // Trims and gains set through the API ride along untouched.
    this.segments = episode.segments.map((segment) => ({ ...segment }));
    values.music_id.value = episode.music_bed?.media_id || "";
    if (episode.music_bed?.gain_db !== undefined) values.music_gain_db.value = episode.music_bed.gain_db;
    values.music_duck.checked = episode.music_bed?.duck ?? true;
    choose(values.target_lufs, episode.loudness?.target_lufs);
    choose(values.format, episode.output?.format);
    choose(values.bitrate_kbps, episode.output?.bitrate_kbps);
    this.cleanup.load(episode.cleanup);
    this.changed();
  }

  reset() {
    this.form.reset();
    this.cleanup.reset();
    this.episodeId = null;
    this.saved = null;
    this.heading.textContent = "New episode";
    this.segments = [];
    this.changed();
  }
}

// Once the schema is in: its default becomes what a reset shows, the "Server default"
// placeholder goes, and whatever was chosen before (a loaded episode's value) stays.
function settle(select, chosen, { default: fallback }) {
  for (const option of [...select.options]) {
    option.defaultSelected = false;
    if (option.value === UNSET) option.remove();
  }
  const initial = choose(select, fallback);
  if (initial) initial.defaultSelected = true;
  if (chosen !== UNSET) choose(select, chosen);
}
