import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, LiveStream } from './sse.js';

class FakeES {
  static all = [];
  constructor(url, opts) {
    this.url = url;
    this.opts = opts;
    this.closed = false;
    this.handlers = {};
    FakeES.all.push(this);
  }
  addEventListener(type, fn) {
    this.handlers[type] = fn;
  }
  close() {
    this.closed = true;
  }
  emit(type, data) {
    this.handlers[type]({ data: typeof data === 'string' ? data : JSON.stringify(data) });
  }
}

describe('LiveStream', () => {
  beforeEach(() => {
    FakeES.all = [];
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  it('doubles the delay up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });

  it('reconnects with backoff after errors, and starts over once connected', () => {
    const s = new LiveStream({ EventSourceImpl: FakeES });
    const states = [];
    s.onState((x) => states.push(x));
    s.start();
    expect(FakeES.all).toHaveLength(1);
    expect(FakeES.all[0].url).toBe('/api/v1/stream');
    expect(FakeES.all[0].opts.withCredentials).toBe(true);

    FakeES.all[0].onerror(); // e.g. a 404 while the stream does not exist
    expect(FakeES.all[0].closed).toBe(true);
    expect(s.state).toBe('unavailable');
    vi.advanceTimersByTime(999);
    expect(FakeES.all).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeES.all).toHaveLength(2);
    FakeES.all[1].onerror();
    vi.advanceTimersByTime(1999);
    expect(FakeES.all).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(FakeES.all).toHaveLength(3);
    FakeES.all[2].onopen();
    expect(s.state).toBe('open');
    FakeES.all[2].onerror();
    vi.advanceTimersByTime(1000); // back to the first step after a success
    expect(FakeES.all).toHaveLength(4);
    expect(states).toEqual(['connecting', 'unavailable', 'connecting', 'unavailable', 'connecting', 'open', 'unavailable', 'connecting']);
  });

  it('delivers the four event types as parsed JSON and drops malformed ones', () => {
    const s = new LiveStream({ EventSourceImpl: FakeES });
    const got = [];
    s.subscribe((type, data) => got.push([type, data]));
    s.start();
    const es = FakeES.all[0];
    es.emit('camera', { id: 1, status: 'online', fps: 5 });
    es.emit('face', { camera_id: 1, faces: [] });
    es.emit('event', { id: 9 });
    es.emit('alert', { id: 3, kind: 'watchlist' });
    es.emit('event', '{not json');
    expect(got.map((g) => g[0])).toEqual(['camera', 'face', 'event', 'alert']);
    expect(got[0][1].status).toBe('online');
  });

  it('stops: no reconnect after stop, and an old source is ignored', () => {
    const s = new LiveStream({ EventSourceImpl: FakeES });
    s.start();
    FakeES.all[0].onerror();
    s.stop();
    vi.advanceTimersByTime(60000);
    expect(FakeES.all).toHaveLength(1);
  });

  it('is unavailable where EventSource does not exist', () => {
    const s = new LiveStream({ EventSourceImpl: undefined });
    s.start();
    expect(s.state).toBe('unavailable');
  });
});
