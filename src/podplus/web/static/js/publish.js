// The open episode's place in its show's feed: publish now or schedule, season, number,
// type and explicit; unpublish; its public audio link and download count; and a note when
// the public audio is older than the episode's latest assembly.
//
// Times are shown and typed in the user's own time zone and sent as UTC ISO 8601. The
// limits and choices are the OpenAPI document's PublishRequest.

import { api } from "./api.js";
import { choose, field, h, setAttribute, showAlert } from "./dom.js";

const TYPE_LABELS = { full: "Full", trailer: "Trailer", bonus: "Bonus" };
const STATUS_LABELS = { published: "Published", scheduled: "Scheduled" };

/** "2026-12-01T07:00" in local time, as a datetime-local input takes it. */
export function localInputValue(iso) {
  const moment = new Date(iso);
  const pad = (value) => String(value).padStart(2, "0");
  return (
    `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())}` +
    `T${pad(moment.getHours())}:${pad(moment.getMinutes())}`
  );
}

/** A moment as the user reads it: "1 Dec 2026, 07:00". */
export function formatMoment(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export class PublishPanel {
  /** onChanged(episode) runs after a publish or an unpublish, with the episode's new state. */
  constructor(panel, { onChanged }) {
    this.panel = panel;
    this.onChanged = onChanged;
    this.form = panel.querySelector("form[data-form='publish']");
    this.status = field(panel, "publish-status");
    this.hint = field(panel, "publish-hint");
    this.outdated = field(panel, "publish-outdated");
    this.publication = field(panel, "publication");
    this.link = field(panel, "public-link");
    this.error = field(panel, "publish-error");
    this.publishButton = panel.querySelector("[data-action='publish']");
    this.unpublishButton = panel.querySelector("[data-action='unpublish']");
    this.scheduleRow = field(panel, "schedule-row");
    this.episode = null;
    this.busy = false;

    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone) field(panel, "time-zone").textContent = `(your time, ${zone})`;
    this.form.addEventListener("change", () => this.render());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.publish();
    });
    this.unpublishButton.addEventListener("click", () => this.unpublish());
  }

  get elements() {
    return this.form.elements;
  }

  /** Take limits and choices from the OpenAPI document's schemas (loadApiSchemas()). */
  applySchemas(schemas) {
    const spec = schemas.get("PublishRequest");
    for (const name of ["season", "number"]) {
      setAttribute(this.elements[name], "min", spec.limits(name).minimum);
      setAttribute(this.elements[name], "max", spec.limits(name).maximum);
    }
    const types = spec.choices("episode_type");
    if (types.length) {
      const select = this.elements.episode_type;
      const chosen = select.value;
      select.replaceChildren(...types.map((value) => h("option", { value }, TYPE_LABELS[value] || value)));
      choose(select, chosen);
    }
  }

  /** Follow the open episode; the form is filled afresh only for another episode. */
  show(episode) {
    const another = episode.id !== this.episode?.id;
    this.episode = episode;
    if (another) {
      showAlert(this.error, "");
      this.fill();
    }
    this.render();
  }

  clear() {
    this.episode = null;
    this.panel.hidden = true;
  }

  // The form from the episode's publication: what publishing again keeps unless changed.
  fill() {
    const values = this.elements;
    const publication = this.episode?.publication;
    this.form.reset();
    values.season.value = publication?.season ?? "";
    values.number.value = publication?.number ?? "";
    choose(values.episode_type, publication?.episode_type ?? "full");
    values.explicit.value = publication?.explicit === null || publication?.explicit === undefined ? "" : String(publication.explicit);
    values.when.value = publication ? "keep" : "now";
    values.published_at.value = publication ? localInputValue(publication.published_at) : "";
  }

  render() {
    const episode = this.episode;
    this.panel.hidden = !episode;
    if (!episode) return;
    const publication = episode.publication;
    const values = this.elements;

    this.status.textContent = publication ? STATUS_LABELS[publication.status] : "Not published";
    this.status.className = `badge badge--${publication ? publication.status : "draft"}`;

    let why = "";
    if (!episode.show_id) why = "Choose the episode's show above and assemble it to publish it in the show's feed.";
    else if (episode.status !== "ready") why = "Assemble the episode to publish it.";
    showAlert(this.hint, why);

    this.outdated.hidden = !publication?.audio_outdated;
    this.publication.hidden = !publication;
    if (publication) {
      const scheduled = publication.status === "scheduled";
      field(this.panel, "published-at-label").textContent = scheduled ? "Scheduled for" : "In the feed since";
      field(this.panel, "published-at").textContent = formatMoment(publication.published_at);
      field(this.panel, "downloads").textContent = String(publication.downloads);
      this.link.href = publication.audio_url;
      this.link.textContent = publication.audio_url;
    }

    field(this.panel, "when-keep").hidden = !publication;
    const when = values.when.value;
    this.scheduleRow.hidden = when !== "schedule";
    if (when === "schedule") this.publishButton.textContent = "Schedule";
    else if (publication) this.publishButton.textContent = "Publish again";
    else this.publishButton.textContent = "Publish now";
    this.publishButton.disabled = this.busy || Boolean(why);
    this.unpublishButton.hidden = !publication;
    this.unpublishButton.disabled = this.busy;
  }

  /** The PublishRequest the form describes; an Error naming what's missing. */
  body() {
    const values = this.elements;
    const body = {};
    const when = values.when.value;
    if (when === "schedule") {
      if (!values.published_at.value) throw new Error("Choose the date and time to publish it.");
      // A datetime-local value has no zone: Date reads it as local time.
      const moment = new Date(values.published_at.value);
      if (Number.isNaN(moment.getTime())) throw new Error("Choose the date and time to publish it.");
      body.published_at = moment.toISOString();
    } else if (when === "now" && this.episode.publication) {
      // Publishing again keeps its earlier date unless told otherwise.
      body.published_at = new Date().toISOString();
    }
    for (const name of ["season", "number"]) {
      const text = values[name].value.trim();
      // Sent as typed: the API's message says what isn't a whole number in range.
      body[name] = text === "" ? null : Number(text);
    }
    body.episode_type = values.episode_type.value;
    body.explicit = values.explicit.value === "" ? null : values.explicit.value === "true";
    return body;
  }

  async publish() {
    if (!this.episode) return;
    showAlert(this.error, "");
    let body;
    try {
      body = this.body();
    } catch (error) {
      showAlert(this.error, error.message);
      return;
    }
    await this.act(() => api.publish(this.episode.id, body));
  }

  async unpublish() {
    if (!this.episode) return;
    showAlert(this.error, "");
    await this.act(() => api.unpublish(this.episode.id));
  }

  async act(call) {
    const id = this.episode.id;
    this.busy = true;
    this.render();
    try {
      const episode = await call();
      // Another episode opened meanwhile: the list still learns of this one's new state.
      if (this.episode?.id === id) {
        this.episode = episode;
        this.fill();
      }
      this.onChanged(episode);
    } catch (error) {
      if (this.episode?.id === id) showAlert(this.error, error.message);
    } finally {
      this.busy = false;
      this.render();
    }
  }
}
