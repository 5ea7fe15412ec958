// sse.js — the live stream (GET /api/v1/stream, Server-Sent Events) with its own reconnect and backoff.
//
// EventSource retries by itself only while the server answers text/event-stream; a 404, a 401 or a 5xx closes
// it for good. So on every error the source is closed and reopened after a delay that doubles (1 s, 2 s, 4 s …
// up to 30 s) and goes back to the first step once a connection opens. The state is 'connecting', 'open' or
// 'unavailable' (an error happened and a retry is pending).

export const STREAM_URL = '/api/v1/stream';
export const EVENT_TYPES = ['face', 'event', 'alert', 'camera'];

export function backoffDelay(attempt, { base = 1000, max = 30000 } = {}) {
  return Math.min(max, base * 2 ** Math.max(0, attempt));
}

export class LiveStream {
  constructor({ url = STREAM_URL, EventSourceImpl = globalThis.EventSource, base = 1000, max = 30000, timers = globalThis } = {}) {
    this.url = url;
    this.ES = EventSourceImpl;
    this.base = base;
    this.max = max;
    this.timers = timers;
    this.state = 'connecting';
    this.attempt = 0; // failures since the last open
    this.listeners = new Set(); // fn(type, data)
    this.stateListeners = new Set();
    this.es = null;
    this.timer = null;
    this.stopped = true;
  }

  start() {
    if (!this.stopped) return this;
    this.stopped = false;
    this.connect();
    return this;
  }

  stop() {
    this.stopped = true;
    if (this.timer) this.timers.clearTimeout(this.timer);
    this.timer = null;
    if (this.es) this.es.close();
    this.es = null;
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onState(fn) {
    this.stateListeners.add(fn);
    fn(this.state);
    return () => this.stateListeners.delete(fn);
  }

  setState(s) {
    if (s === this.state) return;
    this.state = s;
    for (const fn of this.stateListeners) fn(s);
  }

  connect() {
    this.timer = null;
    if (this.stopped) return;
    if (!this.ES) {
      this.setState('unavailable');
      return;
    }
    this.setState('connecting');
    let es;
    try {
      es = new this.ES(this.url, { withCredentials: true });
    } catch {
      this.fail();
      return;
    }
    this.es = es;
    es.onopen = () => {
      if (this.es !== es) return;
      this.attempt = 0;
      this.setState('open');
    };
    es.onerror = () => {
      if (this.es !== es) return;
      this.fail();
    };
    for (const type of EVENT_TYPES) {
      es.addEventListener(type, (m) => {
        if (this.es !== es) return;
        let data;
        try {
          data = JSON.parse(m.data);
        } catch {
          return; // a malformed message is dropped, not fatal
        }
        for (const fn of this.listeners) fn(type, data);
      });
    }
  }

  fail() {
    if (this.es) this.es.close();
    this.es = null;
    if (this.stopped) return;
    this.setState('unavailable');
    const delay = backoffDelay(this.attempt, { base: this.base, max: this.max });
    this.attempt++;
    this.nextDelay = delay;
    this.timer = this.timers.setTimeout(() => this.connect(), delay);
  }
}
