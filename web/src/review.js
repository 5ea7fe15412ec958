// review.js — the rules of the Review page, face search and alert rules, kept apart from the components so that
// they are tested on their own (review.test.js): a visit arriving on a shown identity card, which card a merge
// keeps, the timeline of search results per camera, and the alert-rule form's validation (the server's rules).

/**
 * A streamed `event` (GET /events item with `unknown_id`) applied to the identity cards shown, in place: the card
 * keeps its position (the list is never re-sorted under the user's pointer). Returns { cards, known } — `known`
 * false when the event belongs to an identity not shown (a new one, or one on a later page), so that the page can
 * offer a refresh instead of inserting a card.
 */
export function applyVisit(cards, ev) {
  if (!ev || ev.unknown_id == null) return { cards, known: true };
  const i = cards.findIndex((c) => c.id === ev.unknown_id);
  if (i < 0) return { cards, known: false };
  const c = cards[i];
  const ids = c.event_ids || [];
  const fresh = !ids.includes(ev.id);
  const later = (a, b) => (!a ? b : !b ? a : new Date(b) > new Date(a) ? b : a);
  const earlier = (a, b) => (!a ? b : !b ? a : new Date(b) < new Date(a) ? b : a);
  const cams = c.camera_ids || [];
  const next = {
    ...c,
    visits: (c.visits || 0) + (fresh ? 1 : 0),
    event_ids: fresh ? [ev.id, ...ids].slice(0, 50) : ids,
    camera_ids: cams.includes(ev.camera_id) ? cams : [...cams, ev.camera_id],
    first_seen: earlier(c.first_seen, ev.started_at),
    last_seen: later(c.last_seen, ev.started_at),
  };
  const out = cards.slice();
  out[i] = next;
  return { cards: out, known: true };
}

/** The GET /unknowns `dismissed` value of the page's "Show" choice. */
export const DISMISSED = { active: 'false', dismissed: 'true', all: 'any' };

/**
 * Which identity a merge keeps: the one with the most visits (then the lowest id), so that the fewest events
 * change; the others are merged into it one by one (POST /unknowns/{into}/merge {from}).
 */
export function mergePlan(selected) {
  if (!selected || selected.length < 2) return null;
  const sorted = [...selected].sort((a, b) => (b.visits || 0) - (a.visits || 0) || a.id - b.id);
  return { into: sorted[0].id, from: sorted.slice(1).map((c) => c.id) };
}

/**
 * Face search results on a timeline: one row per camera (ordered by the camera's name, then id), each result a
 * mark at its started_at as a percentage `x` of the span [start, end] of all results (a lone result, or results
 * all at one instant, sit in the middle). Results keep the server's order (best first) inside a row.
 */
export function timelineRows(items, cameraName = (id) => `camera ${id}`) {
  const dated = (items || []).map((it) => ({ ...it, t: new Date(it.started_at).getTime() })).filter((it) => Number.isFinite(it.t));
  if (dated.length === 0) return { start: null, end: null, rows: [] };
  let start = Math.min(...dated.map((d) => d.t));
  let end = Math.max(...dated.map((d) => d.t));
  const span = end - start;
  const rows = new Map();
  for (const d of dated) {
    if (!rows.has(d.camera_id)) rows.set(d.camera_id, { camera_id: d.camera_id, name: cameraName(d.camera_id), marks: [] });
    rows.get(d.camera_id).marks.push({ ...d, x: span > 0 ? ((d.t - start) / span) * 100 : 50 });
  }
  const list = [...rows.values()].sort((a, b) => String(a.name).localeCompare(String(b.name)) || a.camera_id - b.camera_id);
  return { start: new Date(start).toISOString(), end: new Date(end).toISOString(), rows: list };
}

/** Ticks for a timeline's axis: `n` + 1 evenly spaced instants between start and end (ISO strings). */
export function timelineTicks(start, end, n = 4) {
  if (!start || !end) return [];
  const a = new Date(start).getTime();
  const b = new Date(end).getTime();
  if (!(b > a)) return [{ x: 50, at: new Date(a).toISOString() }];
  return Array.from({ length: n + 1 }, (_, i) => ({ x: (i * 100) / n, at: new Date(a + ((b - a) * i) / n).toISOString() }));
}

