/* Sets the colour theme before the page paints: the toggle's choice if there is one, else the system's.
 * Loaded in <head> (no inline script: the CSP forbids it). app.js owns the toggle button. */
"use strict";
(function () {
  const KEY = "lakebox-theme";
  const media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  function chosen() {
    try { return localStorage.getItem(KEY); } catch (e) { return null; }
  }
  function apply() {
    const pick = chosen();
    const theme = pick === "dark" || pick === "light" ? pick : (media && media.matches ? "dark" : "light");
    document.documentElement.dataset.theme = theme;
    document.documentElement.dataset.themeSource = pick ? "toggle" : "system";
    document.dispatchEvent(new CustomEvent("lakebox:theme", { detail: theme }));
  }
  window.lakeboxTheme = {
    apply,
    set(theme) {
      try {
        if (theme) localStorage.setItem(KEY, theme); else localStorage.removeItem(KEY);
      } catch (e) { /* storage may be off: the choice then lasts for this page only */ }
      if (!theme) { apply(); return; }
      document.documentElement.dataset.theme = theme;
      document.documentElement.dataset.themeSource = "toggle";
      document.dispatchEvent(new CustomEvent("lakebox:theme", { detail: theme }));
    },
  };
  if (media && media.addEventListener) media.addEventListener("change", () => { if (!chosen()) apply(); });
  apply();
})();
