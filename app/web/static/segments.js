// The segment builder: groups (all of / any of, possibly "not") of rows (field, operator, value). Every
// change writes the condition into the expression box; the server draws the builder from its tree.
(function () {
  const root = document.getElementById("builder");
  const box = document.getElementById("expression");
  if (!root || !box) return;
  const fields = JSON.parse(root.dataset.fields);
  const words = JSON.parse(root.dataset.words);
  const byName = Object.fromEntries(fields.map((f) => [f.name, f]));
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text) e.textContent = text; return e; };
  const option = (value, text) => { const o = el("option", "", text || value); o.value = value; return o; };

  const quote = (v, kind) => {
    v = v.trim();
    if (kind === "number" && /^-?\d+(\.\d+)?$/.test(v)) return v;
    if (kind === "boolean" && /^(true|false)$/i.test(v)) return v.toLowerCase();
    if (kind === "list" && /^\d+$/.test(v)) return v;
    return "'" + v.replace(/'/g, "''") + "'";
  };

  function rowText(row) {
    const f = byName[row.querySelector(".r-field").value];
    const op = row.querySelector(".r-op").value;
    const value = row.querySelector(".r-value").value.trim();
    if (f.kind === "event") return value ? `${f.name} ${value}` : f.name;
    if (op === "is empty" || op === "is not empty") return `${f.name} ${op}`;
    if (op === "within") return `${f.name} within ${value} days`;
    if (op === "in" || op === "not in") return `${f.name} ${op} (${value.split(",").map((v) => quote(v, f.kind)).join(", ")})`;
    return `${f.name} ${op} ${quote(value, f.kind)}`;
  }

  function groupText(group, top) {
    const items = [...group.querySelector(":scope > .items").children].map((c) =>
      c.classList.contains("group") ? groupText(c, false) : rowText(c));
    const negated = group.querySelector(":scope > .g-head .g-not").checked;
    let text = items.join(` ${group.querySelector(":scope > .g-head .g-op").value} `);
    if (negated) return `not (${text})`;
    return top || items.length < 2 ? text : `(${text})`;
  }

  const write = () => { const top = root.querySelector(".group"); if (top) box.value = groupText(top, true); };

  function makeRow(data) {
    const row = el("div", "row");
    const field = el("select", "r-field"), op = el("select", "r-op"), value = el("input", "r-value"), remove = el("button", "link", words.remove);
    field.setAttribute("aria-label", "field"); op.setAttribute("aria-label", "operator"); value.setAttribute("aria-label", words.value);
    remove.type = "button";
    fields.forEach((f) => field.append(option(f.name)));
    const fillOps = () => {
      const f = byName[field.value];
      op.replaceChildren(...f.ops.map((o) => option(o, o || "…")));
      op.hidden = f.kind === "event";
      value.placeholder = f.hint || "";
    };
    field.value = data.field || fields[0].name;
    fillOps();
    if (data.op !== undefined && data.op !== "") op.value = data.op;
    value.value = (data.values || []).join(", ");
    field.addEventListener("change", () => { fillOps(); write(); });
    remove.addEventListener("click", () => { row.remove(); write(); });
    row.append(field, op, value, remove);
    return row;
  }

  function makeGroup(data, top) {
    const group = el("div", "group");
    const head = el("div", "g-head");
    const op = el("select", "g-op"), not = el("input", "g-not"), label = el("label", "", " " + words.not);
    op.append(option("and", words.and), option("or", words.or));
    op.value = data.op || "and";
    not.type = "checkbox"; not.checked = !!data.not; label.prepend(not);
    const addRow = el("button", "link add-row", words.row), addGroup = el("button", "link add-group", words.group);
    addRow.type = addGroup.type = "button";
    head.append(op, label, addRow, addGroup);
    if (!top) { const remove = el("button", "link", words.remove); remove.type = "button"; remove.addEventListener("click", () => { group.remove(); write(); }); head.append(remove); }
    const items = el("div", "items");
    (data.items || []).forEach((i) => items.append(i.type === "group" ? makeGroup(i, false) : makeRow(i)));
    addRow.addEventListener("click", () => { items.append(makeRow({})); write(); });
    addGroup.addEventListener("click", () => { items.append(makeGroup({ items: [{}] }, false)); write(); });
    group.append(head, items);
    return group;
  }

  const tree = JSON.parse(root.dataset.tree);
  const top = !tree ? { op: "and", items: box.value.trim() ? [] : [{}] } : tree.type === "group" ? tree : { op: "and", items: [tree] };
  root.append(makeGroup(top, true));
  root.addEventListener("input", write);
  root.addEventListener("change", write);
})();
