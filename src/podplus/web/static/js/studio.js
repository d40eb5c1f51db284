// The studio page: the login gate, then upload, library, episode form and assembly.
//
// The gate is here, in the browser, because the token is: without a valid one the studio
// stays hidden and the login modal opens. A token that expires mid-session brings the
// modal back with a message; logging in again carries on where the user was.

import { EXPIRED_MESSAGE, SESSION_EXPIRED_EVENT, api, session } from "./api.js";
import { Assembly } from "./assembly.js";
import { LoginDialog } from "./auth.js";
import { field } from "./dom.js";
import { EpisodeForm } from "./episode-form.js";
import { EpisodeList } from "./episodes.js";
import { Library } from "./library.js";
import { Uploader } from "./upload.js";

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
      },
    });
    this.library = new Library(panel("library-title"), {
      onUse: (item) => this.form.use(item),
      onChange: (items) => this.form.setMedia(items),
    });
    this.uploader = new Uploader(panel("upload-title"), { onUploaded: (item) => this.library.add(item) });
    this.episodes = new EpisodeList(panel("episodes-title"), {
      onOpen: (episode) => {
        this.form.load(episode);
        this.assembly.show(episode);
      },
    });
    root.querySelector("[data-action='new-episode']").addEventListener("click", () => this.newEpisode());
  }

  async start(user) {
    // Someone else logged in after an expiry: nothing of the last user's may stay on screen.
    if (this.user && this.user.id !== user.id) this.newEpisode();
    this.user = user;
    field(this.root, "user-email").textContent = user.email;
    showStudio(true);
    await Promise.all([this.library.refresh(), this.episodes.refresh(), this.resume()]);
  }

  // Back from an expired session: pick up the open episode's job where polling stopped,
  // leaving the form (and any unsaved edits) as it is.
  async resume() {
    if (!this.form.episodeId) return;
    try {
      this.assembly.show(await api.getEpisode(this.form.episodeId));
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
