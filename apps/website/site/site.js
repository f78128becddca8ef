// The page's one script: draws the device graph inline (from /device-graph.svg,
// which the unikernel renders from describe()) and polls /status every second
// for the live counters. Same-origin requests only.

(() => {
  const $ = (id) => document.getElementById(id);
  const number = new Intl.NumberFormat("en-US");
  const HISTORY = 60;
  const rates = [];
  let previous;

  function formatUptime(seconds) {
    const s = Math.floor(seconds);
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    const parts = [];
    if (d) parts.push(`${d} d`);
    if (d || h) parts.push(`${h} h`);
    if (d || h || m) parts.push(`${m} min`);
    parts.push(`${s % 60} s`);
    return parts.join(" ");
  }

  function formatBytes(n) {
    if (n < 1024) return `${n} B`;
    const units = ["KiB", "MiB", "GiB", "TiB"];
    let value = n;
    let unit = "B";
    for (const u of units) {
      if (value < 1024) break;
      value /= 1024;
      unit = u;
    }
    return `${value.toFixed(value < 10 ? 2 : 1)} ${unit}`;
  }

  /** Sets a counter's text; a changed value flashes. */
  function show(id, text) {
    const el = $(id);
    if (!el || el.textContent === text) return;
    el.textContent = text;
    el.classList.remove("bump");
    void el.offsetWidth; // restart the animation
    el.classList.add("bump");
  }

  function pulse(selector) {
    for (const g of document.querySelectorAll(`#graph ${selector}`)) {
      g.classList.add("active");
      setTimeout(() => g.classList.remove("active"), 700);
    }
  }

  async function drawGraph() {
    const response = await fetch("/device-graph.svg");
    if (!response.ok) return;
    const doc = new DOMParser().parseFromString(await response.text(), "image/svg+xml");
    const svg = doc.documentElement;
    if (svg.nodeName !== "svg") return;
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    $("graph").replaceChildren(document.importNode(svg, true));
  }

  function drawSpark() {
    const max = Math.max(1, ...rates);
    const step = 600 / (HISTORY - 1);
    const offset = HISTORY - rates.length;
    $("spark-line").setAttribute(
      "points",
      rates
        .map((r, i) => `${((offset + i) * step).toFixed(1)},${(76 - (r / max) * 70).toFixed(1)}`)
        .join(" "),
    );
  }

  function render(status) {
    const { stack, counters } = status;
    const host = stack.countedByHost;
    const where = stack.address
      ? `${stack.address}${stack.prefixLength != null ? `/${stack.prefixLength}` : ""}`
      : "no address yet";
    $("live-dot").className = "dot up";
    $("live-line").textContent =
      `live · ${status.app} on ${stack.driver ?? "a stack"}${stack.netif ? ` over ${stack.netif}` : ""}`;
    $("fact-stack").textContent = `${stack.driver ?? "?"}${stack.netif ? ` → ${stack.netif}` : ""}`;
    $("fact-address").textContent = stack.dhcp
      ? `${where} (DHCP from ${stack.dhcp.server})`
      : where;
    $("fact-assets").textContent = status.assets.driver ?? "?";
    $("fact-uptime").textContent = formatUptime(status.uptimeSeconds);
    $("host-note").hidden = !host;

    const packets = counters.packets;
    show("c-packets-in", packets ? number.format(packets.received) : "host");
    show("c-packets-out", packets ? number.format(packets.sent) : "host");
    show("c-connections", number.format(counters.connections.current));
    $("c-connections-note").textContent =
      `TCP, open now · ${number.format(counters.connections.opened)} in all`;
    show(
      "c-retransmits",
      counters.retransmits == null ? "host" : number.format(counters.retransmits),
    );
    const http = counters.http;
    if (http) {
      show("c-requests", number.format(http.requests));
      show("c-bytes", formatBytes(http.bytesWritten));
    }

    if (previous && http && previous.counters.http) {
      const dt = status.uptimeSeconds - previous.uptimeSeconds;
      const rate = dt > 0 ? (http.requests - previous.counters.http.requests) / dt : 0;
      rates.push(rate);
      if (rates.length > HISTORY) rates.shift();
      $("c-rate").textContent = `HTTP, ${rate.toFixed(1)} per second`;
      drawSpark();
    }
    if (
      previous &&
      packets &&
      previous.counters.packets &&
      packets.received !== previous.counters.packets.received
    ) {
      pulse('.device[data-signature^="atoll.netif"]');
      pulse('.device[data-signature^="atoll.stack"]');
    }
    if (
      previous &&
      http &&
      previous.counters.http &&
      http.requests !== previous.counters.http.requests
    ) {
      pulse(".device.application");
    }
    previous = status;
  }

  async function poll() {
    try {
      const response = await fetch("/status", { cache: "no-store" });
      if (!response.ok) throw new Error(`status ${response.status}`);
      render(await response.json());
    } catch {
      $("live-dot").className = "dot down";
      $("live-line").textContent = "unreachable: the unikernel stopped or the network is down";
    }
    setTimeout(poll, 1000);
  }

  drawGraph().catch(() => {});
  poll();
})();