// --- alert rules for unknown faces -----------------------------------------------------------------------------

export const RULE_KINDS = { unknown: 'An unknown face', repeat_unknown: 'The same unknown face again (repeat visitor)' };
const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;

/** An empty form, or the form of an existing rule (GET /alert-rules item). Numbers stay strings while edited. */
export function ruleForm(rule) {
  if (!rule) return { name: '', camera_id: '', kind: 'unknown', from: '', to: '', min_visits: '3', days: '7', enabled: true };
  return {
    name: rule.name || '',
    camera_id: rule.camera_id == null ? '' : String(rule.camera_id),
    kind: rule.kind || 'unknown',
    from: rule.from || '',
    to: rule.to || '',
    min_visits: rule.min_visits == null ? '3' : String(rule.min_visits),
    days: rule.days == null ? '7' : String(rule.days),
    enabled: rule.enabled !== false,
  };
}

const intIn = (v, lo, hi) => /^\d+$/.test(String(v).trim()) && Number(v) >= lo && Number(v) <= hi;

/**
 * The server's checks, before sending: a name; a kind it knows; times as HH:MM (24 h), both or neither (neither =
 * all day; the window may cross midnight, 22:00–06:00, but not be empty); for a repeat visitor 1 ≤ min_visits ≤
 * 1000 and 1 ≤ days ≤ 365, whole numbers. Returns {field: message}, empty when the form is valid.
 */
export function validateRule(f) {
  const errors = {};
  if (!f.name || !f.name.trim()) errors.name = 'Give the rule a name.';
  else if (f.name.trim().length > 127) errors.name = 'The name is at most 127 characters.';
  if (!RULE_KINDS[f.kind]) errors.kind = 'Pick what the rule alerts on.';
  const from = (f.from || '').trim();
  const to = (f.to || '').trim();
  if (from && !HHMM.test(from)) errors.from = 'A time as HH:MM (00:00 to 23:59).';
  if (to && !HHMM.test(to)) errors.to = 'A time as HH:MM (00:00 to 23:59).';
  if (!errors.from && !errors.to) {
    if (!!from !== !!to) errors[from ? 'to' : 'from'] = 'Give both times, or neither for all day.';
    else if (from && from === to) errors.to = 'The window is empty: the end must differ from the start.';
  }
  if (f.kind === 'repeat_unknown') {
    if (!intIn(f.min_visits, 1, 1000)) errors.min_visits = 'Visits: a whole number from 1 to 1000.';
    if (!intIn(f.days, 1, 365)) errors.days = 'Days: a whole number from 1 to 365.';
  }
  return errors;
}

/** The JSON of a valid form for POST /alert-rules or PATCH /alert-rules/{id}. */
export function ruleBody(f) {
  const body = {
    name: f.name.trim(),
    camera_id: f.camera_id === '' || f.camera_id == null ? null : Number(f.camera_id),
    kind: f.kind,
    from: f.from ? f.from.trim() : null,
    to: f.to ? f.to.trim() : null,
    enabled: !!f.enabled,
  };
  if (f.kind === 'repeat_unknown') {
    body.min_visits = Number(f.min_visits);
    body.days = Number(f.days);
  }
  return body;
}

/** A rule in words: "22:00–06:00" or "all day", and for a repeat visitor "≥ 3 visits in 7 days". */
export function ruleWindow(r) {
  return r.from && r.to ? `${r.from}–${r.to}${r.to < r.from ? ' (overnight)' : ''}` : 'all day';
}
export function ruleWhat(r) {
  if (r.kind === 'repeat_unknown') return `same unknown face ≥ ${r.min_visits} visit${r.min_visits === 1 ? '' : 's'} in ${r.days} day${r.days === 1 ? '' : 's'}`;
  return 'any unknown face';
}
