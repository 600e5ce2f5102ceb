// metaverdict site: small enhancements only; every page works without JavaScript.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // list filters: <input data-filter="#list li"> hides items without every typed word
  for (const input of document.querySelectorAll("input[data-filter]")) {
    const items = () => document.querySelectorAll(input.dataset.filter);
    input.addEventListener("input", () => {
      const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      for (const li of items()) {
        const text = li.textContent.toLowerCase();
        li.hidden = !words.every((w) => text.includes(w));
      }
    });
  }
  // buttons that ask first: <button data-confirm="...">
  for (const button of document.querySelectorAll("button[data-confirm]")) {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  }
});
