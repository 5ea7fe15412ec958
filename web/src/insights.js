// insights.js — the aggregations behind the Insights charts, computed from /events pages in the browser.
import { EXPRESSIONS } from './api.js';

const pad = (n) => String(n).padStart(2, '0');

/** The bucket key of a time: 'YYYY-MM-DD' by day or 'YYYY-MM-DD HH:00' by hour (local time). */
export function bucketKey(iso, by = 'day') {
  const d = new Date(iso);
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return by === 'hour' ? `${day} ${pad(d.getHours())}:00` : day;
}

/** [{bucket, neutral: n, happy: n, ...}] counting each event's dominant expression, buckets in time order. */
export function expressionsOverTime(events, { by = 'day', filter = () => true } = {}) {
  const m = new Map();
  for (const e of events) {
    if (!filter(e) || !e.dominant_expression || !e.started_at) continue;
    const k = bucketKey(e.started_at, by);
    if (!m.has(k)) m.set(k, Object.fromEntries([['bucket', k], ...EXPRESSIONS.map((x) => [x, 0])]));
    const row = m.get(k);
    if (e.dominant_expression in row) row[e.dominant_expression]++;
  }
  return [...m.values()].sort((a, b) => (a.bucket < b.bucket ? -1 : 1));
}

/** [{hour: '00'..'23', visits: n}]: events (one per visit) by hour of day, local time. */
export function visitsPerHour(events, { filter = () => true } = {}) {
  const h = Array.from({ length: 24 }, (_, i) => ({ hour: pad(i), visits: 0 }));
  for (const e of events) {
    if (!filter(e) || !e.started_at) continue;
    h[new Date(e.started_at).getHours()].visits++;
  }
  return h;
}
