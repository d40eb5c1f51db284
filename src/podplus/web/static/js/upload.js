// Uploading audio: a drop zone and a file picker, one progress bar per file.

import { uploadMedia } from "./api.js";
import { formatBytes, h } from "./dom.js";

// A finished upload's row stays a moment so the user sees it land, then makes room.
const DONE_ROW_S = 4;

export class Uploader {
  /** onUploaded(media) runs for each file the API accepts. */
  constructor(panel, { onUploaded }) {
    this.onUploaded = onUploaded;
    this.input = panel.querySelector("input[type=file]");
    this.kind = panel.querySelector("select[name=kind]");
    this.zone = panel.querySelector("[data-dropzone]");
    this.list = panel.querySelector("[data-list='uploads']");
    this.queue = Promise.resolve();

    panel.querySelector("[data-action='choose-files']").addEventListener("click", () => this.input.click());
    this.input.addEventListener("change", () => {
      this.add(this.input.files);
      this.input.value = "";
    });
    this.zone.addEventListener("dragenter", (event) => this.dragOver(event));
    this.zone.addEventListener("dragover", (event) => this.dragOver(event));
    this.zone.addEventListener("dragleave", (event) => {
      if (!this.zone.contains(event.relatedTarget)) this.zone.classList.remove("is-over");
    });
    this.zone.addEventListener("drop", (event) => {
      event.preventDefault();
      this.zone.classList.remove("is-over");
      this.add(event.dataTransfer.files);
    });
    // A file dropped beside the zone would otherwise replace the studio with the file.
    for (const type of ["dragover", "drop"]) {
      window.addEventListener(type, (event) => {
        if (!this.zone.contains(event.target)) event.preventDefault();
      });
    }
  }

  dragOver(event) {
    if (![...event.dataTransfer.types].includes("Files")) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    this.zone.classList.add("is-over");
  }

  /** Queue files; they go up one at a time so each gets the whole connection. */
  add(files) {
    const kind = this.kind.value;
    for (const file of [...files]) {
      const row = this.row(file);
      this.list.append(row.element);
      this.queue = this.queue.then(() => this.send(file, kind, row));
    }
  }

  row(file) {
    const progress = h("progress", { max: 100, value: 0, "aria-label": `Uploading ${file.name}` });
    const status = h("span", { class: "upload__status" }, "Waiting…");
    const message = h("p", { class: "alert", role: "alert", hidden: true });
    const dismiss = h(
      "button",
      { type: "button", class: "icon-button icon-button--small", "aria-label": `Dismiss ${file.name}`, hidden: true },
      h("span", { "aria-hidden": "true" }, "×"),
    );
    const element = h(
      "li",
      { class: "upload" },
      h(
        "div",
        { class: "upload__header" },
        h("span", { class: "upload__name" }, file.name),
        h("span", { class: "upload__size" }, formatBytes(file.size)),
        dismiss,
      ),
      progress,
      status,
      message,
    );
    dismiss.addEventListener("click", () => element.remove());
    return { element, progress, status, message, dismiss };
  }

  async send(file, kind, row) {
    row.status.textContent = "Uploading… 0%";
    try {
      const media = await uploadMedia(file, {
        kind,
        onProgress: (fraction) => {
          const percent = Math.round(fraction * 100);
          row.progress.value = percent;
          // At 100% the bytes are sent, but the server still probes and measures the file.
          row.status.textContent = percent < 100 ? `Uploading… ${percent}%` : "Measuring…";
        },
      });
      row.progress.value = 100;
      row.status.textContent = "Added to the library";
      row.element.classList.add("is-done");
      this.onUploaded(media);
      setTimeout(() => row.element.remove(), DONE_ROW_S * 1000);
    } catch (error) {
      row.element.classList.add("is-failed");
      row.progress.hidden = true;
      row.status.textContent = "Not uploaded";
      row.message.textContent = error.message;
      row.message.hidden = false;
      row.dismiss.hidden = false;
    }
  }
}
