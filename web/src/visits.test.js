import { describe, expect, it } from 'vitest';
import { addVisit, clockTime, liveWidth, tileWidth, visitDuration, VISITS_MAX } from './visits.js';

const ev = (id, started, more = {}) => ({ id, camera_id: 1, person: null, started_at: started, ended_at: null, ...more });

describe('addVisit', () => {
  it('keeps one line per visit, updated in place by later messages of the same id', () => {
    let f = [];
    f = addVisit(f, ev(7, '2026-01-01T10:00:00Z'));
    f = addVisit(f, ev(7, '2026-01-01T10:00:00Z', { person: { id: 3, name: 'Ada' }, similarity: 0.8 }));
    f = addVisit(f, ev(7, '2026-01-01T10:00:00Z', { person: { id: 3, name: 'Ada' }, ended_at: '2026-01-01T10:00:42Z' }));
    expect(f).toHaveLength(1);
    expect(f[0].person.name).toBe('Ada');
    expect(f[0].similarity).toBe(0.8);
    expect(f[0].ended_at).toBe('2026-01-01T10:00:42Z');
  });

  it('sorts newest start first whatever the order the messages arrive in', () => {
    let f = [];
    for (const [id, t] of [[1, '10:00:05'], [2, '10:00:01'], [3, '10:00:09'], [4, '10:00:03']]) f = addVisit(f, ev(id, `2026-01-01T${t}Z`));
    expect(f.map((v) => v.id)).toEqual([3, 1, 4, 2]);
    // an update of an old visit does not move it to the top
    f = addVisit(f, ev(2, '2026-01-01T10:00:01Z', { ended_at: '2026-01-01T10:00:20Z' }));
    expect(f.map((v) => v.id)).toEqual([3, 1, 4, 2]);
  });

  it('a late message does not reopen an ended visit', () => {
    let f = addVisit([], ev(5, '2026-01-01T10:00:00Z', { ended_at: '2026-01-01T10:01:00Z' }));
    f = addVisit(f, ev(5, '2026-01-01T10:00:00Z', { person: { id: 1, name: 'Bo' } }));
    expect(f[0].ended_at).toBe('2026-01-01T10:01:00Z');
    expect(f[0].person.name).toBe('Bo');
  });

  it('keeps at most VISITS_MAX visits, dropping the oldest', () => {
    let f = [];
    for (let i = 1; i <= VISITS_MAX + 10; i++) f = addVisit(f, ev(i, new Date(Date.UTC(2026, 0, 1, 10, 0, i)).toISOString()));
    expect(f).toHaveLength(VISITS_MAX);
    expect(f[0].id).toBe(VISITS_MAX + 10);
    expect(f.at(-1).id).toBe(11);
  });

  it('ignores a message without an id and returns the same list', () => {
    const f = addVisit([], ev(1, '2026-01-01T10:00:00Z'));
    expect(addVisit(f, { camera_id: 1 })).toBe(f);
    expect(addVisit(f, null)).toBe(f);
  });
});

describe('times', () => {
  it('clockTime is hh:mm:ss local', () => {
    const d = new Date(2026, 0, 1, 9, 5, 7);
    expect(clockTime(d.toISOString())).toBe('09:05:07');
    expect(clockTime(null)).toBe('');
    expect(clockTime('not a time')).toBe('');
  });
  it('visitDuration', () => {
    expect(visitDuration(ev(1, '2026-01-01T10:00:00Z'))).toBe('');
    expect(visitDuration(ev(1, '2026-01-01T10:00:00Z', { ended_at: '2026-01-01T10:00:42Z' }))).toBe('42 s');
    expect(visitDuration(ev(1, '2026-01-01T10:00:00Z', { ended_at: '2026-01-01T10:03:05Z' }))).toBe('3 min 05 s');
    expect(visitDuration(ev(1, '2026-01-01T10:00:00Z', { ended_at: '2026-01-01T12:07:00Z' }))).toBe('2 h 07 min');
    expect(visitDuration(ev(1, '2026-01-01T10:00:00Z', { ended_at: '2026-01-01T09:00:00Z' }))).toBe('');
  });
});

describe('sizes', () => {
  it('liveWidth rounds down to a multiple of 16 within 160 .. 1280', () => {
    expect(liveWidth(100)).toBe(160);
    expect(liveWidth(275)).toBe(272);
    expect(liveWidth(320)).toBe(320);
    expect(liveWidth(450, 2)).toBe(896);
    expect(liveWidth(900, 2)).toBe(1280);
    expect(liveWidth(0)).toBe(160);
    for (let w = 160; w < 1280; w += 7) {
      expect(liveWidth(w)).toBeLessThanOrEqual(w);
      expect(liveWidth(w)).toBeGreaterThan(w - 16);
    }
  });
  it('tileWidth: 1-up fills the box, 4-up is about half, limited by the height too', () => {
    const one = tileWidth(1, 900, 700), four = tileWidth(4, 900, 700), nine = tileWidth(9, 900, 700);
    expect(one).toBe(900);
    expect(Math.abs(four - (900 - 12) / 2)).toBeLessThan(2);
    expect(nine).toBeLessThan(four);
    // a wide, short box: the height limits the tile (16:9 picture of (300 - 40) lines)
    expect(tileWidth(1, 2000, 300)).toBe(Math.floor(260 * 16 / 9));
  });
});
