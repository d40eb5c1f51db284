// The Shows view: the user's shows, one show's form (js/show-form.js), its artwork, and its
// feed: the URL to paste into the directories, with a Copy button, what they would still
// refuse, and the downloads.
//
// Every refusal (a slug taken, artwork of the wrong size) is shown as the API words it.

import { api } from "./api.js";
import { field, h, showAlert } from "./dom.js";
import { ShowForm } from "./show-form.js";

// The period the feed panel counts downloads over (GET /api/shows/{id}/stats?days=).
const STATS_DAYS = 30;
// How long the Copy button says "Copied" before it reads "Copy" again.
const COPIED_MS = 2000;

export class ShowsView {
  /**
   * root: the document; onChange(shows) runs whenever the list changes, so the episode
   * form's show picker can follow; onDeleted() after a show is deleted (its episodes left it).
   */
  constructor(root, { onChange, onDeleted }) {
    this.onChange = onChange;
    this.onDeleted = onDeleted;
    const panel = (id) => root.getElementById(id).closest(".panel");
    this.listPanel = panel("shows-title");
    this.formPanel = panel("show-title");
    this.feedPanel = panel("feed-title");
    this.artworkPanel = panel("artwork-title");

    this.list = this.listPanel.querySelector("[data-list='shows']");
    this.empty = field(this.listPanel, "shows-empty");
    this.listError = field(this.listPanel, "shows-error");

    this.form = new ShowForm(this.formPanel.querySelector("form[data-form='show']"));
    this.heading = field(this.formPanel, "show-heading");
    this.formError = field(this.formPanel, "show-error");
    this.formStatus = field(this.formPanel, "show-status");
    this.saveButton = this.formPanel.querySelector("[data-action='save-show']");
    this.deleteButton = this.formPanel.querySelector("[data-action='delete-show']");
    this.confirm = field(this.formPanel, "delete-confirm");

    this.feedUrl = field(this.feedPanel, "feed-url");
    this.copyButton = this.feedPanel.querySelector("[data-action='copy-feed']");
    this.copyStatus = field(this.feedPanel, "copy-status");

    this.artworkInput = this.artworkPanel.querySelector("input[type=file]");
    this.artworkButton = this.artworkPanel.querySelector("[data-action='choose-artwork']");
    this.artworkError = field(this.artworkPanel, "artwork-error");

    this.items = [];
    this.current = null;
    // Bumped whenever another show is opened, so a late answer about the last one is dropped.
    this.generation = 0;

    this.form.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    this.listPanel.querySelector("[data-action='new-show']").addEventListener("click", () => this.newShow());
    this.deleteButton.addEventListener("click", () => this.askToDelete(true));
    this.formPanel.querySelector("[data-action='keep-show']").addEventListener("click", () => this.askToDelete(false));
    this.formPanel.querySelector("[data-action='confirm-delete-show']").addEventListener("click", () => this.remove());
    this.copyButton.addEventListener("click", () => this.copyFeedUrl());
    this.artworkButton.addEventListener("click", () => this.artworkInput.click());
    this.artworkInput.addEventListener("change", () => {
      const [file] = this.artworkInput.files;
      this.artworkInput.value = "";
      if (file) this.uploadArtwork(file);
    });
    this.newShow();
  }

  /** Limits and choices from the OpenAPI document (loadApiSchemas()). */
  applySchemas(schemas) {
    this.form.applySchemas(schemas);
    const rule = schemas.get("ArtworkUpload").field("file")?.description;
    if (rule) field(this.artworkPanel, "artwork-hint").textContent = rule;
  }

  setMedia(items) {
    this.form.setMedia(items);
  }

  async refresh() {
    try {
      this.set(await api.listShows());
      showAlert(this.listError, "");
      // The open show may have changed meanwhile (an episode published): show it fresh.
      const current = this.current && this.items.find((show) => show.id === this.current.id);
      if (current) this.showPanels(current);
    } catch (error) {
      if (error.status !== 401) showAlert(this.listError, error.message);
    }
  }

  set(items) {
    this.items = items;
    this.list.replaceChildren(...items.map((show) => this.render(show)));
    this.empty.hidden = items.length > 0;
    this.onChange(items);
  }

  upsert(show) {
    const index = this.items.findIndex((item) => item.id === show.id);
    const items = [...this.items];
    if (index < 0) items.unshift(show);
    else items[index] = show;
    this.set(items);
  }

  render(show) {
    const live = show.published_episodes;
    return h(
      "li",
      { class: "episode-item", dataset: { showId: show.id } },
      h(
        "button",
        {
          type: "button",
          class: "episode-item__open",
          "aria-current": this.current?.id === show.id ? "true" : undefined,
          onclick: () => this.open(show),
        },
        h("span", { class: "episode-item__title" }, show.title),
        h(
          "span",
          { class: "episode-item__meta" },
          h("span", {}, `${live} episode${live === 1 ? "" : "s"} in the feed`),
        ),
      ),
    );
  }

