// The list of the user's episodes, newest first; picking one opens it in the form.

import { api } from "./api.js";
import { field, formatDuration, h } from "./dom.js";

const STATUS_LABELS = {
  draft: "Draft",
  queued: "Queued",
  assembling: "Assembling",
  ready: "Ready",
  failed: "Failed",
};
const PUBLICATION_LABELS = { published: "Published", scheduled: "Scheduled" };

export class EpisodeList {
  /** onOpen(episode) runs when the user picks an episode. */
  constructor(panel, { onOpen }) {
    this.onOpen = onOpen;
    this.list = panel.querySelector("[data-list='episodes']");
    this.empty = field(panel, "episodes-empty");
    this.items = [];
    this.currentId = null;
  }

  async refresh() {
    try {
      const items = await api.listEpisodes();
      this.set(items);
    } catch {
      // The list is a convenience; the form and the assembly panel show real errors.
    }
  }

  /** Put a fresh copy of one episode in the list without asking the server for all. */
  upsert(episode) {
    const others = this.items.filter((item) => item.id !== episode.id);
    const index = this.items.findIndex((item) => item.id === episode.id);
    if (index < 0) others.unshift(episode);
    else others.splice(index, 0, episode);
    this.set(others);
  }

  select(id) {
    this.currentId = id;
    this.set(this.items);
  }

  set(items) {
    this.items = items;
    this.list.replaceChildren(...items.map((episode) => this.render(episode)));
    this.empty.hidden = items.length > 0;
  }

  render(episode) {
    const current = episode.id === this.currentId;
    return h(
      "li",
      { class: "episode-item", dataset: { episodeId: episode.id } },
      h(
        "button",
        {
          type: "button",
          class: "episode-item__open",
          "aria-current": current ? "true" : undefined,
          onclick: () => this.open(episode.id),
        },
        h("span", { class: "episode-item__title" }, episode.title),
        h(
          "span",
          { class: "episode-item__meta" },
          h("span", { class: `badge badge--${episode.status}` }, STATUS_LABELS[episode.status] || episode.status),
          episode.publication
            ? h("span", { class: `badge badge--${episode.publication.status}` }, PUBLICATION_LABELS[episode.publication.status])
            : null,
          episode.duration_s ? h("span", {}, formatDuration(episode.duration_s)) : null,
        ),
      ),
    );
  }

  async open(id) {
    try {
      const episode = await api.getEpisode(id);
      this.upsert(episode);
      this.select(episode.id);
      this.onOpen(episode);
    } catch {
      await this.refresh();
    }
  }
}
