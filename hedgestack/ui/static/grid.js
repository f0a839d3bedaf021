// hedgestack DataGrid: a table that updates only the cells that changed.
//
// model.columns: [{key, label, align, width, title}]
// model.rows:    JSON of [{k: key, c: "row classes", s: selectable, v: {col: cell}}] (one string: Bokeh sends it
//                without walking it for models, which a list of rows cost at every update)
//                cell: "text" | [text, title, tone] | {b: label, a: action, d: disabled, t: tone, title}
// model.selected: the selected row's key (two-way)
// model.empty:    HTML shown when there is no row
// Messages to Python: {type: "action", action, key} for a button in a cell.

function cellParts(cell) {
  if (cell === null || cell === undefined) return ["", "", ""];
  if (typeof cell === "string") return [cell, "", ""];
  if (Array.isArray(cell)) return [cell[0] || "", cell[1] || "", cell[2] || ""];
  return null; // a button
}

function sameCell(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function render({ model, el }) {
  const wrap = document.createElement("div");
  wrap.className = "hs-grid-wrap";
  const table = document.createElement("table");
  table.className = "hs-grid";
  const thead = document.createElement("thead");
  const tbody = document.createElement("tbody");
  table.append(thead, tbody);
  const empty = document.createElement("div");
  empty.className = "hs-grid-empty";
  wrap.append(table, empty);
  el.append(wrap);

  const rows = new Map(); // key -> {tr, data, cells: Map(col -> td)}
  let columns = [];

  function drawHeader() {
    columns = model.columns || [];
    const tr = document.createElement("tr");
    for (const col of columns) {
      const th = document.createElement("th");
      th.textContent = col.label;
      th.dataset.col = col.key;
      if (col.title) th.title = col.title;
      th.style.textAlign = col.align || "left";
      if (col.width) th.style.width = `${col.width}px`;
      tr.append(th);
    }
    thead.replaceChildren(tr);
    for (const entry of rows.values()) entry.tr.remove();
    rows.clear();
  }

  function fillCell(td, cell) {
    const parts = cellParts(cell);
    if (parts === null) {
      td.replaceChildren();
      const button = document.createElement("button");
      button.type = "button";
      button.className = `hs-cell-btn ${cell.t || ""}`;
      button.textContent = cell.b;
      button.dataset.action = cell.a;
      if (cell.title) button.title = cell.title;
      button.disabled = !!cell.d;
      td.append(button);
      td.title = "";
      td.className = "hs-btn-cell";
      return;
    }
    const [text, title, tone] = parts;
    if (td.firstChild && td.firstChild.nodeType !== Node.TEXT_NODE) td.replaceChildren();
    // write only what differs: each DOM write costs a style pass, a layout and a repaint
    if (td.textContent !== text) td.textContent = text;
    if (td.title !== title) td.title = title;
    if (td.className !== tone) td.className = tone;
  }

  function makeRow(row) {
    const tr = document.createElement("tr");
    tr.dataset.key = row.k;
    const cells = new Map();
    for (const col of columns) {
      const td = document.createElement("td");
      td.dataset.col = col.key;
      td.style.textAlign = col.align || "left";
      fillCell(td, row.v[col.key]);
      tr.append(td);
      cells.set(col.key, td);
    }
    return { tr, data: row, cells };
  }

  function updateRow(entry, row) {
    for (const col of columns) {
      const before = entry.data.v[col.key];
      const after = row.v[col.key];
      if (!sameCell(before, after)) fillCell(entry.cells.get(col.key), after);
    }
    entry.data = row;
  }

  function rowClass(row) {
    let cls = row.c || "";
    if (row.s) cls += " selectable";
    if (row.k === model.selected) cls += " selected";
    return cls.trim();
  }

  function drawRows() {
    const data = JSON.parse(model.rows || "[]");
    const seen = new Set();
    let previous = null;
    for (const row of data) {
      seen.add(row.k);
      let entry = rows.get(row.k);
      if (entry === undefined) {
        entry = makeRow(row);
        rows.set(row.k, entry);
      } else {
        updateRow(entry, row);
      }
      const cls = rowClass(row);
      if (entry.tr.className !== cls) entry.tr.className = cls;
      const expected = previous === null ? tbody.firstChild : previous.nextSibling;
      if (expected !== entry.tr) tbody.insertBefore(entry.tr, expected);
      previous = entry.tr;
    }
    for (const [key, entry] of rows) {
      if (!seen.has(key)) {
        entry.tr.remove();
        rows.delete(key);
      }
    }
    const message = data.length === 0 ? model.empty || "" : "";
    if (empty.dataset.shown !== message) {
      empty.innerHTML = message;
      empty.dataset.shown = message;
    }
    const display = data.length === 0 && model.empty ? "" : "none";
    if (empty.style.display !== display) empty.style.display = display;
    if (wrap.dataset.rows !== String(data.length)) wrap.dataset.rows = String(data.length);
  }

  function drawSelection() {
    for (const entry of rows.values()) {
      const cls = rowClass(entry.data);
      if (entry.tr.className !== cls) entry.tr.className = cls;
    }
  }

  tbody.addEventListener("click", (event) => {
    const target = event.composedPath()[0];
    const tr = target.closest ? target.closest("tr") : null;
    if (!tr) return;
    const key = tr.dataset.key;
    const button = target.closest("button[data-action]");
    if (button) {
      if (!button.disabled) model.send_msg({ type: "action", action: button.dataset.action, key });
      return;
    }
    const entry = rows.get(key);
    if (entry && entry.data.s && model.selected !== key) {
      model.selected = key;
      drawSelection();
    }
  });

  model.on("columns", () => { drawHeader(); drawRows(); });
  model.on("rows", drawRows);
  model.on("selected", drawSelection);
  model.on("empty", drawRows);
  drawHeader();
  drawRows();
}
