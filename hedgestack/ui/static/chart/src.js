// hedgestack price chart: TradingView Lightweight Charts in a Panel JSComponent.
//
// Built into ../chart.bundle.js (one ES module, the library included) by `npm run build` in this folder, so the
// chart works offline, in a served page and inline in a notebook alike.
//
// Model (see hedgestack/ui/chart.py):
//   candles  [[t_ms, o, h, l, c, v], ...]        the whole series (a symbol or timeframe change)
//   tail     [[t_ms, o, h, l, c, v], ...]        the latest bars, merged into the series (live updates)
//   lines    [{id, price, title, color, style, width, kind, drag}]   labelled horizontal lines
//   markers  JSON text of [{t, side, text}]      fills (BUY below the bar, SELL above)
//   theme    "dark" | "light";  precision, min_move: the symbol's price format;  label: the watermark
// Messages to Python: {type: "click", price}, {type: "drag", id, price}.
import {
  CandlestickSeries,
  ColorType,
  CrosshairMode,
  HistogramSeries,
  LineStyle,
  createChart,
  createSeriesMarkers,
  createTextWatermark,
} from "lightweight-charts";

const THEMES = {
  dark: { bg: "#161a1e", text: "#b7bdc6", grid: "rgba(132, 142, 156, 0.12)", up: "#0ecb81", down: "#f6465d",
          border: "#2b3139", watermark: "rgba(132, 142, 156, 0.16)" },
  light: { bg: "#ffffff", text: "#474d57", grid: "rgba(112, 122, 138, 0.12)", up: "#03a66d", down: "#cf304a",
           border: "#eaecef", watermark: "rgba(112, 122, 138, 0.14)" },
};
const GRAB_PX = 6; // how close to a draggable line a press starts a drag
const OFFSET_S = -new Date().getTimezoneOffset() * 60; // local time on the time axis

function bar(row) {
  const [t, open, high, low, close] = row;
  return { time: Math.floor(t / 1000) + OFFSET_S, open, high, low, close };
}

function volume(row, theme) {
  const [t, open, , , close, vol] = row;
  const color = close >= open ? theme.up : theme.down;
  return { time: Math.floor(t / 1000) + OFFSET_S, value: vol, color: `${color}55` };
}

// the series as the markers plugin sees it: its data-changed subscribers hear of setData ("full") only
function wholeDataChangesOnly(series) {
  return new Proxy(series, {
    get(target, key, receiver) {
      if (key === "subscribeDataChanged") {
        return (handler) => target.subscribeDataChanged((scope) => { if (scope === "full") handler(scope); });
      }
      const value = Reflect.get(target, key, receiver);
      return typeof value === "function" ? value.bind(receiver) : value;
    },
  });
}

