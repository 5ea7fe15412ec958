// A fetch stand-in for unit tests only: routes 'METHOD /path' (query ignored) to a reply.
import { vi } from 'vitest';

export function reply(status, data) {
  return {
    ok: status >= 200 && status < 300,
    status,
    headers: { get: (h) => (h.toLowerCase() === 'content-type' && data !== undefined ? 'application/json' : null) },
    json: async () => data,
  };
}

export function fakeFetch(routes) {
  const fn = vi.fn(async (url, init = {}) => {
    const path = url.split('?')[0];
    const key = `${init.method || 'GET'} ${path}`;
    const r = routes[key];
    if (!r) return reply(404, { error: { code: 'not_found', message: key } });
    return typeof r === 'function' ? r(url, init) : reply(200, r);
  });
  globalThis.fetch = fn;
  return fn;
}
