// The episode form: title, intro, ordered segments, outro, music bed, loudness and format.
//
// It owns the episode description the API takes (toJSON) and nothing else: saving and
// assembling are the assembly panel's business.

import { field, formatDuration, h } from "./dom.js";

const DEFAULT_TRUE_PEAK_DB = -1;
const LOSSY_FORMATS = new Set(["mp3", "m4a"]);
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

    this.form.addEventListener("input", () => this.changed());
    this.form.addEventListener("change", () => this.changed());
    this.setMedia([]);
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
    const audio = items.filter((item) => item.kind !== "cover");
    for (const [kind, name] of Object.entries(SELECTS)) {
      const select = this.elements[name];
      const chosen = select.value;
      // Files uploaded as this kind first; any other audio can still be picked.
      const mine = audio.filter((item) => item.kind === kind);
      const others = audio.filter((item) => item.kind !== kind);
      const option = (item) => h("option", { value: item.id }, item.filename);
      select.replaceChildren(
        h("option", { value: "" }, NONE_LABELS[kind]),
        mine.length && others.length ? h("optgroup", { label: "Uploaded as " + kind }, mine.map(option)) : mine.map(option),
        mine.length && others.length ? h("optgroup", { label: "Other audio" }, others.map(option)) : others.map(option),
      );
      select.value = this.media.has(chosen) ? chosen : "";
    }
    this.segments = this.segments.filter((segment) => this.media.has(segment.media_id));
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
    const lossy = LOSSY_FORMATS.has(this.elements.format.value);
    this.bitrate.hidden = !lossy;
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

  /** The body for POST /api/episodes and PATCH /api/episodes/{id}. */
  toJSON() {
    const values = this.elements;
    const format = values.format.value;
    const output = { format };
    if (LOSSY_FORMATS.has(format)) output.bitrate_kbps = Number(values.bitrate_kbps.value);
    const gain = Number(values.music_gain_db.value);
    return {
      title: values.title.value.trim(),
      description: values.description.value,
      // null, not absent: PATCH keeps fields that are left out.
      intro_id: values.intro_id.value || null,
      outro_id: values.outro_id.value || null,
      segments: this.segments.map((segment) => ({ ...segment })),
      music_bed: values.music_id.value
        ? {
            media_id: values.music_id.value,
            gain_db: Number.isFinite(gain) ? Math.min(0, Math.max(-60, gain)) : -18,
            duck: values.music_duck.checked,
          }
        : null,
      loudness: { target_lufs: Number(values.target_lufs.value), true_peak_db: DEFAULT_TRUE_PEAK_DB },
      output,
    };
  }

  /** Show a saved episode for editing. */
  load(episode) {
    const values = this.elements;
    this.form.reset();
    this.episodeId = episode.id;
    this.heading.textContent = "Edit episode";
    values.title.value = episode.title;
    values.description.value = episode.description || "";
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
    this.changed();
  }

  reset() {
    this.form.reset();
    this.episodeId = null;
    this.heading.textContent = "New episode";
    this.segments = [];
    this.changed();
  }
}

// Select the option for a saved value, adding it if the form's list doesn't have it.
function choose(select, value) {
  if (value === undefined || value === null) return;
  const text = String(value);
  if (![...select.options].some((option) => option.value === text)) {
    select.append(h("option", { value: text }, text));
  }
  select.value = text;
}
