// visits.js — the Live page's "Seen" feed as visits: one line per visit (an event, keyed by its id), updated in
// place by the later `event` messages of the same visit (identity settled, visit ended), newest visit first.
// Pure functions, so that the feed's rules are tested without a browser (visits.test.js).

export const VISITS_MAX = 50;

const startMs = (v) => {
  const t = Date.parse(v.started_at);
  return Number.isNaN(t) ? 0 : t;
};

// Newest start first; the larger id first between visits that started in the same millisecond.
const newestFirst = (a, b) => startMs(b) - startMs(a) || (b.id ?? 0) - (a.id ?? 0);

// The feed after one `event` message: the visit with that id replaced by the message's fields (a visit that has
// ended stays ended even if an older message arrives late), or added; sorted newest first, at most `max` kept.
export function addVisit(visits, event, max = VISITS_MAX) {
  if (!event || event.id == null) return visits;
  const old = visits.find((v) => v.id === event.id);
  const visit = old ? { ...old, ...event } : { ...event };
  if (old?.ended_at && !event.ended_at) visit.ended_at = old.ended_at;
  return [visit, ...visits.filter((v) => v.id !== event.id)].sort(newestFirst).slice(0, max);
}

const pad = (n) => String(n).padStart(2, '0');

// hh:mm:ss in the browser's time zone; '' for a missing or bad time.
export function clockTime(iso) {
  const d = new Date(iso ?? NaN);
  if (!iso || Number.isNaN(d.getTime())) return '';
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// A visit's length as "42 s", "3 min 05 s" or "2 h 07 min"; '' when it has not ended or a time is bad.
export function visitDuration(visit) {
  const a = Date.parse(visit.started_at), b = Date.parse(visit.ended_at);
  if (Number.isNaN(a) || Number.isNaN(b) || b < a) return '';
  const s = Math.round((b - a) / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
}

// The live picture width to ask for, for a picture shown `cssWidth` px wide at `dpr` device pixels per px: rounded
// down to a multiple of 16, 160 .. 1280 (the server's rule). Never wider than shown, so the labels the server
// draws for the picture's size are at least that tall on screen; the browser upscales by a few percent at most.
export function liveWidth(cssWidth, dpr = 1) {
  const px = Math.max(1, cssWidth || 0) * (dpr > 0 ? dpr : 1);
  return Math.min(1280, Math.max(160, Math.floor(px / 16) * 16));
}

export const LAYOUTS = [1, 4, 9, 16];

// The tile width (CSS px) of an n-up layout (n a square) in a box `width` x `height` px, `gap` px between tiles,
// each tile a picture of `aspect` (width / height) over a caption `caption` px tall: as large as fits both ways.
export function tileWidth(n, width, height, aspect = 16 / 9, gap = 12, caption = 40) {
  const cols = Math.round(Math.sqrt(n));
  const byWidth = (width - gap * (cols - 1)) / cols;
  const byHeight = ((height - gap * (cols - 1)) / cols - caption) * aspect;
  return Math.max(120, Math.floor(Math.min(byWidth, byHeight > 0 ? byHeight : byWidth)));
}
