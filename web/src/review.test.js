import { describe, expect, it } from 'vitest';
import { applyVisit, mergePlan, ruleBody, ruleForm, ruleWhat, ruleWindow, timelineRows, timelineTicks, validateRule } from './review.js';

const card = (id, visits, extra = {}) => ({
  id, visits, first_seen: '2026-01-01T10:00:00.000Z', last_seen: '2026-01-02T10:00:00.000Z', camera_ids: [1], event_ids: [100 + id], best_event_ids: [100 + id], dismissed: false, ...extra,
});

describe('applyVisit: a streamed event on the identity cards', () => {
  const cards = [card(1, 9), card(2, 5), card(3, 1)];
  it('updates the card of its identity in place, keeping the order', () => {
    const ev = { id: 500, unknown_id: 3, camera_id: 2, started_at: '2026-01-03T08:00:00.000Z', person: null };
    const r = applyVisit(cards, ev);
    expect(r.known).toBe(true);
    expect(r.cards.map((c) => c.id)).toEqual([1, 2, 3]); // 3 now has 2 visits but stays last: nothing moves under the pointer
    expect(r.cards[2]).toMatchObject({ visits: 2, event_ids: [500, 103], camera_ids: [1, 2], last_seen: '2026-01-03T08:00:00.000Z', first_seen: '2026-01-01T10:00:00.000Z' });
    expect(r.cards[0]).toBe(cards[0]);
    expect(cards[2].visits).toBe(1); // not mutated
  });
  it('an update of a visit already counted (identity settled, ended) adds no visit', () => {
    const once = applyVisit(cards, { id: 500, unknown_id: 3, camera_id: 1, started_at: '2026-01-03T08:00:00.000Z' }).cards;
    const twice = applyVisit(once, { id: 500, unknown_id: 3, camera_id: 1, started_at: '2026-01-03T08:00:00.000Z', ended_at: '2026-01-03T08:00:09.000Z' }).cards;
    expect(twice[2].visits).toBe(2);
    expect(twice[2].event_ids).toEqual([500, 103]);
    expect(twice[2].camera_ids).toEqual([1]);
  });
  it('an event of an identity not shown is reported, not inserted; events of no identity change nothing', () => {
    const r = applyVisit(cards, { id: 501, unknown_id: 42, camera_id: 1, started_at: '2026-01-03T08:00:00.000Z' });
    expect(r.known).toBe(false);
    expect(r.cards).toBe(cards);
    expect(applyVisit(cards, { id: 502, unknown_id: null, person: { id: 1, name: 'Ada' } }).cards).toBe(cards);
  });
  it('keeps at most 50 event ids', () => {
    const big = [card(1, 50, { event_ids: Array.from({ length: 50 }, (_, i) => 1000 - i) })];
    const r = applyVisit(big, { id: 2000, unknown_id: 1, camera_id: 1, started_at: '2026-01-03T08:00:00.000Z' });
    expect(r.cards[0].event_ids).toHaveLength(50);
    expect(r.cards[0].event_ids[0]).toBe(2000);
  });
});

describe('mergePlan', () => {
  it('keeps the identity with the most visits (then the lowest id) and merges the others into it', () => {
    expect(mergePlan([card(4, 2), card(2, 7), card(9, 7)])).toEqual({ into: 2, from: [9, 4] });
    expect(mergePlan([card(5, 1), card(3, 1)])).toEqual({ into: 3, from: [5] });
  });
  it('needs two or more', () => {
    expect(mergePlan([card(1, 3)])).toBeNull();
    expect(mergePlan([])).toBeNull();
  });
});

describe('timelineRows: search results per camera', () => {
  const names = { 1: 'Front door', 2: 'Back door', 3: 'Attic' };
  const at = (h) => `2026-01-01T${String(h).padStart(2, '0')}:00:00.000Z`;
  const items = [
    { event_id: 10, camera_id: 1, started_at: at(12), similarity: 0.97 },
    { event_id: 11, camera_id: 2, started_at: at(10), similarity: 0.9 },
    { event_id: 12, camera_id: 1, started_at: at(14), similarity: 0.8 },
    { event_id: 13, camera_id: 9, started_at: at(11), similarity: 0.7 },
  ];
  it('one row per camera, ordered by name, marks at their time across the whole span', () => {
    const t = timelineRows(items, (id) => names[id] ?? `camera ${id}`);
    expect(t.start).toBe(at(10));
    expect(t.end).toBe(at(14));
    expect(t.rows.map((r) => r.name)).toEqual(['Back door', 'camera 9', 'Front door']);
    const front = t.rows[2];
    expect(front.marks.map((m) => [m.event_id, m.x])).toEqual([[10, 50], [12, 100]]); // best first, as the server sent them
    expect(t.rows[0].marks[0].x).toBe(0);
    expect(t.rows[1].marks[0].x).toBe(25);
  });
  it('a single instant sits in the middle; nothing gives no rows', () => {
    expect(timelineRows([items[0]]).rows[0].marks[0].x).toBe(50);
    expect(timelineRows([]).rows).toEqual([]);
    expect(timelineRows([{ event_id: 1, camera_id: 1, started_at: 'nonsense' }]).rows).toEqual([]);
  });
  it('ticks span the axis', () => {
    const ticks = timelineTicks(at(10), at(14), 4);
    expect(ticks.map((x) => x.x)).toEqual([0, 25, 50, 75, 100]);
    expect(ticks[1].at).toBe(at(11));
    expect(timelineTicks(at(10), at(10))).toEqual([{ x: 50, at: at(10) }]);
  });
});

