import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, fetchAll, setUnauthorizedHandler } from './api.js';
import { fakeFetch, reply } from './test/fakeFetch.js';

afterEach(() => {
  setUnauthorizedHandler(null);
  localStorage.clear();
});

describe('API client', () => {
  it('logs in with JSON, same-origin credentials, and keeps no token', async () => {
    const f = fakeFetch({ 'POST /api/v1/auth/login': { token: 'secret-token', role: 'admin' } });
    await api.login('admin', 'pw');
    const [url, init] = f.mock.calls[0];
    expect(url).toBe('/api/v1/auth/login');
    expect(init.credentials).toBe('same-origin');
    expect(init.headers['Content-Type']).toBe('application/json');
    expect(JSON.parse(init.body)).toEqual({ username: 'admin', password: 'pw' });
    expect(localStorage.length).toBe(0);
    expect(JSON.stringify({ ...localStorage, ...sessionStorage })).not.toContain('secret-token');
  });

  it('builds queries without empty values', async () => {
    const f = fakeFetch({ 'GET /api/v1/events': { items: [], next_cursor: null } });
    await api.events({ camera: 2, person: '', unknown: 'true', expression: undefined, cursor: null, limit: 50 });
    expect(f.mock.calls[0][0]).toBe('/api/v1/events?camera=2&unknown=true&limit=50');
  });

  it('turns error replies into ApiError and reports 401', async () => {
    fakeFetch({ 'GET /api/v1/me': () => reply(401, { error: { code: 'unauthorized', message: 'log in' } }) });
    const h = vi.fn();
    setUnauthorizedHandler(h);
    const e = await api.me().catch((x) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(401);
    expect(e.code).toBe('unauthorized');
    expect(h).toHaveBeenCalledOnce();
  });

  it('enroll sends the file as the body and returns refusal verdicts', async () => {
    const f = fakeFetch({
      'POST /api/v1/people/7/faces': (url, init) =>
        init.body.size === 1
          ? reply(201, { id: 1, person_id: 7, verdict: 'enrolled' })
          : reply(422, { error: { code: 'several_faces', message: 'x' }, verdict: 'several_faces', faces: 3 }),
    });
    const one = new Blob(['a'], { type: 'image/jpeg' });
    expect((await api.enroll(7, one)).verdict).toBe('enrolled');
    expect(f.mock.calls[0][1].headers['Content-Type']).toBe('image/jpeg');
    expect(f.mock.calls[0][1].body).toBe(one);
    const r = await api.enroll(7, new Blob(['ab'], { type: 'image/png' }));
    expect(r).toMatchObject({ verdict: 'several_faces', faces: 3 });
  });

  it('fetchAll follows next_cursor', async () => {
    const f = fakeFetch({
      'GET /api/v1/events': (url) => reply(200, url.includes('cursor=5') ? { items: [{ id: 4 }], next_cursor: null } : { items: [{ id: 6 }, { id: 5 }], next_cursor: '5' }),
    });
    const r = await fetchAll(api.events, { camera: 1 });
    expect(r.items.map((x) => x.id)).toEqual([6, 5, 4]);
    expect(f).toHaveBeenCalledTimes(2);
  });
});