  /** Open a show for editing, with its feed and artwork. */
  open(show) {
    this.generation += 1;
    this.current = show;
    this.form.load(show);
    this.heading.textContent = "Edit show";
    this.saveButton.textContent = "Save show";
    this.deleteButton.hidden = false;
    this.confirm.hidden = true;
    showAlert(this.formError, "");
    showAlert(this.artworkError, "");
    this.showPanels(show);
    this.set(this.items);
  }

  newShow() {
    this.generation += 1;
    this.current = null;
    this.form.reset();
    this.heading.textContent = "New show";
    this.saveButton.textContent = "Create show";
    this.deleteButton.hidden = true;
    this.confirm.hidden = true;
    showAlert(this.formError, "");
    this.feedPanel.hidden = true;
    this.artworkPanel.hidden = true;
    this.set(this.items);
  }

  async save() {
    showAlert(this.formError, "");
    this.saveButton.disabled = true;
    const creating = this.current === null;
    try {
      const body = this.form.toJSON();
      const show = creating ? await api.createShow(body) : await api.updateShow(this.current.id, body);
      this.upsert(show);
      this.open(show);
      this.formStatus.textContent = creating ? "Show created." : "Show saved.";
    } catch (error) {
      showAlert(this.formError, error.message);
    } finally {
      this.saveButton.disabled = false;
    }
  }

  askToDelete(asking) {
    this.confirm.hidden = !asking;
    this.deleteButton.hidden = asking;
    const target = asking ? "[data-action='confirm-delete-show']" : "[data-action='delete-show']";
    this.formPanel.querySelector(target).focus();
  }

  async remove() {
    if (!this.current) return;
    try {
      await api.deleteShow(this.current.id);
      const gone = this.current.id;
      this.items = this.items.filter((show) => show.id !== gone);
      this.newShow();
      this.formStatus.textContent = "Show deleted.";
      this.onDeleted();
    } catch (error) {
      showAlert(this.formError, error.message);
    }
  }

  // ---------------------------------------------------------------- feed and artwork

  showPanels(show) {
    this.current = show;
    this.feedPanel.hidden = false;
    this.artworkPanel.hidden = false;
    this.feedUrl.value = show.feed_url;
    field(this.feedPanel, "feed-episodes").textContent = String(show.published_episodes);
    const problems = show.directory_problems || [];
    field(this.feedPanel, "directory-problems").hidden = problems.length === 0;
    this.feedPanel
      .querySelector("[data-list='directory-problems']")
      .replaceChildren(...problems.map((problem) => h("li", {}, problem)));
    this.showArtwork(show);
    this.loadStats(show.id, this.generation);
  }

  showArtwork(show) {
    const image = field(this.artworkPanel, "artwork-image");
    const size = field(this.artworkPanel, "artwork-size");
    if (show.artwork_url) {
      // The same server serves the public URL's path: shown from this origin, so the page's
      // same-origin policy lets it in even when PODPLUS_PUBLIC_URL names another host.
      image.src = new URL(show.artwork_url).pathname;
      size.textContent = `${show.artwork_size_px} × ${show.artwork_size_px} px`;
    } else {
      image.removeAttribute("src");
    }
    image.hidden = !show.artwork_url;
    size.hidden = !show.artwork_url;
    field(this.artworkPanel, "artwork-empty").hidden = Boolean(show.artwork_url);
  }

  async loadStats(showId, generation) {
    const downloads = field(this.feedPanel, "feed-downloads");
    try {
      const stats = await api.showStats(showId, STATS_DAYS);
      if (generation === this.generation) downloads.textContent = String(stats.total);
    } catch {
      // The counts are a convenience; the feed works without them.
      if (generation === this.generation) downloads.textContent = "—";
    }
  }

  async uploadArtwork(file) {
    if (!this.current) return;
    const generation = this.generation;
    showAlert(this.artworkError, "");
    this.artworkButton.disabled = true;
    this.artworkButton.textContent = "Uploading…";
    try {
      const show = await api.uploadArtwork(this.current.id, file);
      if (generation !== this.generation) return;
      this.upsert(show);
      this.showPanels(show);
    } catch (error) {
      if (generation === this.generation) showAlert(this.artworkError, error.message);
    } finally {
      this.artworkButton.disabled = false;
      this.artworkButton.textContent = "Upload artwork";
    }
  }

  async copyFeedUrl() {
    const url = this.feedUrl.value;
    try {
      await navigator.clipboard.writeText(url);
    } catch {
      // No clipboard access (an insecure origin, a denied permission): select the URL
      // so the keyboard's copy takes it.
      this.feedUrl.focus();
      this.feedUrl.select();
      this.copyStatus.textContent = "Select and copy the feed URL.";
      return;
    }
    this.copyButton.textContent = "Copied";
    this.copyStatus.textContent = "Feed URL copied.";
    setTimeout(() => {
      this.copyButton.textContent = "Copy";
      this.copyStatus.textContent = "";
    }, COPIED_MS);
  }

  /** Forget everything shown (another user logged in). */
  clear() {
    this.items = [];
    this.newShow();
  }
}
