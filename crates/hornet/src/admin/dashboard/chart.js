// A small line chart drawn as SVG: a few series over a shared time axis.
// No library, no network: the dashboard's overview uses it for message rates.

const NS = 'http://www.w3.org/2000/svg';

function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// series: [{ name, color, points: [[t_ms, value], ...] }]; spanMs: the time window.
export function drawChart(container, series, spanMs) {
  const w = container.clientWidth || 600;
  const h = container.clientHeight || 220;
  const pad = { l: 48, r: 12, t: 12, b: 24 };
  const now = Date.now();
  const t0 = now - spanMs;
  let max = 1;
  for (const s of series) for (const [, v] of s.points) max = Math.max(max, v);
  max = niceCeil(max);
  const x = (t) => pad.l + ((t - t0) / spanMs) * (w - pad.l - pad.r);
  const y = (v) => h - pad.b - (v / max) * (h - pad.t - pad.b);
  const svg = el('svg', { viewBox: `0 0 ${w} ${h}`, role: 'img', 'aria-label': 'message rates' });
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    svg.append(el('line', { x1: pad.l, x2: w - pad.r, y1: y(v), y2: y(v), stroke: '#e2e5ec' }));
    svg.append(el('text', { x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#6b7385' }, fmt(v)));
  }
  for (let m = 0; m <= spanMs / 60000; m++) {
    const t = now - m * 60000;
    svg.append(el('text', { x: x(t), y: h - 6, 'text-anchor': 'middle', 'font-size': 11, fill: '#6b7385' }, m === 0 ? 'now' : `-${m}m`));
  }
  series.forEach((s, i) => {
    const pts = s.points.filter(([t]) => t >= t0).map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`);
    if (pts.length > 1) {
      svg.append(el('polyline', { points: pts.join(' '), fill: 'none', stroke: s.color, 'stroke-width': 2 }));
    }
    svg.append(el('rect', { x: pad.l + 8 + i * 130, y: pad.t, width: 10, height: 10, fill: s.color }));
    svg.append(el('text', { x: pad.l + 22 + i * 130, y: pad.t + 9, 'font-size': 11 }, s.name));
  });
  container.replaceChildren(svg);
}

function niceCeil(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v) {
  if (v >= 1e6) return (v / 1e6).toFixed(1) + 'M';
  if (v >= 1e3) return (v / 1e3).toFixed(1) + 'k';
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}
