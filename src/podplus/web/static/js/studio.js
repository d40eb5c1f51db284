// The studio page: the login gate, then two views: Episodes (upload, library, episode form,
// assembly, publishing) and Shows (js/shows.js), chosen by the address's #fragment.
//
// The gate is here, in the browser, because the token is: without a valid one the studio
// stays hidden and the login modal opens. A token that expires mid-session brings the
// modal back with a message; logging in again carries on where the user was.

import { EXPIRED_MESSAGE, SESSION_EXPIRED_EVENT, api, session } from "./api.js";
import { Assembly } from "./assembly.js";
import { LoginDialog } from "./auth.js";
import { field } from "./dom.js";
import { EpisodeForm } from "./episode-form.js";
import { loadApiSchemas } from "./episode-spec.js";
import { EpisodeList } from "./episodes.js";
import { Library } from "./library.js";
import { PublishPanel } from "./publish.js";
import { ShowsView } from "./shows.js";
import { Uploader } from "./upload.js";

const VIEWS = ["episodes", "shows"];

class Studio {
  constructor(root) {
    this.root = root;
    this.user = null;
    const panel = (id) => root.getElementById(id).closest(".panel");

    this.form = new EpisodeForm(panel("episode-title"), { onChange: () => this.assembly?.update() });
    this.assembly = new Assembly(panel("assembly-title"), {
      form: this.form,
      onSaved: (episode) => {
        this.episodes.upsert(episode);
        this.episodes.select(episode.id);
        this.publisher.show(episode);
      },
    });
    this.publisher = new PublishPanel(panel("publish-title"), {
      onChanged: (episode) => {
        this.episodes.upsert(episode);
        // The show's count of episodes in its feed changed.
        this.shows.refresh();
      },
    });
    // The Shows view's columns wait in a <template>, built but detached until shown.
    const template = root.getElementById("shows-view");
    const showsView = document.importNode(template.content, true);
    this.showsColumns = [...showsView.children];
    this.showsPlace = template;
    this.shows = new ShowsView(showsView, {
      onChange: (shows) => this.form.setShows(shows),
      // Its episodes left it, unpublished.
      onDeleted: () => this.episodes.refresh(),
    });
    this.library = new Library(panel("library-title"), {
      onUse: (item) => this.form.use(item),
      onChange: (items) => {
        this.form.setMedia(items);
        this.shows.setMedia(items);
      },
    });
    this.uploader = new Uploader(panel("upload-title"), { onUploaded: (item) => this.library.add(item) });
    this.episodes = new EpisodeList(panel("episodes-title"), {
      onOpen: (episode) => {
        this.form.load(episode);
        this.assembly.show(episode);
        this.publisher.show(episode);
      },
    });
    root.querySelector("[data-action='new-episode']").addEventListener("click", () => this.newEpisode());
    window.addEventListener("hashchange", () => this.showView());
    this.showView();
    loadApiSchemas().then(
      (schemas) => {
        this.shows.applySchemas(schemas);
        this.publisher.applySchemas(schemas);
      },
      // The forms still work without it: the API's own 422 messages say what doesn't fit.
      () => {},
    );
  }

  /** Show the view the address names (#episodes, #shows); any other fragment changes nothing. */
  showView() {
    const name = window.location.hash.slice(1) || VIEWS[0];
    if (!VIEWS.includes(name)) return;
    // The Shows view is in the page only while shown: one Title, one Intro… at a time.
    for (const column of this.showsColumns) {
      if (name === "shows") this.showsPlace.before(column);
      else column.remove();
    }
    for (const element of this.root.querySelectorAll("[data-view]")) element.hidden = element.dataset.view !== name;
    for (const link of this.root.querySelectorAll("[data-view-link]")) {
      if (link.dataset.viewLink === name) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  async start(user) {
    // Someone else logged in after an expiry: nothing of the last user's may stay on screen.
    if (this.user && this.user.id !== user.id) {
      this.newEpisode();
      this.shows.clear();
    }
    this.user = user;
    field(this.root, "user-email").textContent = user.email;
    showStudio(true);
    await Promise.all([this.library.refresh(), this.episodes.refresh(), this.shows.refresh(), this.resume()]);
  }

  // Back from an expired session: pick up the open episode's job where polling stopped,
  // leaving the form (and any unsaved edits) as it is.
  async resume() {
    if (!this.form.episodeId) return;
    try {
      const episode = await api.getEpisode(this.form.episodeId);
      this.assembly.show(episode);
      this.publisher.show(episode);
    } catch (error) {
      // Deleted meanwhile: the form still holds its description, ready to save anew.
      if (error.status === 404) this.form.episodeId = null;
    }
  }

  stop() {
    this.assembly.stop();
  }

  newEpisode() {
    this.form.reset();
    this.assembly.clear();
    this.publisher.clear();
    this.episodes.select(null);
    this.form.elements.title.focus();
  }
}

function showStudio(loggedIn) {
  for (const element of document.querySelectorAll("[data-when='logged-in']")) element.hidden = !loggedIn;
  for (const element of document.querySelectorAll("[data-when='logged-out']")) element.hidden = loggedIn;
}

const studio = new Studio(document);
const dialog = new LoginDialog({ onLogin: (user) => studio.start(user) });

function gate(message) {
  studio.stop();
  showStudio(false);
  if (!dialog.isOpen) dialog.open({ mode: "login", message });
}

window.addEventListener(SESSION_EXPIRED_EVENT, () => gate(EXPIRED_MESSAGE));

document.querySelector(".gate [data-action='log-in']").addEventListener("click", () => dialog.open({ mode: "login" }));
document.querySelector("[data-action='log-out']").addEventListener("click", () => {
  session.clear();
  window.location.assign("/");
});

async function boot() {
  const state = session.state();
  if (state !== "valid") {
    session.clear();
    gate(state === "expired" ? EXPIRED_MESSAGE : "");
    return;
  }
  try {
    await studio.start(await api.me());
  } catch (error) {
    // A 401 has already opened the modal through SESSION_EXPIRED_EVENT.
    if (error.status !== 401) gate(error.message);
  }
}

boot();
