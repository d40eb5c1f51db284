// The episode form's clean-up fieldset: one input per field of the episode's `cleanup`.
//
// Which fields it shows is the page's choice (each input names its field in
// data-cleanup="…"); their ranges and defaults are the server's, from the schema
// (js/episode-spec.js). Until the schema arrives a number left empty and a checkbox shown
// as undecided (indeterminate) are left out of the body, so the API's defaults apply.

import { setAttribute } from "./dom.js";

export class CleanupFields {
  constructor(form) {
    this.inputs = [...form.querySelectorAll("[data-cleanup]")];
    this.specApplied = false;
    this.reset();
  }

  /** Take each field's range and default from the schema (an EpisodeSpec). */
  applySpec(spec) {
    for (const input of this.inputs) {
      const limits = spec.limits(`cleanup.${input.dataset.cleanup}`);
      if (input.type === "checkbox") {
        // The default, not the state: an episode loaded meanwhile keeps its own choice.
        input.defaultChecked = limits.default === true;
        input.indeterminate = false;
      } else {
        setAttribute(input, "min", limits.minimum);
        setAttribute(input, "max", limits.maximum);
        // A default of null (max_pause_s: keep pauses) is an empty input.
        setAttribute(input, "value", limits.default);
      }
    }
    this.specApplied = true;
  }

  /** After the form's own reset: checkboxes are undecided until the schema says. */
  reset() {
    for (const input of this.inputs) {
      if (input.type === "checkbox") input.indeterminate = !this.specApplied;
    }
  }

  /** Show a saved episode's clean-up (call after reset). */
  load(cleanup) {
    for (const input of this.inputs) {
      const value = cleanup?.[input.dataset.cleanup];
      if (value === undefined) continue;
      if (input.type === "checkbox") {
        input.checked = value === true;
        input.indeterminate = false;
      } else {
        input.value = value === null ? "" : String(value);
      }
    }
  }

  /**
   * The `cleanup` object for the API, over `saved` (a PATCH replaces the object whole, so
   * fields this page doesn't show ride along). Undefined when there is nothing to send.
   * A number out of range is sent as it is: the API's 422 names the field and its limits.
   */
  toJSON(saved) {
    const cleanup = { ...saved };
    for (const input of this.inputs) {
      const name = input.dataset.cleanup;
      if (input.type === "checkbox") {
        if (!input.indeterminate) cleanup[name] = input.checked;
        continue;
      }
      const text = input.value.trim();
      const value = Number(text);
      if (text === "" || !Number.isFinite(value)) delete cleanup[name];
      else cleanup[name] = value;
    }
    return Object.keys(cleanup).length ? cleanup : undefined;
  }
}
