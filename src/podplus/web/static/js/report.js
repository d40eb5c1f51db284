// "What was done": the engine's report on a ready episode, a row per part with its levels
// before → after and, under it, what was applied. Built from text nodes only (dom.js `h`):
// titles and lines come from uploads' file names and the engine, never as markup.

import { field, h } from "./dom.js";

// A level as the stats tiles write it ("−16.0"), without its unit; "—" when unmeasured.
function level(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return value.toFixed(1).replace("-", "−");
}

function change(before, after, unit) {
  return `${level(before)} → ${level(after)} ${unit}`;
}

function signed(value) {
  return `${value > 0 ? "+" : ""}${level(value)} dB`;
}

function rows(part) {
  const figure = (name, unit) => change(part.before?.[name], part.after?.[name], unit);
  const lines = [...(part.applied || [])];
  if (Number.isFinite(part.gain_db) && part.gain_db !== 0) lines.push(`level changed ${signed(part.gain_db)}`);
  if (part.limited) lines.push("peaks held down by a limiter");
  return [
    h(
      "tr",
      { class: "report__part" },
      h("th", { scope: "row" }, part.title),
      h("td", {}, figure("loudness_lufs", "LUFS")),
      h("td", {}, figure("noise_floor_db", "dBFS")),
      h("td", {}, figure("peak_db", "dBFS")),
    ),
    h(
      "tr",
      { class: "report__applied" },
      h(
        "td",
        { colSpan: 4 },
        lines.length
          ? h("ul", { "aria-label": `Applied to ${part.title}` }, lines.map((line) => h("li", {}, line)))
          : h("span", { class: "hint" }, "Nothing needed doing."),
      ),
    ),
  ];
}

/** Fill the report block inside `root` from `report` (an episode's), or hide it (null). */
export function showReport(root, report) {
  const block = field(root, "report");
  const body = block.querySelector("[data-list='report-parts']");
  const parts = report?.parts || [];
  body.replaceChildren(...parts.flatMap(rows));
  block.hidden = parts.length === 0;
}
