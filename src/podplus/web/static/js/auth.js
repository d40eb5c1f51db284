// The login modal, with its switch to "create account". Both pages use it.
//
// A native <dialog> opened with showModal() makes the page behind it inert; on top of
// that, Tab and Shift+Tab wrap inside the dialog (the browser would otherwise let focus
// leave for its own toolbar), and Escape closes it.

import { api } from "./api.js";
import { h, showAlert } from "./dom.js";

const FOCUSABLE = "button, [href], input, select, textarea, [tabindex]:not([tabindex='-1'])";

const MODES = {
  login: {
    title: "Log in to podplus",
    submit: "Log in",
    busy: "Logging in…",
    switchText: "New to podplus?",
    switchAction: "Create an account",
    passwordAutocomplete: "current-password",
  },
  register: {
    title: "Create your account",
    submit: "Create account",
    busy: "Creating your account…",
    switchText: "Already have an account?",
    switchAction: "Log in instead",
    passwordAutocomplete: "new-password",
  },
};

export class LoginDialog {
  /**
   * onLogin(user) runs once a token is saved; onDismiss() when the modal closes without one.
   */
  constructor({ onLogin, onDismiss = () => {} }) {
    this.onLogin = onLogin;
    this.onDismiss = onDismiss;
    this.mode = "login";
    this.loggedIn = false;
    this.returnFocus = null;
    this.build();
  }

  build() {
    this.title = h("h2", { id: "login-title", class: "modal__title" });
    this.notice = h("p", { class: "notice", role: "status", hidden: true });
    this.error = h("p", { class: "alert", role: "alert", hidden: true });
    this.nameField = h(
      "div",
      { class: "field" },
      h("label", { for: "login-name" }, "Name ", h("span", { class: "optional" }, "(optional)")),
      h("input", { id: "login-name", name: "name", type: "text", autocomplete: "name" }),
    );
    this.email = h("input", {
      id: "login-email",
      name: "email",
      type: "email",
      autocomplete: "email",
      required: true,
      spellcheck: "false",
    });
    this.password = h("input", {
      id: "login-password",
      name: "password",
      type: "password",
      required: true,
      "aria-describedby": "login-password-hint",
    });
    this.passwordHint = h("p", { id: "login-password-hint", class: "hint" }, "At least 8 characters.");
    this.submit = h("button", { type: "submit", class: "button button--primary button--block" });
    this.switchText = h("span");
    this.switchButton = h("button", {
      type: "button",
      class: "link-button",
      dataset: { action: "switch-mode" },
      onclick: () => this.setMode(this.mode === "login" ? "register" : "login"),
    });
    this.form = h(
      "form",
      { class: "modal__body", novalidate: true, onsubmit: (event) => this.handleSubmit(event) },
      h(
        "div",
        { class: "modal__header" },
        this.title,
        h(
          "button",
          {
            type: "button",
            class: "icon-button",
            "aria-label": "Close",
            dataset: { action: "close-modal" },
            onclick: () => this.close(),
          },
          h("span", { "aria-hidden": "true" }, "×"),
        ),
      ),
      this.notice,
      this.error,
      this.nameField,
      h("div", { class: "field" }, h("label", { for: "login-email" }, "Email"), this.email),
      h(
        "div",
        { class: "field" },
        h("label", { for: "login-password" }, "Password"),
        this.password,
        this.passwordHint,
      ),
      this.submit,
      h("p", { class: "modal__switch" }, this.switchText, " ", this.switchButton),
    );
    this.dialog = h(
      "dialog",
      {
        class: "modal",
        "aria-labelledby": "login-title",
        dataset: { modal: "login" },
        onkeydown: (event) => this.handleKeydown(event),
        onclose: () => this.handleClose(),
      },
      this.form,
    );
    document.body.append(this.dialog);
    this.setMode("login");
  }

  get isOpen() {
    return this.dialog.open;
  }

  open({ mode = "login", message = "" } = {}) {
    this.loggedIn = false;
    this.returnFocus = document.activeElement;
    this.setMode(mode);
    showAlert(this.notice, message);
    showAlert(this.error, "");
    if (!this.dialog.open) this.dialog.showModal();
    this.email.focus();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  setMode(mode) {
    this.mode = mode;
    const text = MODES[mode];
    this.title.textContent = text.title;
    this.submit.textContent = text.submit;
    this.switchText.textContent = text.switchText;
    this.switchButton.textContent = text.switchAction;
    this.password.autocomplete = text.passwordAutocomplete;
    this.nameField.hidden = mode !== "register";
    this.passwordHint.hidden = mode !== "register";
    this.dialog.dataset.mode = mode;
    showAlert(this.error, "");
  }

  handleKeydown(event) {
    if (event.key === "Escape") {
      // Handled here rather than by the dialog's own cancel, which Chromium may skip
      // for a dialog opened without a user gesture.
      event.preventDefault();
      this.close();
      return;
    }
    if (event.key !== "Tab") return;
    const focusable = [...this.dialog.querySelectorAll(FOCUSABLE)].filter(
      (element) => !element.disabled && element.getClientRects().length > 0,
    );
    if (focusable.length === 0) return;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (event.shiftKey && (document.activeElement === first || !this.dialog.contains(document.activeElement))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }

  handleClose() {
    const target = this.returnFocus;
    this.returnFocus = null;
    if (this.loggedIn) return;
    if (target && document.contains(target) && typeof target.focus === "function") target.focus();
    this.onDismiss();
  }

  async handleSubmit(event) {
    event.preventDefault();
    const email = this.email.value.trim();
    const password = this.password.value;
    if (!email || !password) {
      showAlert(this.error, "Enter your email and password.");
      (email ? this.password : this.email).focus();
      return;
    }
    showAlert(this.error, "");
    showAlert(this.notice, "");
    this.submit.disabled = true;
    this.submit.textContent = MODES[this.mode].busy;
    try {
      if (this.mode === "register") {
        const name = this.form.elements.name.value.trim();
        await api.register(email, password, name || undefined);
        // The account exists now: a retry (say, after a throttled login) must log in.
        this.setMode("login");
      }
      await api.logIn(email, password);
      const user = await api.me();
      this.loggedIn = true;
      this.password.value = "";
      this.close();
      this.onLogin(user);
    } catch (error) {
      showAlert(this.error, error.message);
      this.email.focus();
    } finally {
      this.submit.disabled = false;
      this.submit.textContent = MODES[this.mode].submit;
    }
  }
}
