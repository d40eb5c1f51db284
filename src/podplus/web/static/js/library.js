// The media library: every upload with its length and loudness, and a button to use it.

import { api } from "./api.js";
import { field, formatDb, formatDuration, h, showAlert } from "./dom.js";

export const KIND_LABELS = {
  content: "Segment",
  intro: "Intro",
  outro: "Outro",
  music: "Music",
  cover: "Cover",
};

// What "use it" means for each kind of upload.
const USE_LABELS = {
  content: "Add",
  intro: "Use as intro",
  outro: "Use as outro",
  music: "Use as music",
};

function describe(item) {
  const parts = [formatDuration(item.duration_s)];
  if (item.loudness_lufs !== null && item.loudness_lufs !== undefined) {
    parts.push(formatDb(item.loudness_lufs, "LUFS"));
  }
  if (item.sample_rate) {
    const channels = item.channels === 1 ? "mono" : item.channels === 2 ? "stereo" : `${item.channels} ch`;
    parts.push(`${(item.sample_rate / 1000).toFixed(1)} kHz ${channels}`);
  }
  return parts;
}

export class Library {
  /** onUse(item) puts an item in the episode; onChange(items) follows every refresh. */
  constructor(panel, { onUse, onChange }) {
    this.onUse = onUse;
    this.onChange = onChange;
    this.list = panel.querySelector("[data-list='library']");
    this.count = field(panel, "library-count");
    this.empty = field(panel, "library-empty");
    this.error = field(panel, "library-error");
    this.items = [];
  }

  async refresh() {
    try {
      const items = await api.listMedia();
      this.set(items);
      showAlert(this.error, "");
    } catch (error) {
      if (error.status !== 401) showAlert(this.error, error.message);
    }
  }

  add(item) {
    this.set([item, ...this.items.filter((existing) => existing.id !== item.id)]);
  }

  set(items) {
    this.items = items;
    this.list.replaceChildren(...items.map((item) => this.render(item)));
    this.empty.hidden = items.length > 0;
    this.count.textContent = items.length ? `${items.length} file${items.length === 1 ? "" : "s"}` : "";
    this.onChange(items);
  }

  render(item) {
    const use = USE_LABELS[item.kind];
    return h(
      "li",
      { class: "media-item", dataset: { mediaId: item.id, kind: item.kind } },
      h(
        "div",
        { class: "media-item__main" },
        h("span", { class: `kind kind--${item.kind}` }, KIND_LABELS[item.kind] || item.kind),
        h("span", { class: "media-item__name" }, item.filename),
      ),
      h(
        "p",
        { class: "media-item__meta" },
        h("span", { dataset: { field: "duration" } }, describe(item)[0]),
        describe(item).slice(1).map((part) => h("span", {}, part)),
      ),
      h(
        "div",
        { class: "media-item__actions" },
        use &&
          h(
            "button",
            {
              type: "button",
              class: "button button--secondary button--small",
              "aria-label": `${use}: ${item.filename}`,
              dataset: { action: "use-media" },
              onclick: () => this.onUse(item),
            },
            use,
          ),
        h(
          "button",
          {
            type: "button",
            class: "button button--danger button--small",
            "aria-label": `Delete ${item.filename}`,
            dataset: { action: "delete-media" },
            onclick: () => this.remove(item),
          },
          "Delete",
        ),
      ),
    );
  }

  async remove(item) {
    try {
      await api.deleteMedia(item.id);
      this.set(this.items.filter((existing) => existing.id !== item.id));
      showAlert(this.error, "");
    } catch (error) {
      showAlert(this.error, error.message);
    }
  }
}