describe('alert rule validation (the server’s rules)', () => {
  const ok = { ...ruleForm(), name: 'Back door at night', camera_id: '2', from: '22:00', to: '06:00' };
  it('accepts a valid rule, across midnight, and all day', () => {
    expect(validateRule(ok)).toEqual({});
    expect(validateRule({ ...ok, from: '', to: '' })).toEqual({});
    expect(validateRule({ ...ok, kind: 'repeat_unknown', min_visits: '1', days: '365' })).toEqual({});
    expect(validateRule({ ...ok, kind: 'repeat_unknown', min_visits: '1000', days: '1' })).toEqual({});
  });
  it('wants HH:MM times, both or neither, not an empty window', () => {
    expect(validateRule({ ...ok, from: '24:00' }).from).toMatch(/HH:MM/);
    expect(validateRule({ ...ok, from: '7:00' }).from).toMatch(/HH:MM/);
    expect(validateRule({ ...ok, to: '06:60' }).to).toMatch(/HH:MM/);
    expect(validateRule({ ...ok, to: '' }).to).toMatch(/both times/);
    expect(validateRule({ ...ok, from: '' }).from).toMatch(/both times/);
    expect(validateRule({ ...ok, to: '22:00' }).to).toMatch(/empty/);
  });
  it('bounds min_visits to 1..1000 and days to 1..365, whole numbers, for repeat visitors only', () => {
    const rep = { ...ok, kind: 'repeat_unknown' };
    expect(validateRule({ ...rep, min_visits: '0' }).min_visits).toBeTruthy();
    expect(validateRule({ ...rep, min_visits: '1001' }).min_visits).toBeTruthy();
    expect(validateRule({ ...rep, min_visits: '2.5' }).min_visits).toBeTruthy();
    expect(validateRule({ ...rep, min_visits: '' }).min_visits).toBeTruthy();
    expect(validateRule({ ...rep, days: '0' }).days).toBeTruthy();
    expect(validateRule({ ...rep, days: '366' }).days).toBeTruthy();
    expect(validateRule({ ...rep, days: '-3' }).days).toBeTruthy();
    expect(validateRule({ ...ok, min_visits: '0', days: '999' })).toEqual({}); // not checked for kind "unknown"
  });
  it('needs a name and a known kind', () => {
    expect(validateRule({ ...ok, name: '  ' }).name).toBeTruthy();
    expect(validateRule({ ...ok, name: 'x'.repeat(128) }).name).toBeTruthy();
    expect(validateRule({ ...ok, kind: 'watchlist' }).kind).toBeTruthy();
  });
  it('sends numbers, null for all cameras and all day, the repeat fields only for a repeat rule', () => {
    expect(ruleBody(ok)).toEqual({ name: 'Back door at night', camera_id: 2, kind: 'unknown', from: '22:00', to: '06:00', enabled: true });
    expect(ruleBody({ ...ok, camera_id: '', from: '', to: '', kind: 'repeat_unknown', min_visits: '3', days: '7', enabled: false })).toEqual({
      name: 'Back door at night', camera_id: null, kind: 'repeat_unknown', from: null, to: null, min_visits: 3, days: 7, enabled: false,
    });
  });
  it('round-trips a stored rule through the form, and says it in words', () => {
    const r = { id: 4, name: 'Repeat', camera_id: null, kind: 'repeat_unknown', from: null, to: null, min_visits: 3, days: 7, enabled: true };
    expect(ruleBody(ruleForm(r))).toEqual({ name: 'Repeat', camera_id: null, kind: 'repeat_unknown', from: null, to: null, min_visits: 3, days: 7, enabled: true });
    expect(ruleWindow(r)).toBe('all day');
    expect(ruleWindow({ from: '22:00', to: '06:00' })).toBe('22:00–06:00 (overnight)');
    expect(ruleWhat(r)).toBe('same unknown face ≥ 3 visits in 7 days');
    expect(ruleWhat({ kind: 'unknown' })).toBe('any unknown face');
  });
});
