import React from 'react';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { describeFilter, filterBody } from './pages/Integrations.jsx';
import { fakeFetch, reply } from './test/fakeFetch.js';
import { SETTINGS, renderSettings } from './test/renderSettings.jsx';

const NO_FILTER = { cameras: [], people: [], watchlist: false, known: false, unknown: false, hours: [] };
const MQTT = {
  configured: true, connected: true, broker: 'mqtt://ha:***@broker.lan:1883', prefix: 'mien', client_id: 'mien-node-1',
  published: 42, dropped: 3, reconnects: 0, expression: false, discovery: true, discovery_prefix: 'homeassistant', filter: NO_FILTER,
};
const CAMERAS = [{ id: 1, name: 'Front door' }, { id: 2, name: 'Back door' }];
const PEOPLE = [{ id: 7, name: 'Ada' }];

afterEach(() => vi.restoreAllMocks());

describe('filters', () => {
  it('send only what is set, and read back in words', () => {
    expect(filterBody(NO_FILTER)).toEqual({});
    const f = { ...NO_FILTER, cameras: [2], unknown: true, hours: [{ from: '22:00', to: '06:00' }, { from: '07:00', to: '08:00', days: ['mon', 'tue'] }] };
    expect(filterBody(f)).toEqual({
      cameras: [2],
      unknown: true,
      hours: [{ from: '22:00', to: '06:00' }, { from: '07:00', to: '08:00', days: ['mon', 'tue'] }],
    });
    expect(describeFilter(f, CAMERAS, PEOPLE)).toBe('cameras Back door; unknown faces; 22:00–06:00, 07:00–08:00 (mon, tue)');
    expect(describeFilter({ ...NO_FILTER, people: [7], watchlist: true }, CAMERAS, PEOPLE)).toBe('Ada or the watchlist');
    expect(describeFilter(NO_FILTER)).toBe('everything');
  });
});

