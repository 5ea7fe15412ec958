import React from 'react';
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { humanBytes, humanDays } from './pages/Settings.jsx';
import { fakeFetch, reply } from './test/fakeFetch.js';
import { SETTINGS, renderSettings } from './test/renderSettings.jsx';

const STORAGE = {
  database_bytes: 163_000_000, free_bytes: 52_000_000_000, events: 1200, picture_bytes: 150_000_000, bytes_per_event: 125_000,
  rate_window_days: 1, events_per_day: 1200, bytes_per_day: 150_000_000, days_left: 346.6, retention_days: 30,
  retention_bounded: true, retained_bytes: 4_500_000_000, retention_fits: true,
};

afterEach(() => vi.restoreAllMocks());

describe('units', () => {
  it('bytes and days in human units', () => {
    expect(humanBytes(0)).toBe('0 B');
    expect(humanBytes(999)).toBe('999 B');
    expect(humanBytes(163_000_000)).toBe('163 MB');
    expect(humanBytes(4_500_000_000)).toBe('4.50 GB');
    expect(humanBytes(null)).toBe('—');
    expect(humanDays(3.46)).toBe('3.5 days');
    expect(humanDays(346.6)).toBe('346 days');
    expect(humanDays(1000)).toBe('2.7 years');
    expect(humanDays(36500 * 3 + 1)).toBe('300 years');
  });
});

describe('Settings page', () => {
  it('shows the threshold in force, the storage figures, and sends snapshot settings and an empty threshold as null', async () => {
    const calls = [];
    let settings = { ...SETTINGS };
    fakeFetch({
      'GET /api/v1/cameras': { items: [], next_cursor: null },
      'GET /api/v1/settings': () => reply(200, settings),
      'GET /api/v1/storage': STORAGE,
      'PATCH /api/v1/settings': (url, init) => {
        const b = JSON.parse(init.body);
        calls.push(b);
        if (b.snapshot_width > 0 && b.snapshot_width < 160)
          return reply(400, { error: { code: 'bad_request', message: "'snapshot_width' must be 0 (no snapshot) or in [160, 3840]" } });
        settings = { ...settings, ...b, recognition_threshold_in_force: b.recognition_threshold ?? 0.93 };
        return reply(200, settings);
      },
    });
    renderSettings();
    const threshold = await screen.findByLabelText(/Recognition threshold/);
    expect(threshold.value).toBe('');
    expect(threshold.placeholder).toBe('in force: 0.93 (model default)');
    expect(screen.getByTestId('threshold-in-force').textContent).toBe('in force: 0.93 (model default)');
    expect((await screen.findByTestId('database-size')).textContent).toBe('163 MB');
    expect(screen.getByTestId('days-left').textContent).toBe('346 days at the current rate');
    expect(screen.getByLabelText('Storage').textContent).toMatch(/level off near 4\.50 GB/);
    expect(screen.getByLabelText(/snapshot width/).value).toBe('640');
    expect(screen.getByLabelText(/snapshot JPEG quality/).value).toBe('70');

    fireEvent.change(screen.getByLabelText(/snapshot width/), { target: { value: '100' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save settings' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/snapshot_width/);

    fireEvent.change(screen.getByLabelText(/snapshot width/), { target: { value: '0' } });
    fireEvent.change(threshold, { target: { value: '0.5' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save settings' }));
    await waitFor(() => expect(screen.getByRole('status').textContent).toBe('Saved.'));
    expect(calls[1]).toMatchObject({ snapshot_width: 0, snapshot_quality: 70, recognition_threshold: 0.5 });
    expect(screen.getByTestId('threshold-in-force').textContent).toBe('in force: 0.5');

    fireEvent.change(screen.getByLabelText(/Recognition threshold/), { target: { value: '' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save settings' }));
    await waitFor(() => expect(calls).toHaveLength(3));
    expect(calls[2].recognition_threshold).toBeNull();
    await waitFor(() => expect(screen.getByTestId('threshold-in-force').textContent).toBe('in force: 0.93 (model default)'));
  });

  it('PostgreSQL: free space and days left unknown; no retention: unbounded', async () => {
    fakeFetch({
      'GET /api/v1/cameras': { items: [], next_cursor: null },
      'GET /api/v1/settings': SETTINGS,
      'GET /api/v1/storage': { ...STORAGE, free_bytes: null, days_left: null, retention_days: 0, retention_bounded: false, retained_bytes: null, retention_fits: null },
    });
    renderSettings();
    expect((await screen.findByTestId('days-left')).textContent).toBe('—');
    expect(screen.getByLabelText('Storage').textContent).toMatch(/grows without bound/);
    expect(screen.getByLabelText('Storage').textContent).toMatch(/not known here/);
  });
});
