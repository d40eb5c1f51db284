// Small DOM and formatting helpers shared by the pages.

/**
 * Build an element: h("button", { class: "button", onclick: go }, "Go").
 * Strings become text nodes, never HTML, so API data can't inject markup.
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name in element && typeof value !== "string") element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

/** A schema value as an attribute; a limit the schema doesn't set sets nothing. */
export function setAttribute(element, name, value) {
  if (value === undefined || value === null) element.removeAttribute(name);
  else element.setAttribute(name, String(value));
}

/**
 * Select the option for a saved value, adding it if the list doesn't have it (a value the
 * page has no label for still shows). Returns the option (undefined for no value).
 */
export function choose(select, value) {
  if (value === undefined || value === null) return undefined;
  const text = String(value);
  let option = [...select.options].find((each) => each.value === text);
  if (!option) {
    option = h("option", { value: text }, text);
    select.append(option);
  }
  select.value = option.value;
  return option;
}

/**
 * Fill a media picker: a "none" choice, then the uploads of `kind` first (any other audio
 * can still be picked), keeping the choice if its file is still there.
 */
export function fillMediaSelect(select, { kind, items, noneLabel }) {
  const chosen = select.value;
  const audio = items.filter((item) => item.kind !== "cover");
  const mine = audio.filter((item) => item.kind === kind);
  const others = audio.filter((item) => item.kind !== kind);
  const option = (item) => h("option", { value: item.id }, item.filename);
  const grouped = mine.length && others.length;
  select.replaceChildren(
    h("option", { value: "" }, noneLabel),
    grouped ? h("optgroup", { label: "Uploaded as " + kind }, mine.map(option)) : mine.map(option),
    grouped ? h("optgroup", { label: "Other audio" }, others.map(option)) : others.map(option),
  );
  select.value = audio.some((item) => item.id === chosen) ? chosen : "";
}

export function field(root, name) {
  return root.querySelector(`[data-field="${name}"]`);
}

export function showAlert(element, message) {
  element.textContent = message || "";
  element.hidden = !message;
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "—";
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit && value < 10 ? 1 : 0)} ${units[unit]}`;
}

// A typographic minus reads better than a hyphen in "−16 LUFS".
export function formatDb(value, unit) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return `${value.toFixed(1).replace("-", "−")} ${unit}`;
}