describe('Settings: MQTT and webhooks', () => {
  it('shows the MQTT connection redacted, saves its settings, and manages webhooks: add, test, deliveries, edit, delete', async () => {
    const calls = [];
    let hooks = [];
    let mqtt = { ...MQTT };
    fakeFetch({
      'GET /api/v1/cameras': { items: CAMERAS, next_cursor: null },
      'GET /api/v1/people': { items: PEOPLE, next_cursor: null },
      'GET /api/v1/settings': SETTINGS,
      'GET /api/v1/storage': { database_bytes: 1, free_bytes: 1, events: 0, picture_bytes: 0, bytes_per_event: null, rate_window_days: null, events_per_day: null, bytes_per_day: null, days_left: null, retention_days: 30, retention_bounded: true, retained_bytes: null, retention_fits: null },
      'GET /api/v1/mqtt': () => reply(200, mqtt),
      'PATCH /api/v1/mqtt': (url, init) => {
        const b = JSON.parse(init.body);
        calls.push(['PATCH mqtt', b]);
        if (b.discovery_prefix.includes('#')) return reply(400, { error: { code: 'bad_request', message: "'discovery_prefix' must be 1..64 bytes without '+', '#'" } });
        mqtt = { ...mqtt, ...b, filter: { ...NO_FILTER, ...b.filter } };
        return reply(200, mqtt);
      },
      'GET /api/v1/webhooks': () => reply(200, { items: hooks, next_cursor: null }),
      'POST /api/v1/webhooks': (url, init) => {
        const b = JSON.parse(init.body);
        calls.push(['POST', b]);
        const h = { id: 5, name: b.name, url: b.url.replace(/:[^:@/]+@/, ':***@'), events: b.events, has_secret: !!b.secret, enabled: b.enabled, expression: b.expression, filter: { ...NO_FILTER, ...b.filter } };
        hooks = [h];
        return reply(201, h);
      },
      'PATCH /api/v1/webhooks/5': (url, init) => {
        const b = JSON.parse(init.body);
        calls.push(['PATCH', b]);
        hooks = [{ ...hooks[0], ...b, filter: { ...NO_FILTER, ...b.filter } }];
        return reply(200, hooks[0]);
      },
      'POST /api/v1/webhooks/5/test': () => reply(200, { delivery: 'abc', delivered: true, http_status: 200, error: '', duration_ms: 12 }),
      'GET /api/v1/webhooks/5/deliveries': {
        items: [
          { id: 2, delivery: 'abc', type: 'test', subject: 'test', status: 'delivered', attempts: 1, http_status: 200, error: '', duration_ms: 12, created_at: '2026-01-01T10:00:00.000Z', updated_at: '2026-01-01T10:00:00.000Z', next_attempt_at: null },
          { id: 1, delivery: 'def', type: 'alert', subject: 'alert 3', status: 'retrying', attempts: 2, http_status: 503, error: 'the receiver answered HTTP 503', duration_ms: 40, created_at: '2026-01-01T09:00:00.000Z', updated_at: '2026-01-01T09:00:05.000Z', next_attempt_at: '2026-01-01T09:00:25.000Z' },
        ],
        next_cursor: null,
      },
      'DELETE /api/v1/webhooks/5': () => {
        calls.push(['DELETE']);
        hooks = [];
        return reply(204);
      },
    });
    renderSettings();

    // MQTT: the state line, with the broker as the server shows it.
    expect((await screen.findByTestId('mqtt-state')).textContent).toBe(
      'Connected to mqtt://ha:***@broker.lan:1883 as mien-node-1; topics under mien/. 42 messages sent, 3 dropped.',
    );
    const mqttCard = screen.getByRole('form', { name: 'MQTT' });
    fireEvent.click(within(mqttCard).getByLabelText(/Include expressions in events/));
    fireEvent.change(within(mqttCard).getByLabelText('Discovery prefix'), { target: { value: 'ha/#' } });
    fireEvent.click(within(mqttCard).getByRole('button', { name: 'Save MQTT settings' }));
    expect((await within(mqttCard).findByRole('alert')).textContent).toMatch(/discovery_prefix/);
    fireEvent.change(within(mqttCard).getByLabelText('Discovery prefix'), { target: { value: 'ha' } });
    fireEvent.click(within(within(mqttCard).getByRole('group', { name: 'Who' })).getByLabelText(/watchlist/));
    fireEvent.click(within(within(mqttCard).getByRole('group', { name: 'Only these cameras' })).getByLabelText(/Front door/));
    fireEvent.click(within(mqttCard).getByRole('button', { name: 'Save MQTT settings' }));
    await waitFor(() => expect(within(mqttCard).getByRole('status').textContent).toBe('MQTT settings saved.'));
    expect(calls.at(-1)).toEqual(['PATCH mqtt', { expression: true, discovery: true, discovery_prefix: 'ha', filter: { cameras: [1], watchlist: true } }]);

    // Webhooks: none, then one added with a secret, an events choice and a night-time window for unknown faces.
    const hooksCard = screen.getByLabelText('Webhooks');
    expect(await within(hooksCard).findByText('No webhooks yet.')).toBeTruthy();
    const add = within(hooksCard).getByRole('form', { name: 'Add a webhook' });
    fireEvent.change(within(add).getByLabelText('Name'), { target: { value: 'phone' } });
    fireEvent.change(within(add).getByLabelText(/URL/), { target: { value: 'https://u:pw@hooks.example/mien' } });
    fireEvent.click(within(add).getByLabelText(/Events \(every visit/));
    fireEvent.change(within(add).getByLabelText(/Signing secret/), { target: { value: 'a-long-secret' } });
    fireEvent.click(within(within(add).getByRole('group', { name: 'Who' })).getByLabelText(/unknown faces/));
    fireEvent.click(within(add).getByRole('button', { name: 'Add a time window' }));
    fireEvent.change(within(add).getByLabelText('To'), { target: { value: '05:30' } });
    fireEvent.click(within(add).getByRole('button', { name: 'Add webhook' }));
    await waitFor(() => expect(calls.some((c) => c[0] === 'POST')).toBe(true));
    expect(calls.find((c) => c[0] === 'POST')[1]).toEqual({
      name: 'phone', url: 'https://u:pw@hooks.example/mien', events: ['alert', 'event'], enabled: true, expression: false,
      secret: 'a-long-secret', filter: { unknown: true, hours: [{ from: '22:00', to: '05:30' }] },
    });
    const item = await within(hooksCard).findByRole('listitem', { name: 'Webhook phone' });
    expect(item.textContent).toMatch(/https:\/\/u:\*\*\*@hooks\.example\/mien/);
    expect(item.textContent).toMatch(/alert, event; signed; unknown faces; 22:00–05:30/);
    expect(item.textContent).not.toMatch(/a-long-secret/);

    // The test button says what happened.
    fireEvent.click(within(item).getByRole('button', { name: 'Test' }));
    expect((await within(item).findByTestId('tested-5')).textContent).toBe('Delivered: HTTP 200 in 12 ms');

    // The delivery log.
    fireEvent.click(within(item).getByRole('button', { name: 'Deliveries' }));
    const log = await within(item).findByRole('table', { name: 'Deliveries of phone' });
    const rows = within(log).getAllByRole('row');
    expect(rows).toHaveLength(3);
    expect(rows[2].textContent).toMatch(/alert 3.*retrying \(next .*\)2503the receiver answered HTTP 503/);

    // Edit: an empty secret keeps the stored one (not sent), the unchanged redacted URL is not sent either.
    fireEvent.click(within(item).getByRole('button', { name: 'Edit' }));
    const edit = await within(hooksCard).findByRole('form', { name: 'Edit webhook phone' });
    expect(within(edit).getByLabelText(/Signing secret/).value).toBe('');
    fireEvent.click(within(edit).getByLabelText('Enabled'));
    fireEvent.click(within(edit).getByRole('button', { name: 'Save webhook' }));
    await waitFor(() => expect(calls.some((c) => c[0] === 'PATCH')).toBe(true));
    const patch = calls.find((c) => c[0] === 'PATCH')[1];
    expect(patch.enabled).toBe(false);
    expect('secret' in patch).toBe(false);
    expect('url' in patch).toBe(false);
    const again = await within(hooksCard).findByRole('listitem', { name: 'Webhook phone' });
    expect(again.textContent).toMatch(/\(disabled\)/);

    // Delete asks first.
    fireEvent.click(within(again).getByRole('button', { name: 'Delete…' }));
    fireEvent.click(within(again).getByRole('button', { name: 'Yes, delete' }));
    expect(await within(hooksCard).findByText('No webhooks yet.')).toBeTruthy();
    expect(calls.at(-1)).toEqual(['DELETE']);
  });

  it('says so when MQTT is not configured on this node', async () => {
    fakeFetch({
      'GET /api/v1/cameras': { items: [], next_cursor: null },
      'GET /api/v1/settings': SETTINGS,
      'GET /api/v1/mqtt': { ...MQTT, configured: false, connected: false, broker: null, prefix: null, client_id: null, published: 0, dropped: 0 },
      'GET /api/v1/webhooks': { items: [], next_cursor: null },
    });
    renderSettings();
    expect((await screen.findByTestId('mqtt-state')).textContent).toMatch(/^Not configured on this node: set MIEN_MQTT=/);
  });
});
