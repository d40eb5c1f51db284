// Talking to the podplus JSON API: the session token, requests, uploads and errors.
//
// Every failure becomes an ApiError carrying the API's own `error.message`, so the pages
// can show it as is. A 401 on an authenticated call also ends the session and fires
// `podplus:session-expired`, which the studio answers with the login modal.

const TOKEN_KEY = "podplus.session";
const NETWORK_MESSAGE = "Can't reach podplus. Check your connection and try again.";
export const EXPIRED_MESSAGE = "Your session has expired. Log in again to carry on.";
export const SESSION_EXPIRED_EVENT = "podplus:session-expired";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

// The token lives in localStorage so a reload stays logged in. Its expiry is kept beside it
// so a stale token is recognised before the first request, not after.
export const session = {
  read() {
    try {
      const saved = JSON.parse(localStorage.getItem(TOKEN_KEY) || "null");
      return saved && typeof saved.token === "string" ? saved : null;
    } catch {
      return null;
    }
  },

  // "none", "expired" or "valid".
  state() {
    const saved = this.read();
    if (!saved) return "none";
    return Date.now() >= saved.expiresAt ? "expired" : "valid";
  },

  token() {
    return this.state() === "valid" ? this.read().token : null;
  },

  save({ access_token: token, expires_in: expiresInS }) {
    const expiresAt = Date.now() + expiresInS * 1000;
    localStorage.setItem(TOKEN_KEY, JSON.stringify({ token, expiresAt }));
  },

  clear() {
    localStorage.removeItem(TOKEN_KEY);
  },
};

function expire() {
  session.clear();
  window.dispatchEvent(new CustomEvent(SESSION_EXPIRED_EVENT));
  return new ApiError(401, "unauthorized", EXPIRED_MESSAGE);
}

function toError(status, body, authenticated) {
  if (status === 401 && authenticated) return expire();
  const error = body && typeof body === "object" ? body.error : null;
  if (error && typeof error.message === "string") {
    return new ApiError(status, error.code || "error", error.message);
  }
  return new ApiError(status, "http_error", `The server answered ${status}. Try again in a moment.`);
}

async function readJson(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function authorization() {
  const token = session.token();
  if (!token) throw expire();
  return `Bearer ${token}`;
}

/**
 * Call the API and return its JSON (null for 204).
 *
 *   await request("/api/episodes", { method: "POST", json: { title, segments } });
 */
export async function request(path, { method = "GET", json, form, files, auth = true } = {}) {
  const headers = { Accept: "application/json" };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = new URLSearchParams(form);
  } else if (files !== undefined) {
    // multipart/form-data: the browser writes the Content-Type with its boundary.
    body = new FormData();
    for (const [name, value] of Object.entries(files)) body.append(name, value);
  }
  if (auth) headers.Authorization = authorization();
  let response;
  try {
    response = await fetch(path, { method, headers, body, cache: "no-store" });
  } catch {
    throw new ApiError(0, "network", NETWORK_MESSAGE);
  }
  const data = await readJson(response);
  if (!response.ok) throw toError(response.status, data, auth);
  return data;
}

/**
 * Upload one file to /api/media, reporting progress as a fraction from 0 to 1.
 *
 * XMLHttpRequest, not fetch: only XHR reports upload progress.
 */
export function uploadMedia(file, { kind = "content", onProgress = () => {} } = {}) {
  return new Promise((resolve, reject) => {
    let header;
    try {
      header = authorization();
    } catch (error) {
      reject(error);
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/media");
    xhr.setRequestHeader("Authorization", header);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // Not JSON: toError falls back to the status.
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(toError(xhr.status, body, true));
    });
    // The server may refuse a large file before it has read it all and close the
    // connection; the browser then reports a network error, not the 413 answer.
    xhr.addEventListener("error", () =>
      reject(new ApiError(0, "network", "The upload was interrupted. The file may be over the size limit, or the connection dropped.")),
    );
    const body = new FormData();
    body.append("kind", kind);
    body.append("file", file);
    xhr.send(body);
  });
}

// The most a list page may hold (the API's own maximum): fewer round trips for big lists.
const PAGE_LIMIT = 200;

/**
 * Every item of a list, following each page's `next` cursor to the end.
 *
 *   const items = await listAll("/api/media");
 */
export async function listAll(path) {
  const items = [];
  let cursor = null;
  do {
    const params = new URLSearchParams({ limit: String(PAGE_LIMIT) });
    if (cursor) params.set("cursor", cursor);
    const page = await request(`${path}?${params}`);
    items.push(...page.items);
    cursor = page.next;
  } while (cursor);
  return items;
}

export const api = {
  register: (email, password, name) =>
    request("/api/users", { method: "POST", json: { email, password, name }, auth: false }),
  async logIn(email, password) {
    const token = await request("/api/auth/token", {
      method: "POST",
      form: { username: email, password },
      auth: false,
    });
    session.save(token);
    return token;
  },
  me: () => request("/api/users/me"),
  listMedia: () => listAll("/api/media"),
  deleteMedia: (id) => request(`/api/media/${encodeURIComponent(id)}`, { method: "DELETE" }),
  listEpisodes: () => listAll("/api/episodes"),
  getEpisode: (id) => request(`/api/episodes/${encodeURIComponent(id)}`),
  // A short-lived URL for <audio> and <a download>, which can't send the token: { url, expires_at }.
  audioLink: (id) => request(`/api/episodes/${encodeURIComponent(id)}/audio-url`),
  createEpisode: (json) => request("/api/episodes", { method: "POST", json }),
  updateEpisode: (id, json) =>
    request(`/api/episodes/${encodeURIComponent(id)}`, { method: "PATCH", json }),
  assemble: (id) =>
    request(`/api/episodes/${encodeURIComponent(id)}/assemble`, { method: "POST" }),
  getJob: (id) => request(`/api/jobs/${encodeURIComponent(id)}`),
  cancelJob: (id) => request(`/api/jobs/${encodeURIComponent(id)}/cancel`, { method: "POST" }),
  // Publishing: `json` is the PublishRequest ({} publishes now).
  publish: (id, json) =>
    request(`/api/episodes/${encodeURIComponent(id)}/publish`, { method: "POST", json }),
  unpublish: (id) => request(`/api/episodes/${encodeURIComponent(id)}/unpublish`, { method: "POST" }),
  listShows: () => listAll("/api/shows"),
  getShow: (id) => request(`/api/shows/${encodeURIComponent(id)}`),
  createShow: (json) => request("/api/shows", { method: "POST", json }),
  updateShow: (id, json) => request(`/api/shows/${encodeURIComponent(id)}`, { method: "PATCH", json }),
  deleteShow: (id) => request(`/api/shows/${encodeURIComponent(id)}`, { method: "DELETE" }),
  uploadArtwork: (id, file) =>
    request(`/api/shows/${encodeURIComponent(id)}/artwork`, { method: "PUT", files: { file } }),
  showStats: (id, days) => request(`/api/shows/${encodeURIComponent(id)}/stats?days=${days}`),
};
