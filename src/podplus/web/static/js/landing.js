// The landing page: every "Get Started" leads to the studio, through the login modal
// when there is no valid session. The page never navigates past that gate itself.

import { EXPIRED_MESSAGE, session } from "./api.js";
import { LoginDialog } from "./auth.js";

const STUDIO = "/studio";

const dialog = new LoginDialog({ onLogin: () => window.location.assign(STUDIO) });

function getStarted() {
  const state = session.state();
  if (state === "valid") {
    window.location.assign(STUDIO);
    return;
  }
  if (state === "expired") session.clear();
  dialog.open({ mode: "login", message: state === "expired" ? EXPIRED_MESSAGE : "" });
}

for (const button of document.querySelectorAll("[data-action='get-started']")) {
  button.addEventListener("click", getStarted);
}

const logIn = document.querySelector("[data-action='log-in']");
if (session.state() === "valid") {
  logIn.textContent = "Open studio";
  logIn.addEventListener("click", () => window.location.assign(STUDIO));
} else {
  logIn.addEventListener("click", () => dialog.open({ mode: "login" }));
}
