// docwatch workbench: keyboard moves through the queue, a button copies the citation.
// Everything works without it; nothing here fetches anything.
"use strict";
(function () {
  const rows = Array.from(document.querySelectorAll("tr.event-row"));
  let current = -1;
  function select(index) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach((row, i) => row.classList.toggle("current", i === current));
    rows[current].scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
    if (rows.length) {
      if (event.key === "j") { select(current + 1); event.preventDefault(); }
      else if (event.key === "k") { select(current - 1); event.preventDefault(); }
      else if ((event.key === "o" || event.key === "Enter") && current >= 0) {
        rows[current].querySelector("a.open").click(); event.preventDefault();
      } else if (event.key === "r" && current >= 0) {
        const button = rows[current].querySelector("button[data-key=r]");
        if (button) { button.click(); event.preventDefault(); }
      }
      return;
    }
    const link = document.querySelector(`[data-key="${event.key}"]`);  // on an event: j, k, r
    if (link) { link.click(); event.preventDefault(); }
  });
  document.querySelectorAll("button.copy").forEach((button) => {
    button.addEventListener("click", async () => {
      const text = document.getElementById(button.dataset.copy).textContent;
      try {
        await navigator.clipboard.writeText(text);
      } catch (error) {
        const range = document.createRange();
        range.selectNodeContents(document.getElementById(button.dataset.copy));
        const selection = window.getSelection();
        selection.removeAllRanges(); selection.addRange(range);
        document.execCommand("copy");
      }
      button.textContent = "Copied";
    });
  });
})();
