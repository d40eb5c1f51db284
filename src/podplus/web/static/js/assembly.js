// Assemble: save the episode, queue the job, follow it to the end, then play and download.

import { api } from "./api.js";
import { field, formatBytes, formatDb, formatDuration, showAlert } from "./dom.js";
import { showReport } from "./report.js";

const POLL_INTERVAL_MS = 500;
// How long a job may go unseen (server restarting, network gone) before we stop asking.
const MAX_POLL_FAILURES = 60;
const ACTIVE = new Set(["queued", "running"]);
// A signed audio URL this close to its expiry is replaced before it is used.
const LINK_MARGIN_MS = 30_000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function phaseLabel(job) {
  switch (job.status) {
    case "queued":
      return "Waiting for a free engine…";
    case "running": {
      const phase = (job.phase || "working").replaceAll("_", " ");
      return `${phase.charAt(0).toUpperCase()}${phase.slice(1)}…`;
    }
    case "succeeded":
      return "Done";
    case "failed":
      return "Failed";
    default:
      return "Cancelled";
  }
}

export class Assembly {
  /**
   * form: the EpisodeForm to save from; onSaved(episode) runs whenever the episode changes
   * on the server (saved, assembled, failed), so the episode list can follow.
   */
  constructor(panel, { form, onSaved }) {
    this.form = form;
    this.onSaved = onSaved;
    this.assembleButton = panel.querySelector("[data-action='assemble']");
    this.cancelButton = panel.querySelector("[data-action='cancel']");
    this.hint = field(panel, "assemble-hint");
    this.job = field(panel, "job");
    this.phase = field(panel, "job-phase");
    this.percent = field(panel, "job-percent");
    this.progress = field(panel, "job-progress");
    this.error = field(panel, "assembly-error");
    this.result = field(panel, "result");
    this.player = field(panel, "player");
    this.download = field(panel, "download");
    this.activeJobId = null;
    this.busy = false;
    // The signed audio URLs of the download link and of the player: { episodeId, url, expiresAt }.
    this.link = null;
    this.playerLink = null;
    // Bumped to abandon a poll loop when another episode is shown.
    this.generation = 0;

    this.assembleButton.addEventListener("click", () => this.assemble());
    this.cancelButton.addEventListener("click", () => this.cancel());
    this.download.addEventListener("click", (event) => this.downloadFresh(event));
    this.player.addEventListener("error", () => this.recoverPlayer());
    this.update();
  }

  /** Enable Assemble when the form is complete and nothing is running. */
  update() {
    const running = this.activeJobId !== null;
    this.assembleButton.disabled = this.busy || running || !this.form.ready;
    this.assembleButton.textContent = running ? "Assembling…" : "Assemble";
    this.cancelButton.hidden = !running;
    this.hint.hidden = this.form.ready || running;
  }

  async assemble() {
    if (!this.form.ready) return;
    this.busy = true;
    this.update();
    showAlert(this.error, "");
    try {
      const body = this.form.toJSON();
      const episode = this.form.episodeId
        ? await api.updateEpisode(this.form.episodeId, body)
        : await api.createEpisode(body);
      this.form.episodeId = episode.id;
      this.form.heading.textContent = "Edit episode";
      this.clearResult();
      const { job_id: jobId } = await api.assemble(episode.id);
      this.onSaved(episode);
      this.watch(jobId, episode.id);
    } catch (error) {
      showAlert(this.error, error.message);
    } finally {
      this.busy = false;
      this.update();
    }
  }

  async cancel() {
    if (!this.activeJobId) return;
    this.cancelButton.disabled = true;
    this.cancelButton.textContent = "Cancelling…";
    try {
      await api.cancelJob(this.activeJobId);
    } catch (error) {
      // 409: it finished meanwhile; the poll loop will show how.
      if (error.status !== 409) showAlert(this.error, error.message);
    }
  }

  /** Show an episode's state: its player when ready, its error when failed, or follow its job. */
  show(episode) {
    this.stop();
    this.clearResult();
    showAlert(this.error, "");
    this.job.hidden = true;
    const job = episode.job;
    if (job && ACTIVE.has(job.status)) {
      this.watch(job.id, episode.id);
    } else if (episode.status === "ready") {
      this.showResult(episode);
    } else if (job && job.status === "failed") {
      this.renderJob(job);
      showAlert(this.error, job.error || "The assembly failed.");
    }
  }

  /** Forget the current episode: no result, no job. */
  clear() {
    this.stop();
    this.clearResult();
    showAlert(this.error, "");
    this.job.hidden = true;
  }

  stop() {
    this.generation += 1;
    this.activeJobId = null;
    this.update();
  }

