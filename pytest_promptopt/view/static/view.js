// promptopt view: sortable tables and the keyboard-driven label loop. No other script runs.
"use strict";

function cellValue(row, index) {
  const cell = row.children[index];
  if (!cell) return "";
  const raw = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim();
  const number = parseFloat(raw.replace(/[#$,%]/g, ""));
  return Number.isNaN(number) ? raw.toLowerCase() : number;
}

function makeSortable(table) {
  const head = table.tHead ? table.tHead.rows[0] : table.rows[0];
  if (!head) return;
  Array.from(head.cells).forEach((th, index) => {
    th.addEventListener("click", () => {
      const body = table.tBodies[0];
      const rows = Array.from(body.rows).filter((r) => r !== head);
      const ascending = !th.classList.contains("sorted-asc");
      Array.from(head.cells).forEach((c) => c.classList.remove("sorted-asc", "sorted-desc"));
      th.classList.add(ascending ? "sorted-asc" : "sorted-desc");
      rows.sort((a, b) => {
        const x = cellValue(a, index), y = cellValue(b, index);
        return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
      });
      rows.forEach((r) => body.appendChild(r));
    });
  });
}

function labelLoop(root) {
  const items = Array.from(root.querySelectorAll(".label-item"));
  const token = document.querySelector('meta[name="promptopt-token"]').content;
  const enabled = root.dataset.enabled === "yes";
  let current = 0;
  const show = (i) => {
    if (i < 0 || i >= items.length) return;
    items[current].classList.add("hidden");
    current = i;
    items[current].classList.remove("hidden");
  };
  const send = (payload) => {
    const item = items[current];
    const status = item.querySelector(".status");
    if (!enabled) {
      status.textContent = "read-only: start the viewer with --labels";
      status.className = "status small failed";
      return;
    }
    payload.evaluation_id = Number(item.dataset.evaluation);
    fetch("/api/labels", {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-PromptOpt-Token": token},
      body: JSON.stringify(payload),
    }).then((r) => r.json().then((body) => ({ok: r.ok, body: body}))).then((answer) => {
      if (!answer.ok) {
        status.textContent = "not saved: " + answer.body.error;
        status.className = "status small failed";
        return;
      }
      const what = payload.level !== undefined ? "level " + payload.level : (payload.passed ? "pass" : "fail");
      status.textContent = "labelled " + what;
      status.className = "status small done";
      item.dataset.labelled = "yes";
      item.querySelector(".judge").classList.remove("hidden");
    });
  };
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, select")) return;
    const key = event.key;
    if (key >= "1" && key <= "5") send({level: Number(key)});
    else if (key === "p") send({passed: true});
    else if (key === "f") send({passed: false});
    else if (key === "n" || key === "ArrowRight") show(current + 1);
    else if (key === "ArrowLeft") show(current - 1);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("table.sortable").forEach(makeSortable);
  const root = document.getElementById("label-items");
  if (root && root.querySelector(".label-item")) labelLoop(root);
});