export function render({ model, el }) {
  const box = document.createElement("div");
  box.className = "hs-chart-box";
  box.style.cssText = "position:relative;width:100%;height:100%;";
  el.append(box);
  let theme = THEMES[model.theme] || THEMES.dark;

  const chart = createChart(box, {
    autoSize: true,
    layout: { background: { type: ColorType.Solid, color: theme.bg }, textColor: theme.text, fontSize: 11,
              attributionLogo: true },
    grid: { vertLines: { color: theme.grid }, horzLines: { color: theme.grid } },
    crosshair: { mode: CrosshairMode.Normal },
    rightPriceScale: { borderColor: theme.border, scaleMargins: { top: 0.08, bottom: 0.2 } },
    // rightOffset: room right of the last bar for the lines' labels, so they do not cover the latest candles and fills
    timeScale: { borderColor: theme.border, timeVisible: true, secondsVisible: false, rightOffset: 24 },
  });
  const candles = chart.addSeries(CandlestickSeries, {
    upColor: theme.up, downColor: theme.down, borderVisible: false, wickUpColor: theme.up,
    wickDownColor: theme.down, priceLineVisible: true, lastValueVisible: true,
    autoscaleInfoProvider: (original) => autoscale(original()),
  });
  const volumes = chart.addSeries(HistogramSeries, { priceScaleId: "vol", priceFormat: { type: "volume" },
                                                      lastValueVisible: false, priceLineVisible: false });
  chart.priceScale("vol").applyOptions({ scaleMargins: { top: 0.85, bottom: 0 } });
  // Fill markers. LWC's markers plugin asks for a full repaint (layout and axes, then a second paint) on every
  // change of the series' data, so each 2-s refresh of the forming candle cost three frames. Its markers sit at
  // time points that an update of the last bar (or a new bar after it) does not move: the plugin is given a view of
  // the series that tells it only of whole-data changes (setData); an update repaints the pane (and the markers'
  // positions on the bars) as any other update does.
  const markers = createSeriesMarkers(wholeDataChangesOnly(candles), []);
  const watermark = createTextWatermark(chart.panes()[0], {
    horzAlign: "center", vertAlign: "center",
    lines: [{ text: model.label || "", color: theme.watermark, fontSize: 28 }],
  });

  // -- lines -----------------------------------------------------------------------------------
  let specs = []; // the lines as Python sent them
  const drawn = new Map(); // id -> {spec, handle, pinned}
  let dragging = null; // {id, price}
  let dragEndedAt = 0;

  function fmt(price) {
    return price.toLocaleString("en-US", { minimumFractionDigits: model.precision,
                                           maximumFractionDigits: model.precision });
  }

  // candles' own range, widened to the lines within reach (farther lines are pinned at the edge instead)
  function autoscale(info) {
    if (info === null || info.priceRange === null) return info;
    let { minValue, maxValue } = info.priceRange;
    const span = Math.max(maxValue - minValue, Math.abs(maxValue) * 0.002);
    const reachLow = minValue - 2 * span;
    const reachHigh = maxValue + 2 * span;
    for (const spec of specs) {
      if (spec.price >= reachLow && spec.price <= reachHigh) {
        minValue = Math.min(minValue, spec.price);
        maxValue = Math.max(maxValue, spec.price);
      }
    }
    return { priceRange: { minValue, maxValue }, margins: info.margins };
  }

  function visibleRange() {
    const height = chart.paneSize().height;
    const top = candles.coordinateToPrice(0);
    const bottom = candles.coordinateToPrice(height);
    if (top === null || bottom === null) return null;
    return { top, bottom, height };
  }

  // a pinned line sits this far inside the edge, stacked when several are pinned at one edge
  function pinnedPrice(edge, index, range) {
    const y = edge === "up" ? 12 + index * 16 : range.height - 12 - index * 16;
    const price = candles.coordinateToPrice(y);
    return price === null ? (edge === "up" ? range.top : range.bottom) : price;
  }

  function lineOptions(spec, pinned, at) {
    return {
      price: pinned ? at : spec.price, color: spec.color, lineWidth: spec.width || 1,
      lineStyle: pinned ? LineStyle.SparseDotted : spec.style === "dashed" ? LineStyle.Dashed : LineStyle.Solid,
      // a pinned line's axis label would show the edge's price: its label is an overlay (drawPins) instead
      axisLabelVisible: !pinned, title: pinned ? "" : spec.title,
    };
  }

  function placeLines() {
    const range = visibleRange();
    const wanted = new Set();
    const stacked = { up: 0, down: 0 };
    const ordered = [...specs].sort((a, b) => a.price - b.price);
    const edgeOf = new Map();
    if (range !== null) {
      // nearest to the edge first: the closest pinned line sits at the edge, farther ones stack inward
      for (const spec of [...ordered].reverse()) {
        if (spec.price > range.top && !(dragging && dragging.id === spec.id)) {
          edgeOf.set(spec.id, ["up", stacked.up++]);
        }
      }
      for (const spec of ordered) {
        if (spec.price < range.bottom && !(dragging && dragging.id === spec.id)) {
          edgeOf.set(spec.id, ["down", stacked.down++]);
        }
      }
    }
    for (const spec of specs) {
      wanted.add(spec.id);
      const edge = edgeOf.get(spec.id);
      const pinned = edge === undefined ? null : edge[0];
      const options = lineOptions(spec, pinned, edge === undefined ? null : pinnedPrice(edge[0], edge[1], range));
      if (dragging && dragging.id === spec.id) {
        options.price = dragging.price;
        options.title = `${spec.title} → ${fmt(dragging.price)}`;
      }
      const current = drawn.get(spec.id);
      if (current === undefined) {
        drawn.set(spec.id, { spec, pinned, handle: candles.createPriceLine(options), key: JSON.stringify(options) });
      } else {
        const key = JSON.stringify(options);
        if (key !== current.key) {
          current.handle.applyOptions(options);
          current.key = key;
        }
        current.spec = spec;
        current.pinned = pinned;
      }
    }
    for (const [id, line] of drawn) {
      if (!wanted.has(id)) {
        candles.removePriceLine(line.handle);
        drawn.delete(id);
      }
    }
    // for tests and tools: each line's id and whether it is pinned (touched only when it changes: a DOM change
    // costs the page a style pass)
    const summary = JSON.stringify([...drawn.values()].map((l) => ({ id: l.spec.id, pinned: l.pinned })));
    if (box.dataset.lines !== summary) box.dataset.lines = summary;
    drawPins(edgeOf, range);
  }

  // labels of the lines pinned at an edge: the line's title, its real price and an arrow to where it is
  const pins = document.createElement("div");
  pins.className = "hs-chart-pins";
  pins.style.cssText = "position:absolute;inset:0;pointer-events:none;z-index:3;";
  box.append(pins);

  let pinsKey = "";
  function drawPins(edgeOf, range) {
    const key = range === null ? "" : JSON.stringify([...edgeOf.entries()].map(([id, e]) => [id, e,
      (specs.find((s) => s.id === id) || {}).title, chart.priceScale("right").width(), range.height]));
    if (key === pinsKey) return;
    pinsKey = key;
    const labels = [];
    if (range !== null) {
      const right = chart.priceScale("right").width() + 4;
      for (const spec of specs) {
        const edge = edgeOf.get(spec.id);
        if (edge === undefined) continue;
        const [side, index] = edge;
        const y = side === "up" ? 12 + index * 16 : range.height - 12 - index * 16;
        const label = document.createElement("div");
        label.className = `hs-pin hs-pin-${spec.kind}`;
        label.dataset.line = spec.id;
        label.textContent = `${spec.title} ${side === "up" ? "↑" : "↓"}`;
        label.title = "outside the visible range";
        label.style.cssText = `position:absolute;right:${right}px;top:${y - 8}px;height:16px;line-height:16px;` +
          `padding:0 5px;font:11px/16px system-ui,sans-serif;color:#fff;background:${spec.color};` +
          "border-radius:2px;white-space:nowrap;opacity:0.92;";
        labels.push(label);
      }
    }
    pins.replaceChildren(...labels);
  }

  let placeQueued = false;
  function queuePlace() {
    if (placeQueued) return;
    placeQueued = true;
    requestAnimationFrame(() => { placeQueued = false; placeLines(); });
  }

  // -- data ------------------------------------------------------------------------------------
  function setCandles() {
    const rows = model.candles || [];
    candles.setData(rows.map(bar));
    volumes.setData(rows.map((r) => volume(r, theme)));
    box.dataset.bars = String(rows.length);
    chart.timeScale().scrollToRealTime();
    queuePlace();
  }

  function mergeTail() {
    const rows = model.tail || [];
    const last = candles.data().at(-1);
    for (const row of rows) {
      const b = bar(row);
      if (last !== undefined && b.time < last.time) continue; // older than the series' end: not an update
      candles.update(b);
      volumes.update(volume(row, theme));
    }
    const bars = String(candles.data().length);
    if (box.dataset.bars !== bars) box.dataset.bars = bars;
    queuePlace();
  }

  function setMarkers() {
    const list = JSON.parse(model.markers || "[]").map((m) => ({
      time: Math.floor(m.t / 1000) + OFFSET_S,
      position: m.side === "BUY" ? "belowBar" : "aboveBar",
      shape: m.side === "BUY" ? "arrowUp" : "arrowDown",
      color: m.side === "BUY" ? theme.up : theme.down,
      text: m.text,
    }));
    // the series' bars hold the time of each marker's candle: snap to it
    const times = candles.data().map((b) => b.time);
    const snapped = [];
    for (const marker of list) {
      let lo = 0, hi = times.length - 1, at = null;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (times[mid] <= marker.time) { at = times[mid]; lo = mid + 1; } else { hi = mid - 1; }
      }
      if (at !== null) snapped.push({ ...marker, time: at });
    }
    snapped.sort((a, b) => a.time - b.time);
    markers.setMarkers(snapped);
    box.dataset.markers = String(snapped.length);
  }

  function setFormat() {
    candles.applyOptions({ priceFormat: { type: "price", precision: model.precision, minMove: model.min_move } });
  }

  function setTheme() {
    theme = THEMES[model.theme] || THEMES.dark;
    chart.applyOptions({
      layout: { background: { type: ColorType.Solid, color: theme.bg }, textColor: theme.text },
      grid: { vertLines: { color: theme.grid }, horzLines: { color: theme.grid } },
      rightPriceScale: { borderColor: theme.border }, timeScale: { borderColor: theme.border },
    });
    candles.applyOptions({ upColor: theme.up, downColor: theme.down, wickUpColor: theme.up,
                           wickDownColor: theme.down });
    watermark.applyOptions({ lines: [{ text: model.label || "", color: theme.watermark, fontSize: 28 }] });
  }

  // where a line is drawn now (px from the top of the chart; null when pinned or unknown): for tests and tools
  box.hsLineY = (id) => {
    const line = drawn.get(id);
    return line === undefined || line.pinned ? null : candles.priceToCoordinate(line.spec.price);
  };

  // -- interaction: click fills the ticket's price, dragging a TP/SL line moves it ----------------------
  function grabbable(y) {
    let best = null;
    for (const line of drawn.values()) {
      if (!line.spec.drag || line.pinned) continue;
      const at = candles.priceToCoordinate(line.spec.price);
      if (at === null) continue;
      const distance = Math.abs(at - y);
      if (distance <= GRAB_PX && (best === null || distance < best.distance)) best = { line, distance };
    }
    return best === null ? null : best.line;
  }

  function roundToTick(price) {
    const step = model.min_move || 0.01;
    return Math.round(price / step) * step;
  }

  function localY(event) {
    const rect = box.getBoundingClientRect();
    return { x: event.clientX - rect.left, y: event.clientY - rect.top };
  }

  box.addEventListener("pointerdown", (event) => {
    const { x, y } = localY(event);
    if (x > chart.paneSize().width) return; // on the price axis
    const line = grabbable(y);
    if (line === null) return;
    event.preventDefault();
    event.stopPropagation();
    dragging = { id: line.spec.id, price: line.spec.price };
    chart.applyOptions({ handleScroll: false, handleScale: false });
    box.setPointerCapture(event.pointerId);
  }, true);

  box.addEventListener("pointermove", (event) => {
    const { x, y } = localY(event);
    if (dragging !== null) {
      const price = candles.coordinateToPrice(y);
      if (price !== null) {
        dragging.price = roundToTick(price);
        placeLines();
      }
      return;
    }
    box.style.cursor = x <= chart.paneSize().width && grabbable(y) !== null ? "ns-resize" : "";
  });

  function endDrag(event, send) {
    if (dragging === null) return;
    const done = dragging;
    dragging = null;
    dragEndedAt = Date.now();
    chart.applyOptions({ handleScroll: true, handleScale: true });
    try { box.releasePointerCapture(event.pointerId); } catch (_) { /* released already */ }
    const line = drawn.get(done.id);
    if (send && line && done.price !== line.spec.price) {
      model.send_msg({ type: "drag", id: done.id, price: done.price.toFixed(model.precision) });
      // keep the line at its new place until Python answers (confirmed: new lines; cancelled: the old ones)
      line.spec = { ...line.spec, price: done.price, title: `${line.spec.title} ?` };
      specs = specs.map((s) => (s.id === done.id ? line.spec : s));
    }
    placeLines();
  }

  box.addEventListener("pointerup", (event) => endDrag(event, true));
  box.addEventListener("pointercancel", (event) => endDrag(event, false));

  chart.subscribeClick((param) => {
    if (param.point === undefined || Date.now() - dragEndedAt < 300) return;
    const price = candles.coordinateToPrice(param.point.y);
    if (price === null) return;
    model.send_msg({ type: "click", price: roundToTick(price).toFixed(model.precision) });
  });

  chart.timeScale().subscribeVisibleLogicalRangeChange(queuePlace);
  box.addEventListener("wheel", queuePlace, { passive: true });
  box.addEventListener("pointerup", queuePlace);

  // -- wiring ----------------------------------------------------------------------------------
  function setLines() {
    specs = model.lines || [];
    placeLines();
    queuePlace(); // once more after the autoscale that the new lines cause
  }

  model.on("candles", () => { setCandles(); setMarkers(); });
  model.on("tail", mergeTail);
  model.on("lines", setLines);
  model.on("lines_version", setLines);
  model.on("markers", setMarkers);
  model.on("theme", setTheme);
  model.on(["precision", "min_move"], setFormat);
  model.on("label", () => {
    box.dataset.label = model.label || "";
    watermark.applyOptions({ lines: [{ text: model.label || "", color: theme.watermark, fontSize: 28 }] });
  });
  box.dataset.label = model.label || "";
  model.on("resize", queuePlace);
  model.on("remove", () => chart.remove());
  setFormat();
  setCandles();
  setLines();
  setMarkers();
}