  async watch(jobId, episodeId) {
    const generation = ++this.generation;
    this.activeJobId = jobId;
    this.cancelButton.disabled = false;
    this.cancelButton.textContent = "Cancel";
    this.update();
    this.renderJob({ status: "queued", progress: 0 });
    let failures = 0;
    while (generation === this.generation) {
      let job;
      try {
        job = await api.getJob(jobId);
        failures = 0;
      } catch (error) {
        if (error.status === 401 || generation !== this.generation) return;
        failures += 1;
        if (failures >= MAX_POLL_FAILURES) {
          this.activeJobId = null;
          this.update();
          showAlert(this.error, `Lost track of the assembly: ${error.message}`);
          return;
        }
        this.phase.textContent = "Reconnecting…";
        await sleep(POLL_INTERVAL_MS * 2);
        continue;
      }
      if (generation !== this.generation) return;
      this.renderJob(job);
      if (!ACTIVE.has(job.status)) {
        await this.finish(job, episodeId, generation);
        return;
      }
      await sleep(POLL_INTERVAL_MS);
    }
  }

  async finish(job, episodeId, generation) {
    this.activeJobId = null;
    this.update();
    if (job.status === "failed") showAlert(this.error, job.error || "The assembly failed.");
    try {
      const episode = await api.getEpisode(episodeId);
      if (generation !== this.generation) return;
      this.onSaved(episode);
      if (job.status === "succeeded") this.showResult(episode);
    } catch (error) {
      if (error.status !== 401) showAlert(this.error, error.message);
    }
  }

  renderJob(job) {
    this.job.hidden = false;
    this.job.dataset.status = job.status;
    // 100% means done: a running job that reports 1.0 is still writing its file.
    const fraction = job.status === "succeeded" ? 1 : Math.min(job.progress || 0, 0.99);
    const percent = Math.round(fraction * 100);
    this.progress.value = percent;
    this.percent.textContent = `${percent}%`;
    const label = phaseLabel(job);
    // aria-live: only a new phase is worth announcing, not every percent.
    if (this.phase.textContent !== label) this.phase.textContent = label;
  }

  async showResult(episode) {
    const generation = this.generation;
    field(this.result, "result-duration").textContent = formatDuration(episode.duration_s);
    field(this.result, "result-lufs").textContent = formatDb(episode.integrated_lufs, "LUFS");
    const peak = field(this.result, "result-peak");
    peak.textContent = formatDb(episode.true_peak_db, "dBTP");
    // The engine may not meter the peak; a tile that only says "—" is noise.
    peak.parentElement.hidden = episode.true_peak_db === null || episode.true_peak_db === undefined;
    field(this.result, "result-size").textContent = formatBytes(episode.size_bytes);
    showReport(this.result, episode.report);
    this.result.hidden = false;
    try {
      await this.loadAudio(episode.id, generation);
    } catch (error) {
      if (error.status !== 401 && generation === this.generation) showAlert(this.error, error.message);
    }
  }

  /** A fresh signed URL for the download link: it works without the session token (which
   * never goes into a URL) for a few minutes. Null if another episode is shown meanwhile. */
  async fetchLink(episodeId, generation) {
    const answer = await api.audioLink(episodeId);
    if (generation !== this.generation) return null;
    this.link = { episodeId, url: answer.url, expiresAt: Date.parse(answer.expires_at) };
    this.download.href = answer.url;
    return this.link;
  }

  /** Point the player and the download link at a fresh signed URL. */
  async loadAudio(episodeId, generation, { resumeAt = 0, play = false } = {}) {
    const link = await this.fetchLink(episodeId, generation);
    if (!link) return;
    this.playerLink = { ...link, retried: false };
    this.player.src = link.url;
    if (resumeAt > 0) {
      this.player.addEventListener("loadedmetadata", () => (this.player.currentTime = resumeAt), { once: true });
    }
    if (play) this.player.play().catch(() => {});
  }

  static isStale(link) {
    return Date.now() >= link.expiresAt - LINK_MARGIN_MS;
  }

  /** A download started after the URL expired would get a 403: fetch a new URL first. */
  async downloadFresh(event) {
    if (!this.link || !Assembly.isStale(this.link)) return;
    event.preventDefault();
    try {
      if (await this.fetchLink(this.link.episodeId, this.generation)) this.download.click();
    } catch (error) {
      if (error.status !== 401) showAlert(this.error, error.message);
    }
  }

  /** A player that reads on after its URL expired gets a 403: carry on from where it was. */
  async recoverPlayer() {
    const link = this.playerLink;
    if (!link || link.retried || !Assembly.isStale(link)) return;
    link.retried = true;
    const resumeAt = this.player.currentTime;
    const play = !this.player.paused;
    try {
      await this.loadAudio(link.episodeId, this.generation, { resumeAt, play });
    } catch (error) {
      if (error.status !== 401) showAlert(this.error, error.message);
    }
  }

  clearResult() {
    this.link = null;
    this.playerLink = null;
    this.result.hidden = true;
    showReport(this.result, null);
    this.player.removeAttribute("src");
    this.player.load();
    this.download.removeAttribute("href");
  }
}
