// api.js — the client of the mien HTTP API. Same origin, authenticated by the server's HttpOnly session
// cookie: the token of the login reply is never kept (not in localStorage, not in memory).

export const EXPRESSIONS = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'];

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

let onUnauthorized = null;
/** Called with no argument when any request answers 401 (the session ended). */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

const BASE = '/api/v1';

export async function request(method, path, { json, body, type, query, signal } = {}) {
  let url = BASE + path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    const s = q.toString();
    if (s) url += (url.includes('?') ? '&' : '?') + s;
  }
  const headers = { Accept: 'application/json' };
  if (json !== undefined) {
    body = JSON.stringify(json);
    headers['Content-Type'] = 'application/json';
  } else if (type) {
    headers['Content-Type'] = type;
  }
  const res = await fetch(url, { method, headers, body, credentials: 'same-origin', signal });
  let data = null;
  const ct = (res.headers && res.headers.get && res.headers.get('content-type')) || '';
  if (res.status !== 204 && ct.includes('application/json')) {
    try {
      data = await res.json();
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    if (res.status === 401 && onUnauthorized && path !== '/auth/login') onUnauthorized();
    // {"error":{"code","message"}}; a few replies (an unknown's assign 409) carry the message as a plain string.
    const e = (data && data.error) || {};
    if (typeof e === 'string') throw new ApiError(res.status, data.verdict || undefined, e, data);
    throw new ApiError(res.status, e.code, e.message, data);
  }
  return data;
}

export const api = {
  login: (username, password) => request('POST', '/auth/login', { json: { username, password } }),
  logout: () => request('POST', '/auth/logout'),
  me: () => request('GET', '/me'),

  people: (query) => request('GET', '/people', { query }),
  person: (id) => request('GET', `/people/${id}`),
  createPerson: (p) => request('POST', '/people', { json: p }),
  patchPerson: (id, p) => request('PATCH', `/people/${id}`, { json: p }),
  deletePerson: (id) => request('DELETE', `/people/${id}`),
  faces: (id) => request('GET', `/people/${id}/faces`),
  deleteFace: (id, faceId) => request('DELETE', `/people/${id}/faces/${faceId}`),
  faceThumbnailUrl: (id, faceId) => `${BASE}/people/${id}/faces/${faceId}/thumbnail.jpg`,
  /** Enrolls one photo; resolves to {verdict, ...} for every verdict, enrolled or refused (422). query:
   * {face: N} picks face N of a group photo, {confirm: true} enrolls despite a mismatch / matches_other warning. */
  async enroll(id, file, query) {
    try {
      return await request('POST', `/people/${id}/faces`, { body: file, type: file.type || 'image/jpeg', query });
    } catch (e) {
      if (e instanceof ApiError && e.status === 422 && e.body && e.body.verdict) return e.body;
      throw e;
    }
  },

  cameras: (query) => request('GET', '/cameras', { query }),
  createCamera: (c) => request('POST', '/cameras', { json: c }),
  patchCamera: (id, c) => request('PATCH', `/cameras/${id}`, { json: c }),
  deleteCamera: (id) => request('DELETE', `/cameras/${id}`),
  liveUrl: (id) => `${BASE}/cameras/${id}/live.mjpg`,

  events: (query) => request('GET', '/events', { query }),
  event: (id) => request('GET', `/events/${id}`),
  snapshotUrl: (id) => `${BASE}/events/${id}/snapshot.jpg`,
  faceUrl: (id) => `${BASE}/events/${id}/face.jpg`,

  alerts: (query) => request('GET', '/alerts', { query }),
  ack: (id) => request('POST', `/alerts/${id}/ack`),

  // Unknown identities (issue 17): grouped unknown faces, named, merged, dismissed, erased.
  unknowns: (query) => request('GET', '/unknowns', { query }),
  unknown: (id) => request('GET', `/unknowns/${id}`),
  /** Names an unknown identity: resolves to the 200 reply, or to the 409 reply's body (with its `verdict`,
   * `matches_other` or `mismatch`) so that the caller can warn and repeat with confirm: true. */
  async assignUnknown(id, personId, confirm = false) {
    try {
      return await request('POST', `/unknowns/${id}/assign`, { json: { person_id: personId, confirm } });
    } catch (e) {
      // The warnings to confirm; any other refusal is an error.
      if (e instanceof ApiError && (e.status === 409 || e.status === 422) && ['matches_other', 'mismatch'].includes(e.body?.verdict)) return e.body;
      throw e;
    }
  },
  mergeUnknown: (id, from) => request('POST', `/unknowns/${id}/merge`, { json: { from } }),
  removeUnknownEvent: (id, eventId) => request('DELETE', `/unknowns/${id}/events/${eventId}`),
  dismissUnknown: (id, dismissed) => request('POST', `/unknowns/${id}/dismiss`, { json: { dismissed } }),
  eraseUnknown: (id) => request('DELETE', `/unknowns/${id}`),

  // Corrections of an event's identity: "this is P" / "not P", undone by deleting them.
  correct: (eventId, personId, verdict) => request('POST', `/events/${eventId}/corrections`, { json: { person_id: personId, verdict } }),
  corrections: (query) => request('GET', '/corrections', { query }),
  undoCorrection: (id) => request('DELETE', `/corrections/${id}`),

  /** Events whose face matches: of a picture (a File or Blob, sent as the body) or of event `event`. */
  searchFaces: ({ file, event, ...query }) =>
    file
      ? request('POST', '/search/faces', { body: file, type: file.type || 'image/jpeg', query })
      : request('POST', '/search/faces', { query: { event, ...query } }),

  alertRules: (query) => request('GET', '/alert-rules', { query }),
  createAlertRule: (r) => request('POST', '/alert-rules', { json: r }),
  patchAlertRule: (id, r) => request('PATCH', `/alert-rules/${id}`, { json: r }),
  deleteAlertRule: (id) => request('DELETE', `/alert-rules/${id}`),

  users: (query) => request('GET', '/users', { query }),
  createUser: (u) => request('POST', '/users', { json: u }),
  patchUser: (id, u) => request('PATCH', `/users/${id}`, { json: u }),
  deleteUser: (id) => request('DELETE', `/users/${id}`),

  settings: () => request('GET', '/settings'),
  patchSettings: (s) => request('PATCH', '/settings', { json: s }),
  storage: () => request('GET', '/storage'),

  mqtt: () => request('GET', '/mqtt'),
  patchMqtt: (m) => request('PATCH', '/mqtt', { json: m }),
  webhooks: (query) => request('GET', '/webhooks', { query }),
  createWebhook: (w) => request('POST', '/webhooks', { json: w }),
  patchWebhook: (id, w) => request('PATCH', `/webhooks/${id}`, { json: w }),
  deleteWebhook: (id) => request('DELETE', `/webhooks/${id}`),
  testWebhook: (id) => request('POST', `/webhooks/${id}/test`),
  deliveries: (id, query) => request('GET', `/webhooks/${id}/deliveries`, { query }),
};

/** Every page of a list, following next_cursor, up to `max` items. */
export async function fetchAll(fn, query = {}, max = 5000) {
  const items = [];
  let cursor;
  for (;;) {
    const page = await fn({ ...query, limit: Math.min(1000, max - items.length), cursor });
    items.push(...page.items);
    if (!page.next_cursor || items.length >= max) return { items, truncated: !!page.next_cursor };
    cursor = page.next_cursor;
  }
}

/** A value of <input type="datetime-local"> (local time) as ISO-8601 UTC, or undefined. */
export function localToIso(v) {
  if (!v) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}
