// The access-review report's script: decodes the embedded data and pages, filters and sorts every table.
// Values are written with textContent only; the page makes no request (see the Content-Security-Policy).
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("review-data").textContent);
  const PAGE = 50;
  const PRINT_LIMIT = 5000;
  const fmt = new Intl.NumberFormat("en-US");

  function ints(text) {
    const bin = atob(text);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Int32Array(bytes.buffer);
  }

  const types = D.types.map((t) => t[0]);
  const res = { t: ints(D.res.t), id: D.res.id, n: D.res.n, l: D.res.l, s: D.res.s, x: D.res.x };
  const ent = { id: D.ent.id, r: ints(D.ent.r), slug: D.ent.slug, n: D.ent.n, rule: ints(D.ent.rule),
                d: ints(D.ent.d), a: ints(D.ent.a) };
  const grants = { o: ints(D.g.o), e: ints(D.g.e) };
  const edges = ints(D.edges);
  const acc = { r: ints(D.acc.r), d: ints(D.acc.d), f: ints(D.acc.f), p: ints(D.acc.p) };
  const priv = ints(D.priv);
  const inactive = ints(D.inactive);
  const accountIndex = new Map();  // resource index -> row in acc
  for (let i = 0; i < acc.r.length; i++) accountIndex.set(acc.r[i], i);

  // Expansion edges by source entitlement (holders of source hold target, via holder) and by target.
  const bySource = new Map(), byTarget = new Map();
  for (let i = 0; i < edges.length; i += 3) {
    const s = edges[i], t = edges[i + 1], h = edges[i + 2];
    if (!bySource.has(s)) bySource.set(s, []);
    bySource.get(s).push([t, h]);
    if (!byTarget.has(t)) byTarget.set(t, []);
    byTarget.get(t).push([s, h]);
  }

  const key = (r) => types[res.t[r]] + ":" + res.id[r];
  const resLabel = (r) => res.n[r] + " (" + key(r) + ")";
  const entResource = (e) => res.n[ent.r[e]];
  const viaText = (h) => (h < 0 ? "direct" : "via " + types[res.t[h]] + " " + res.n[h] + " (" + key(h) + ")");
  const viaKey = (h) => (h < 0 ? "direct" : key(h));
  const ruleOf = (e) => (ent.rule[e] >= 0 ? D.rules[ent.rule[e]] : null);
  const privText = (e) => { const r = ruleOf(e); return r ? (r[1] ? "CRITICAL " : "") + r[0] : ""; };

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function badge(text, cls) { return el("span", text, "badge " + cls); }

  // -- effective access, the same walk as `iac connector inspect FILE access PRINCIPAL` ------------------
  function directOf(r) { return Array.from(grants.e.subarray(grants.o[r], grants.o[r + 1])); }

  function accessRows(r) {
    const rows = directOf(r).sort((a, b) => (ent.id[a] < ent.id[b] ? -1 : ent.id[a] > ent.id[b] ? 1 : 0))
      .map((e) => [e, -1]);
    const expanded = new Set();
    for (let i = 0; i < rows.length; i++) {
      const e = rows[i][0];
      if (expanded.has(e)) continue;
      expanded.add(e);
      for (const edge of bySource.get(e) || []) rows.push(edge);
    }
    return rows;
  }

  // Direct holders by entitlement (the grants inverted once, on first use, into typed arrays).
  let byEnt = null;
  function directHolders(e) {
    if (!byEnt) {
      const count = new Int32Array(ent.id.length + 1);
      for (let g = 0; g < grants.e.length; g++) count[grants.e[g] + 1]++;
      for (let x = 0; x < ent.id.length; x++) count[x + 1] += count[x];
      const holders = new Int32Array(grants.e.length), next = count.slice(0, ent.id.length);
      for (let r = 0; r + 1 < grants.o.length; r++) {
        for (let g = grants.o[r]; g < grants.o[r + 1]; g++) holders[next[grants.e[g]]++] = r;
      }
      byEnt = { o: count, h: holders };
    }
    return Array.from(byEnt.h.subarray(byEnt.o[e], byEnt.o[e + 1]));
  }

  function holderRows(e) {
    // Direct holders, then the holders of every entitlement that expands into this one, via its holder.
    const rows = directHolders(e).map((r) => [r, -1]);
    const seen = new Set([e]);
    const queue = [e];
    while (queue.length) {
      const target = queue.shift();
      for (const [source, via] of byTarget.get(target) || []) {
        for (const r of directHolders(source)) rows.push([r, via]);
        if (!seen.has(source)) { seen.add(source); queue.push(source); }
      }
    }
    return rows;
  }

  // -- a paged, searchable, sortable table over row indexes ---------------------------------------------
  // spec.cells(i) returns {column key: value}; a value is text, a number, or {text, node, sort}.
  function makeTable(id, count, spec) {
    const root = document.querySelector('[data-table="' + id + '"]');
    if (!root) return null;
    const input = root.querySelector("input");
    const tbody = root.querySelector("tbody");
    const heads = Array.from(root.querySelectorAll("thead th"));
    const columns = heads.map((th) => th.dataset.key);
    const numeric = heads.map((th) => th.classList.contains("num"));
    const status = root.querySelector(".status");
    const state = { rows: null, page: 0, sortCol: -1, sortDir: 1, limit: PAGE };
    let haystack = null;

    const text = (v) => (v === null || v === undefined ? "" : typeof v === "object" ? v.text : String(v));
    const sortValue = (v) => (v && typeof v === "object" ? (v.sort !== undefined ? v.sort : v.text) : v);

    function all() { const out = new Int32Array(count); for (let i = 0; i < count; i++) out[i] = i; return out; }

    function filter(query) {
      const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
      if (!terms.length) return all();
      const scoped = [], free = [];
      for (const term of terms) {
        const at = term.indexOf(":");
        const col = at > 0 ? columns.indexOf(term.slice(0, at)) : -1;
        if (col >= 0) scoped.push([col, term.slice(at + 1)]); else free.push(term);
      }
      if (free.length && !haystack) {
        haystack = new Array(count);
        for (let i = 0; i < count; i++) {
          const cells = spec.cells(i);
          haystack[i] = columns.map((c) => text(cells[c])).join(" ").toLowerCase();
        }
      }
      const out = [];
      for (let i = 0; i < count; i++) {
        if (free.length && !free.every((t) => haystack[i].includes(t))) continue;
        if (scoped.length) {
          const cells = spec.cells(i);
          if (!scoped.every(([c, v]) => text(cells[columns[c]]).toLowerCase().includes(v))) continue;
        }
        out.push(i);
      }
      return Int32Array.from(out);
    }

    function sort() {
      if (state.sortCol < 0) return;
      const col = columns[state.sortCol], dir = state.sortDir, isNum = numeric[state.sortCol];
      const values = new Map();
      for (const i of state.rows) values.set(i, sortValue(spec.cells(i)[col]));
      const rows = Array.from(state.rows);
      rows.sort((a, b) => {
        const x = values.get(a), y = values.get(b);
        const c = isNum ? x - y : String(x).localeCompare(String(y));
        return c !== 0 ? c * dir : a - b;
      });
      state.rows = Int32Array.from(rows);
    }

    function render() {
      const total = state.rows.length;
      const pages = Math.max(1, Math.ceil(total / state.limit));
      state.page = Math.min(state.page, pages - 1);
      const start = state.page * state.limit, end = Math.min(total, start + state.limit);
      const fragment = document.createDocumentFragment();
      for (let k = start; k < end; k++) {
        const i = state.rows[k];
        const cells = spec.cells(i);
        const tr = document.createElement("tr");
        tr.dataset.row = String(i);
        columns.forEach((c, n) => {
          const v = cells[c];
          const td = document.createElement("td");
          if (numeric[n]) td.className = "num";
          if (v && typeof v === "object" && v.node) td.appendChild(v.node());
          else td.textContent = typeof v === "number" ? fmt.format(v) : text(v);
          tr.appendChild(td);
        });
        fragment.appendChild(tr);
      }
      tbody.replaceChildren(fragment);
      if (!total) {
        const tr = el("tr"), td = el("td", "No rows.", "muted");
        td.colSpan = columns.length;
        tr.appendChild(td);
        tbody.appendChild(tr);
      }
      status.textContent = total ? "Rows " + fmt.format(start + 1) + "–" + fmt.format(end) + " of " + fmt.format(total)
        + (total < count ? " (filtered from " + fmt.format(count) + ")" : "") : "No rows of " + fmt.format(count);
      root.dataset.total = String(total);
      root.querySelector('[data-page="prev"]').disabled = root.querySelector('[data-page="first"]').disabled = state.page === 0;
      root.querySelector('[data-page="next"]').disabled = root.querySelector('[data-page="last"]').disabled = end >= total;
    }

    function apply(query) {
      state.rows = filter(query);
      sort();
      state.page = 0;
      render();
    }

    let timer = 0;
    input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => apply(input.value), 120); });
    heads.forEach((th, n) => th.querySelector("button").addEventListener("click", () => {
      state.sortDir = state.sortCol === n ? -state.sortDir : (numeric[n] ? -1 : 1);
      state.sortCol = n;
      heads.forEach((h, m) => h.setAttribute("aria-sort", m === n ? (state.sortDir > 0 ? "ascending" : "descending") : "none"));
      sort();
      state.page = 0;
      render();
    }));
    root.querySelector(".pager").addEventListener("click", (event) => {
      const go = event.target.closest("button") && event.target.closest("button").dataset.page;
      if (!go) return;
      const pages = Math.max(1, Math.ceil(state.rows.length / state.limit));
      state.page = go === "first" ? 0 : go === "prev" ? Math.max(0, state.page - 1)
        : go === "next" ? Math.min(pages - 1, state.page + 1) : pages - 1;
      render();
    });
    apply("");
    return {
      search(query) { input.value = query; apply(query); },
      printAll(on) { state.limit = on ? PRINT_LIMIT : PAGE; if (!on) state.page = 0; render(); },
      // A new set of rows (the detail tables): search, sort and page start over.
      reset(newCount, newSpec) {
        count = newCount;
        spec = newSpec;
        haystack = null;
        state.sortCol = -1;
        heads.forEach((h) => h.setAttribute("aria-sort", "none"));
        input.value = "";
        apply("");
      },
      get total() { return state.rows.length; },
    };
  }

  // -- cells ---------------------------------------------------------------------------------------------
  function accountLink(r) {
    return { text: resLabel(r), sort: res.n[r], node: () => {
      const span = el("span");
      const a = el("a", res.n[r]);
      a.href = "#account/" + encodeURIComponent(key(r));
      a.dataset.key = key(r);
      span.appendChild(a);
      span.appendChild(el("span", key(r), "key"));
      return span;
    } };
  }
  function entitlementLink(e) {
    return { text: ent.n[e] + " (" + ent.id[e] + ")", sort: ent.n[e], node: () => {
      const a = el("a", ent.n[e]);
      a.href = "#entitlement/" + encodeURIComponent(ent.id[e]);
      a.title = ent.id[e];
      return a;
    } };
  }
  function privCell(e) {
    const rule = ruleOf(e);
    if (!rule) return { text: "", sort: "" };
    return { text: privText(e), node: () => {
      const span = el("span");
      if (rule[1]) span.appendChild(badge("CRITICAL", "critical"));
      span.appendChild(document.createTextNode(rule[0]));
      return span;
    } };
  }
  function statusCell(r) {
    const reason = res.x[r];
    return { text: res.s[r] + (reason ? " inactive" : ""), node: () => {
      const span = el("span");
      if (reason) span.appendChild(badge("INACTIVE", "inactive"));
      span.appendChild(document.createTextNode(res.s[r] || "—"));
      return span;
    } };
  }
  function pathCell(h) {
    return { text: viaKey(h) === "direct" ? "direct" : viaText(h) + " " + viaKey(h), sort: viaKey(h),
             node: () => { const s = el("span", viaText(h)); s.dataset.via = viaKey(h); return s; } };
  }

  const tables = {};
  tables.privileged = makeTable("privileged", priv.length / 3, { cells(i) {
    const r = priv[3 * i], e = priv[3 * i + 1], h = priv[3 * i + 2];
    return { account: accountLink(r), status: statusCell(r), entitlement: entitlementLink(e),
             privilege: privCell(e), path: pathCell(h) };
  } });
  tables.inactive = makeTable("inactive", inactive.length, { cells(i) {
    const r = inactive[i], a = accountIndex.get(r);
    return { account: accountLink(r), status: statusCell(r), reason: res.x[r], direct: acc.d[a], effective: acc.f[a] };
  } });
  if (D.changes) {
    tables.changes = makeTable("changes", D.changes.length, { cells(i) {
      const c = D.changes[i];
      return { change: c[0], kind: c[1], subject: c[2], detail: c[3] };
    } });
  }
  tables.accounts = makeTable("accounts", acc.r.length, { cells(i) {
    const r = acc.r[i];
    return { account: accountLink(r), login: res.l[r], status: { text: res.s[r] }, inactive: res.x[r],
             direct: acc.d[i], effective: acc.f[i], privileged: acc.p[i] };
  } });
  tables.entitlements = makeTable("entitlements", ent.id.length, { cells(e) {
    return { entitlement: entitlementLink(e), resource: entResource(e), type: types[res.t[ent.r[e]]],
             privileged: ruleOf(e) ? { text: "yes " + privText(e), node: () => privCell(e).node() } : "",
             direct: ent.d[e], accounts: ent.a[e] };
  } });
  // Grants in principal order: row i belongs to the principal whose offset range holds it (binary search).
  function principalOfGrant(g) {
    let lo = 0, hi = grants.o.length - 2;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (grants.o[mid] <= g) lo = mid; else hi = mid - 1; }
    return lo;
  }
  tables.grants = makeTable("grants", grants.e.length, { cells(g) {
    const r = principalOfGrant(g), e = grants.e[g];
    return { principal: accountIndex.has(r) ? accountLink(r) : resLabel(r), entitlement: entitlementLink(e),
             type: types[res.t[ent.r[e]]] };
  } });

  // -- the header's counts: every number links to its rows ------------------------------------------------
  function countItem(label, n, href, decide) {
    const li = el("li", null, decide ? "decide" : "");
    const a = el("a");
    a.href = href;
    a.appendChild(el("span", fmt.format(n), "n"));
    a.appendChild(document.createTextNode(label));
    a.dataset.count = String(n);
    a.id = "count-" + label.toLowerCase().replace(/[^a-z]+/g, "-").replace(/-$/, "");
    li.appendChild(a);
    return li;
  }
  const counts = document.getElementById("counts");
  counts.appendChild(countItem("Privileged holdings", priv.length / 3, "#privileged", true));
  counts.appendChild(countItem("Inactive with access", inactive.length, "#inactive", true));
  if (D.changes) counts.appendChild(countItem("Changes", D.changes.length, "#changes", true));
  counts.appendChild(countItem("Accounts", acc.r.length, "#accounts"));
  counts.appendChild(countItem("Entitlements", ent.id.length, "#entitlements"));
  counts.appendChild(countItem("Grants", grants.e.length, "#grants"));
  const byType = document.getElementById("by-type");
  byType.appendChild(document.createTextNode("Resources by type: "));
  types.forEach((t, n) => {
    const count = D.type_counts.resources[n];
    if (!count) return;
    const a = el("a", t + " " + fmt.format(count));
    a.href = t === D.meta.account_type ? "#accounts" : "#entitlements?q=" + encodeURIComponent("type:" + t);
    a.dataset.type = t;
    a.dataset.count = String(count);
    if (byType.childNodes.length > 1) byType.appendChild(document.createTextNode(" · "));
    byType.appendChild(a);
  });

  // -- details --------------------------------------------------------------------------------------------
  // The detail tables page like the others: one account's access, or an entitlement's holders (100k for
  // an "Everyone" group), never more than a page in the DOM.
  tables["account-detail"] = makeTable("account-detail", 0, { cells() { return {}; } });
  tables["entitlement-detail"] = makeTable("entitlement-detail", 0, { cells() { return {}; } });

  function viaCell(h) {
    return { text: viaText(h), sort: viaKey(h), node: () => { const s = el("span", viaText(h)); s.dataset.via = viaKey(h); return s; } };
  }

  function showAccount(r) {
    const section = document.getElementById("account-detail");
    const rows = accessRows(r);
    const heading = document.getElementById("account-detail-h");
    heading.textContent = "Access of " + resLabel(r) + ": " + fmt.format(rows.length) + " rows"
      + (res.x[r] ? " — inactive: " + res.x[r] : "");
    section.dataset.principal = key(r);
    section.dataset.rows = String(rows.length);
    tables["account-detail"].reset(rows.length, { cells(i) {
      const [e, h] = rows[i];
      const link = entitlementLink(e);
      return { entitlement: { text: link.text, sort: link.sort, node: () => {
        const a = link.node(); a.dataset.entitlement = ent.id[e]; return a; } },
        resource: entResource(e), type: types[res.t[ent.r[e]]], privileged: privText(e), path: viaCell(h) };
    } });
    section.hidden = false;
    section.scrollIntoView();
    heading.focus();
  }

  function showEntitlement(e) {
    const section = document.getElementById("entitlement-detail");
    const rows = holderRows(e);
    const heading = document.getElementById("entitlement-detail-h");
    heading.textContent = "Holders of " + ent.n[e] + " (" + ent.id[e] + "): " + fmt.format(rows.length) + " rows";
    section.dataset.entitlement = ent.id[e];
    section.dataset.rows = String(rows.length);
    tables["entitlement-detail"].reset(rows.length, { cells(i) {
      const [r, h] = rows[i];
      return { holder: { text: resLabel(r), sort: res.n[r], node: () => {
        const holder = accountIndex.has(r) ? accountLink(r).node() : el("span", resLabel(r));
        holder.dataset.holder = key(r);
        return holder;
      } }, type: types[res.t[r]], status: res.s[r] + (res.x[r] ? " (inactive)" : ""), path: viaCell(h) };
    } });
    section.hidden = false;
    section.scrollIntoView();
    heading.focus();
  }

  const resourceByKey = new Map();
  const entByKey = new Map();
  function route() {
    const hash = decodeURIComponent(location.hash.slice(1));
    if (hash.startsWith("account/")) {
      if (!resourceByKey.size) for (let r = 0; r < res.id.length; r++) resourceByKey.set(key(r), r);
      const r = resourceByKey.get(hash.slice(8));
      if (r !== undefined) showAccount(r);
      return;
    }
    if (hash.startsWith("entitlement/")) {
      if (!entByKey.size) ent.id.forEach((x, e) => entByKey.set(x, e));
      const e = entByKey.get(hash.slice(12));
      if (e !== undefined) showEntitlement(e);
      return;
    }
    const [section, query] = hash.split("?q=");
    if (query !== undefined && tables[section]) tables[section].search(query);
    const target = section && document.getElementById(section);
    if (target) target.scrollIntoView();
  }
  window.addEventListener("hashchange", route);
  if (location.hash) route();

  // Printing: the decision tables print whole (up to PRINT_LIMIT rows), the long ones their current page.
  const printed = ["privileged", "inactive", "changes", "account-detail", "entitlement-detail"];
  window.addEventListener("beforeprint", () => printed.forEach((t) => tables[t] && tables[t].printAll(true)));
  window.addEventListener("afterprint", () => printed.forEach((t) => tables[t] && tables[t].printAll(false)));

  window.accessReview = { tables, accessRows, holderRows, key, ent, res, readyMs: performance.now() };
  document.documentElement.dataset.ready = "true";
})();
