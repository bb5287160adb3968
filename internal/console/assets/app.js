// Paddock console: polls /console/api/* every 2 s and draws the page.
// Plain DOM and inline SVG; text always goes through textContent.
"use strict";

(function () {
  const POLL_MS = 2000;
  const SVG = "http://www.w3.org/2000/svg";

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }

  function num(n, digits) {
    if (!isFinite(n)) return "–";
    return Number(n).toLocaleString("en-US", { maximumFractionDigits: digits === undefined ? 1 : digits });
  }

  function usd(n) {
    if (!isFinite(n)) return "–";
    return "$" + Number(n).toFixed(Math.abs(n) < 1 ? 6 : 2);
  }

  function duration(seconds) {
    const s = Math.floor(seconds);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    if (h > 0) return h + "h " + m + "m";
    if (m > 0) return m + "m " + (s % 60) + "s";
    return s + "s";
  }

  // bar is a utilization bar: the filled share of used/total, labelled.
  // An allocation bar stays neutral when full (a packed instance is the
  // goal); a use bar turns amber, then red, near its limit.
  function bar(used, total, label, testid, alloc) {
    const frac = total > 0 ? Math.max(0, Math.min(1, used / total)) : 0;
    const wrap = el("div", { class: "bar", title: label });
    if (testid) wrap.setAttribute("data-testid", testid);
    wrap.setAttribute("data-value", String(Math.round(frac * 1000) / 10));
    const fill = el("div", { class: "fill" + (alloc ? " alloc" : frac >= 0.9 ? " hot" : frac >= 0.7 ? " warm" : "") });
    fill.style.width = (frac * 100).toFixed(1) + "%";
    wrap.appendChild(fill);
    wrap.appendChild(el("span", { class: "bar-label" }, label));
    return wrap;
  }

  async function get(path) {
    const r = await fetch(path, { credentials: "same-origin", cache: "no-store" });
    if (r.status === 401) {
      location.reload(); // the session ended: show the login form
      throw new Error("logged out");
    }
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return r.json();
  }

  // ---- versions ----
  function throttleCount(m) {
    let n = 0;
    for (const v of Object.values(m || {})) n += v;
    return n;
  }

  function renderVersions(st) {
    const tbody = document.querySelector("#versions-table tbody");
    const rows = [];
    for (const v of st.versions || []) {
      const key = v.function + ":" + v.version;
      const tr = el("tr", { "data-testid": "version-row", "data-key": key, "data-state": v.state });
      tr.appendChild(el("td", { class: "mono", "data-testid": "version-key" }, key));
      tr.appendChild(el("td", {}, v.capacityProvider));
      tr.appendChild(el("td", { class: "state state-" + String(v.state).toLowerCase() }, v.state));

      const ees = el("td", { "data-testid": "ees", "data-ready": String(v.readyEEs), "data-desired": String(v.desiredEEs) });
      const dots = el("span", { class: "dots", "aria-hidden": "true" });
      const n = Math.max(v.desiredEEs, v.liveEEs, v.readyEEs);
      for (let i = 0; i < Math.min(n, 48); i++) {
        dots.appendChild(el("span", { class: "dot" + (i < v.readyEEs ? " ready" : i < v.liveEEs ? " starting" : "") }));
      }
      ees.appendChild(el("span", { class: "ees-text", "data-testid": "ees-text" }, v.readyEEs + "/" + v.desiredEEs));
      ees.appendChild(dots);
      tr.appendChild(ees);

      const conc = el("td", { "data-testid": "concurrency" });
      conc.appendChild(bar(v.concurrencyInUse, v.concurrencyLimit, v.concurrencyInUse + "/" + v.concurrencyLimit));
      tr.appendChild(conc);
      tr.appendChild(el("td", { class: "num" }, num(v.cpuPercent, 0) + "%"));
      tr.appendChild(el("td", { class: "num" }, num(v.memoryPercent, 0) + "%"));
      const thr = throttleCount(v.throttlesLastMinute);
      const thrCell = el("td", { class: "num" + (thr > 0 ? " alert" : ""), "data-testid": "throttles" }, String(thr));
      const causes = Object.entries(v.throttlesLastMinute || {}).map(([c, k]) => c + " " + k).join(", ");
      if (causes) thrCell.title = causes;
      tr.appendChild(thrCell);
      tr.appendChild(el("td", { class: "why" }, "desired " + v.desiredEEs + (v.why ? ": " + v.why : "")));
      rows.push(tr);
    }
    tbody.replaceChildren(...rows);
    document.getElementById("versions-empty").hidden = rows.length > 0;
    const od = st.onDemand;
    document.getElementById("ondemand").textContent = od
      ? "Default-mode pool: " + od.ees + " EEs (" + od.idle + " idle), " + od.coldStarts + " cold starts, " +
        od.overflowed + " burst invokes overflowed from LMI."
      : "";
  }

  // ---- capacity providers ----
  function renderFleet(st) {
    const root = document.getElementById("capacity-providers");
    const cards = [];
    for (const cp of st.capacityProviders || []) {
      const card = el("div", { class: "cp", "data-testid": "capacity-provider", "data-name": cp.name });
      const head = el("div", { class: "cp-head" });
      head.appendChild(el("strong", { class: "mono" }, cp.name));
      const mode = cp.scalingMode === "Manual" ? "Manual, target " + num(cp.targetPercent, 0) + "%" : (cp.scalingMode || "Auto");
      head.appendChild(el("span", { class: "muted" },
        " " + (cp.architecture || "") + ", " + cp.state + ", " + mode + ", max " + cp.maxVCpuCount + " vCPU; " +
        cp.instances.length + " instance" + (cp.instances.length === 1 ? "" : "s")));
      card.appendChild(head);
      card.appendChild(bar(cp.vcpuAllocated, cp.vcpuAllocated + cp.vcpuAvailable,
        "vCPU " + num(cp.vcpuAllocated) + " allocated / " + num(cp.vcpuAllocated + cp.vcpuAvailable) + " on instances", "cp-vcpu", true));
      const list = el("div", { class: "instances" });
      if (cp.instances.length > 0) {
        const hdr = el("div", { class: "instance hdr" });
        for (const t of ["Instance", "vCPU allocated", "Memory allocated", "CPU use"]) hdr.appendChild(el("span", {}, t));
        list.appendChild(hdr);
      }
      for (const i of cp.instances) {
        const row = el("div", { class: "instance", "data-testid": "instance", "data-id": i.id, "data-state": i.state });
        const name = el("span", { class: "mono" }, i.id);
        name.appendChild(el("span", { class: "muted" }, " " + i.type + " · " + i.state + " · " + i.ees + " EE" + (i.ees === 1 ? "" : "s")));
        row.appendChild(name);
        const vcpus = i.vcpuAllocated + i.vcpuAvailable;
        row.appendChild(bar(i.vcpuAllocated, vcpus, num(i.vcpuAllocated) + " / " + num(vcpus) + " vCPU", "instance-vcpu", true));
        const mem = i.memoryAllocatedMiB + i.memoryAvailableMiB;
        row.appendChild(bar(i.memoryAllocatedMiB, mem, i.memoryAllocatedMiB + " / " + mem + " MiB", "instance-mem", true));
        row.appendChild(bar(i.cpuPercent, 100, num(i.cpuPercent, 0) + "%", "instance-cpu"));
        list.appendChild(row);
      }
      card.appendChild(list);
      cards.push(card);
    }
    root.replaceChildren(...cards);
    document.getElementById("fleet-empty").hidden = cards.length > 0;
  }

  // ---- charts ----
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  function drawChart(fig, body) {
    const field = fig.dataset.field;
    const unit = fig.dataset.unit || "";
    const samples = body.samples || [];
    const values = samples.map((s) => Number(s[field]) || 0);
    fig.dataset.points = values.map((v) => Math.round(v * 1000) / 1000).join(",");
    const last = values.length ? values[values.length - 1] : 0;
    fig.querySelector(".now").textContent = values.length ? num(last, 2) + unit : "";

    const W = 600, H = 170, L = 44, R = 8, T = 10, B = 22;
    const pw = W - L - R, ph = H - T - B;
    const now = Date.parse(body.now) || Date.now();
    const win = (body.windowSeconds || 900) * 1000;
    const ymax = fig.dataset.max ? Math.max(Number(fig.dataset.max), niceMax(Math.max(0, ...values))) : niceMax(Math.max(0, ...values));
    const x = (t) => L + pw * (1 - (now - t) / win);
    const y = (v) => T + ph * (1 - v / ymax);

    const s = svg("svg", { viewBox: "0 0 " + W + " " + H, class: "plot", role: "img", "aria-label": fig.querySelector("figcaption").textContent });
    for (let i = 0; i <= 4; i++) {
      const v = (ymax * i) / 4;
      s.appendChild(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid-line" }));
      const t = svg("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" });
      t.textContent = num(v, 2);
      s.appendChild(t);
    }
    for (const m of [15, 10, 5, 0]) {
      const t = svg("text", { x: x(now - m * 60000), y: H - 6, class: "axis", "text-anchor": m === 15 ? "start" : m === 0 ? "end" : "middle" });
      t.textContent = m === 0 ? "now" : "-" + m + "m";
      s.appendChild(t);
    }
    if (samples.length > 0) {
      const pts = samples.map((smp, i) => [x(Date.parse(smp.t)), y(values[i])]);
      const line = pts.map((p, i) => (i ? "L" : "M") + p[0].toFixed(1) + " " + p[1].toFixed(1)).join(" ");
      const area = line + " L" + pts[pts.length - 1][0].toFixed(1) + " " + y(0) + " L" + pts[0][0].toFixed(1) + " " + y(0) + " Z";
      s.appendChild(svg("path", { d: area, class: "area" }));
      s.appendChild(svg("path", { d: line, class: "line", "data-testid": "chart-line" }));
    } else {
      const t = svg("text", { x: L + pw / 2, y: T + ph / 2, class: "axis", "text-anchor": "middle" });
      t.textContent = "collecting… (a point every " + (body.intervalSeconds || 5) + " s)";
      s.appendChild(t);
    }
    const old = fig.querySelector("svg");
    if (old) old.replaceWith(s);
    else fig.appendChild(s);
  }

  function renderCharts(body) {
    for (const fig of document.querySelectorAll("figure.chart")) drawChart(fig, body);
  }

  // ---- cost ----
  function renderCost(c) {
    const b = c.bill;
    if (!c.metered || !b) return;
    const t = b.totals;
    document.getElementById("cost-total").textContent = usd(t.total);
    document.getElementById("cost-lmi").textContent = usd(t.lmi);
    document.getElementById("cost-default").textContent = usd(t.default);
    document.getElementById("cost-requests").textContent = num(t.requests, 0);
    document.getElementById("cost-period").textContent = "since Paddock started, " + duration(b.periodSeconds) + " ago";
    const rows = (b.functions || []).map((f) => {
      const tr = el("tr", { "data-testid": "cost-function", "data-function": f.function });
      tr.appendChild(el("td", { class: "mono" }, f.function));
      tr.appendChild(el("td", {}, f.mode === "lmi" ? "LMI" + (f.capacityProvider ? " on " + f.capacityProvider : "") : "default"));
      tr.appendChild(el("td", { class: "num" }, num(f.requests, 0)));
      tr.appendChild(el("td", { class: "num" }, usd(f.total)));
      tr.appendChild(el("td", { class: "num", title: f.otherMode.basis || "" }, usd(f.otherMode.total) + " (" + f.otherMode.mode + ")"));
      tr.appendChild(el("td", {}, f.verdict || ""));
      return tr;
    });
    document.querySelector("#cost-functions tbody").replaceChildren(...rows);
  }

  // ---- servers and hosts (paddock server) ----
  function renderCluster(st) {
    const c = st.cluster;
    const section = document.getElementById("cluster");
    section.hidden = !c;
    if (!c) return;
    document.getElementById("cluster-leader").textContent = c.leader ? "leader " + c.leader : "no leader: an election is under way";
    const servers = (c.servers || []).map(function (s) {
      const tr = el("tr", { "data-testid": "server", "data-node": s.node, "data-leader": String(!!s.leader) });
      tr.appendChild(el("td", { class: "mono" }, s.node));
      tr.appendChild(el("td", { class: "mono" }, s.url));
      tr.appendChild(el("td", {}, (s.leader ? "leader" : "follower") + (s.url === c.this ? " (this one)" : "")));
      tr.appendChild(el("td", {}, duration((Date.now() - Date.parse(s.started)) / 1000)));
      return tr;
    });
    document.querySelector("#servers-table tbody").replaceChildren(...servers);
    const hosts = (c.hosts || []).map(function (h) {
      const silent = h.heartbeatAgeSeconds >= 3;
      const tr = el("tr", { "data-testid": "host", "data-id": h.id, "data-silent": String(silent) });
      tr.appendChild(el("td", { class: "mono" }, h.id));
      tr.appendChild(el("td", {}, h.type + " (" + h.arch + ")"));
      tr.appendChild(el("td", {}, h.provider));
      tr.appendChild(el("td", { class: "mono" }, h.address));
      tr.appendChild(el("td", { class: "mono" }, h.instance || "–"));
      const beat = el("td", { class: silent ? "alert" : "" }, num(h.heartbeatAgeSeconds, 1) + " s ago" + (silent ? " (silent)" : ""));
      tr.appendChild(beat);
      tr.appendChild(el("td", { class: "num" }, h.executionEnvironments + " (" + h.routedEnvironments + ")"));
      return tr;
    });
    document.querySelector("#hosts-table tbody").replaceChildren(...hosts);
  }

  async function poll() {
    const updated = document.getElementById("updated");
    try {
      const [st, metrics, cost] = await Promise.all([get("/console/api/status"), get("/console/api/metrics"), get("/console/api/cost")]);
      renderCluster(st);
      renderVersions(st);
      renderFleet(st);
      renderCharts(metrics);
      renderCost(cost);
      updated.textContent = "updated " + new Date().toLocaleTimeString();
      updated.classList.remove("alert");
      document.body.dataset.loaded = "true";
    } catch (e) {
      updated.textContent = "cannot reach Paddock: " + e.message;
      updated.classList.add("alert");
    }
    setTimeout(poll, POLL_MS);
  }

  poll();
})();
