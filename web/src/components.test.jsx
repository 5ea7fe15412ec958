import React from 'react';
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import App, { pagesFor } from './App.jsx';
import { Verdict } from './pages/Person.jsx';
import { FacePicker, MatchWarning } from './pages/EnrolPick.jsx';
import { LiveStream } from './sse.js';
import { fakeFetch, reply } from './test/fakeFetch.js';
import { expressionsOverTime, visitsPerHour } from './insights.js';

const XSS = '<img src=x onerror=alert(1)>';
const EXPR = /\b(neutral|happy|sad|angry|fearful|disgusted|surprised|expressions?)\b/i;

const event = (id, person) => ({
  id, camera_id: 1, track_id: 10 + id, person, similarity: person ? 0.8 : 0, started_at: '2026-01-01T10:00:00.000Z',
  ended_at: '2026-01-01T10:00:05.000Z', box: [1, 2, 3, 4], quality: 0.5, alert: false,
  dominant_expression: 'happy', expression: { neutral: 0.1, happy: 0.7, sad: 0, angry: 0, fearful: 0, disgusted: 0, surprised: 0.2 },
});

// What the server would send; the recognition UI must leave expression fields out even if they came.
function server() {
  return fakeFetch({
    'GET /api/v1/cameras': { items: [{ id: 1, name: 'Door', enabled: true }], next_cursor: null },
    'GET /api/v1/people': { items: [{ id: 5, name: XSS }], next_cursor: null },
    'GET /api/v1/people/5': { id: 5, name: XSS },
    'GET /api/v1/events': { items: [event(1, { id: 5, name: XSS }), event(2, null)], next_cursor: null },
  });
}

class FakeES {
  static last;
  constructor() {
    FakeES.last = this;
    this.h = {};
  }
  addEventListener(t, f) {
    this.h[t] = f;
  }
  close() {}
}

function renderApp(role, path, stream) {
  const user = { id: 1, username: `${role}-user`, role, all_cameras: true, cameras: [] };
  return render(
    <MemoryRouter initialEntries={[path]} future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
      <App initialUser={user} stream={stream || new LiveStream({ EventSourceImpl: undefined })} />
    </MemoryRouter>,
  );
}

beforeEach(() => {
  server();
});
afterEach(() => vi.restoreAllMocks());

describe('navigation by role', () => {
  it('admin pages are absent (not hidden) below admin; Insights for analyst and admin', () => {
    expect(pagesFor('recognition').map((p) => p.label)).toEqual(['Live', 'Events', 'People', 'Review', 'Cameras']);
    expect(pagesFor('analyst').map((p) => p.label)).toEqual(['Live', 'Events', 'People', 'Review', 'Cameras', 'Insights']);
    expect(pagesFor('admin').map((p) => p.label)).toEqual(['Live', 'Events', 'People', 'Review', 'Cameras', 'Alerts', 'Insights', 'Users', 'Settings']);
  });

  it('renders the role after sign-in and only the allowed links', async () => {
    renderApp('recognition', '/events');
    expect(screen.getByTestId('role').textContent).toBe('recognition');
    const nav = screen.getByRole('navigation', { name: 'Main' });
    expect(within(nav).queryByRole('link', { name: 'Insights' })).toBeNull();
    expect(within(nav).queryByRole('link', { name: 'Users' })).toBeNull();
    expect(within(nav).queryByRole('link', { name: 'Alerts' })).toBeNull();
    expect(document.body.innerHTML).not.toMatch(/Insights|Settings/);
  });

  it('an admin route typed by a recognition user is not found', async () => {
    renderApp('recognition', '/settings');
    expect(await screen.findByRole('heading', { name: 'Not found' })).toBeTruthy();
  });
});

describe('expressions by role', () => {
  it('recognition: no expression column, filter or value on the events page', async () => {
    renderApp('recognition', '/events');
    await screen.findAllByTestId('event-row');
    expect(screen.queryByLabelText('Expression')).toBeNull();
    expect(screen.queryByRole('columnheader', { name: 'Expression' })).toBeNull();
    expect(document.body.textContent).not.toMatch(EXPR);
    expect(document.body.innerHTML).not.toMatch(EXPR);
  });

  it('analyst: the expression column and filter are there', async () => {
    renderApp('analyst', '/events');
    await screen.findAllByTestId('event-row');
    expect(screen.getByLabelText('Expression')).toBeTruthy();
    expect(screen.getByRole('columnheader', { name: 'Expression' })).toBeTruthy();
    expect(screen.getAllByText('happy').length).toBeGreaterThan(0);
  });

  it('the expression filter is not sent for a recognition user', async () => {
    renderApp('recognition', '/events');
    await screen.findAllByTestId('event-row');
    const urls = globalThis.fetch.mock.calls.map((c) => c[0]).filter((u) => u.startsWith('/api/v1/events'));
    expect(urls.every((u) => !u.includes('expression'))).toBe(true);
  });

  it('live feed: one line per visit, updated in place; the expression shows for an analyst, never for recognition', async () => {
    for (const role of ['analyst', 'recognition']) {
      const stream = new LiveStream({ EventSourceImpl: FakeES });
      const { unmount } = renderApp(role, '/live', stream);
      await screen.findByTestId('camera-tile');
      const visit = { id: 41, camera_id: 1, track_id: 7, person: null, similarity: 0, started_at: '2026-01-01T10:00:00.000Z', ended_at: null, dominant_expression: 'surprised' };
      act(() => {
        FakeES.last.onopen();
        FakeES.last.h.camera({ data: JSON.stringify({ id: 1, name: 'Door', status: 'online', fps: 4.5 }) });
        FakeES.last.h.event({ data: JSON.stringify(visit) });
        // per-frame face messages add no lines
        for (let i = 0; i < 20; i++)
          FakeES.last.h.face({
            data: JSON.stringify({ camera_id: 1, ts: `2026-01-01T10:00:0${i % 10}.000Z`, width: 640, height: 480, faces: [{ box: [1, 2, 3, 4], track_id: 7, person: { id: 5, name: 'Ada' }, similarity: 0.9, dominant_expression: 'surprised' }] }),
          });
        // the identity settles, then the visit ends: the same line
        FakeES.last.h.event({ data: JSON.stringify({ ...visit, person: { id: 5, name: 'Ada' }, similarity: 0.9 }) });
        FakeES.last.h.event({ data: JSON.stringify({ ...visit, person: { id: 5, name: 'Ada' }, similarity: 0.9, ended_at: '2026-01-01T10:00:42.000Z' }) });
        // an earlier visit arriving later goes below
        FakeES.last.h.event({ data: JSON.stringify({ ...visit, id: 40, started_at: '2026-01-01T09:59:00.000Z' }) });
      });
      await waitFor(() => expect(screen.getAllByTestId('feed-item')).toHaveLength(2));
      const [item, older] = screen.getAllByTestId('feed-item');
      expect(item.getAttribute('data-event-id')).toBe('41');
      expect(older.getAttribute('data-event-id')).toBe('40');
      expect(within(item).getByRole('link', { name: 'Ada' }).getAttribute('href')).toBe('/people/5');
      expect(item.textContent).toMatch(/at Door/);
      expect(item.textContent).toMatch(/left .*\(42 s\)/);
      expect(item.querySelector('img.crop').getAttribute('src')).toBe('/api/v1/events/41/face.jpg');
      expect(screen.getByTestId('camera-status').textContent).toBe('online');
      expect(screen.getByTestId('feed-state').textContent).toMatch(/connected/);
      if (role === 'analyst') expect(item.textContent).toMatch(/surprised/);
      else expect(document.body.textContent).not.toMatch(EXPR);
      unmount();
    }
  });

  it('live layouts: 1, 4, 9 or 16 at a time, remembered; pages past that; a tile opens large and Esc closes it', async () => {
    const items = Array.from({ length: 6 }, (_, i) => ({ id: i + 1, name: `Cam ${i + 1}`, enabled: true, status: 'online' }));
    fakeFetch({ 'GET /api/v1/cameras': () => reply(200, { items, next_cursor: null }) });
    localStorage.removeItem('mien.live.layout');
    const { unmount } = renderApp('admin', '/live');
    await waitFor(() => expect(screen.getAllByTestId('camera-tile')).toHaveLength(4));
    expect(screen.getByTestId('camera-page').textContent).toBe('Page 1 of 2');
    act(() => screen.getByRole('button', { name: 'Next' }).click());
    expect(screen.getAllByTestId('camera-tile').map((t) => t.getAttribute('data-camera-id'))).toEqual(['5', '6']);
    act(() => within(screen.getByRole('group', { name: 'Layout' })).getByRole('button', { name: /^1\b/ }).click());
    expect(screen.getAllByTestId('camera-tile')).toHaveLength(1);
    expect(screen.getByTestId('camera-page').textContent).toBe('Page 1 of 6');
    expect(localStorage.getItem('mien.live.layout')).toBe('1');
    act(() => screen.getByRole('button', { name: 'Enlarge Cam 1' }).click());
    const dialog = screen.getByRole('dialog', { name: 'Cam 1, enlarged' });
    expect(within(dialog).getByAltText('Live view of Cam 1').getAttribute('src')).toMatch(/live\.mjpg\?width=\d+$/);
    act(() => document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' })));
    expect(screen.queryByRole('dialog')).toBeNull();
    unmount();
    // remembered
    renderApp('admin', '/live');
    await waitFor(() => expect(screen.getAllByTestId('camera-tile')).toHaveLength(1));
    localStorage.removeItem('mien.live.layout');
  });

  it('live tiles show status and fps from GET /cameras at once, refresh every 5 s, and a newer camera message wins', async () => {
    let status = 'online';
    let polls = 0;
    fakeFetch({
      'GET /api/v1/cameras': () => {
        polls++;
        return reply(200, { items: [{ id: 1, name: 'Door', enabled: true, status, fps: 12.5, analysed_fps: 4 }], next_cursor: null });
      },
    });
    const stream = new LiveStream({ EventSourceImpl: FakeES });
    renderApp('admin', '/live', stream);
    await waitFor(() => expect(screen.getByTestId('camera-status').textContent).toBe('online'));
    expect(screen.getByTestId('camera-fps').textContent).toMatch(/12\.5 fps · 4\.0 analysed/);
    act(() => FakeES.last.h.camera({ data: JSON.stringify({ id: 1, name: 'Door', status: 'reconnecting' }) }));
    await waitFor(() => expect(screen.getByTestId('camera-status').textContent).toBe('reconnecting'));
    status = 'offline';
    await waitFor(() => expect(screen.getByTestId('camera-status').textContent).toBe('offline'), { timeout: 7000 });
    expect(polls).toBeGreaterThanOrEqual(2);
    const before = polls;
    act(() => FakeES.last.h.camera({ data: JSON.stringify({ id: 1, changed: true }) }));
    await waitFor(() => expect(polls).toBe(before + 1));
  }, 10000);

  it('live page says the feed is unavailable without a stream, and shows a placeholder for a failed image', async () => {
    renderApp('admin', '/live');
    const img = await screen.findByAltText('Live view of Door');
    expect(img.getAttribute('src')).toMatch(/^\/api\/v1\/cameras\/1\/live\.mjpg\?width=(\d+)$/);
    const w = Number(/width=(\d+)/.exec(img.getAttribute('src'))[1]);
    expect(w % 16).toBe(0);
    expect(w).toBeGreaterThanOrEqual(160);
    expect(w).toBeLessThanOrEqual(1280);
    act(() => img.dispatchEvent(new Event('error')));
    expect(await screen.findByText('No live view')).toBeTruthy();
    expect(screen.getByTestId('feed-state').textContent).toMatch(/unavailable/);
  });
});

describe('names are text', () => {
  it('a person named like markup renders as text everywhere', async () => {
    renderApp('admin', '/events');
    const rows = await screen.findAllByTestId('event-row');
    expect(within(rows[0]).getByRole('link', { name: XSS })).toBeTruthy();
    expect(document.querySelector('img[src="x"]')).toBeNull();
  });

  it('on the people list and the person page', async () => {
    renderApp('analyst', '/people');
    expect(await screen.findByRole('link', { name: XSS })).toBeTruthy();
    expect(document.querySelector('img[src="x"]')).toBeNull();
    renderApp('analyst', '/people/5');
    expect((await screen.findByTestId('person-name')).textContent).toBe(XSS);
  });
});

describe('enrollment verdicts', () => {
  const cases = [
    [{ verdict: 'enrolled', id: 3 }, /Enrolled/, 'ok'],
    [{ verdict: 'no_face' }, /No face found/, 'bad'],
    [{ verdict: 'several_faces', faces: 3 }, /exactly one.*\(3 faces\)/, 'bad'],
    [{ verdict: 'too_small' }, /too small/, 'bad'],
    [{ error: 'HTTP 500' }, /Error: HTTP 500/, 'bad'],
  ];
  it.each(cases)('%j', (result, text, cls) => {
    render(<ul><Verdict file="a.jpg" result={result} /></ul>);
    const li = screen.getByTestId('verdict');
    expect(li.textContent).toMatch(text);
    expect(li.className).toBe(cls);
  });

  it('uploads each photo and shows its verdict', async () => {
    fakeFetch({
      'GET /api/v1/people/5': { id: 5, name: 'Ada', note: '', watchlist: false, faces: 0 },
      'GET /api/v1/people/5/faces': { items: [], next_cursor: null },
      'POST /api/v1/people/5/faces': (url, init) =>
        init.body.name === 'one.jpg' ? reply(201, { id: 1, verdict: 'enrolled' }) : reply(422, { error: { code: 'no_face' }, verdict: 'no_face', faces: 0 }),
    });
    renderApp('admin', '/people/5');
    const input = await screen.findByTestId('enroll-input');
    const files = [new File(['x'], 'one.jpg', { type: 'image/jpeg' }), new File(['y'], 'wall.png', { type: 'image/png' })];
    await act(async () => {
      Object.defineProperty(input, 'files', { value: files, configurable: true });
      input.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await waitFor(() => expect(screen.getAllByTestId('verdict').map((v) => v.dataset.verdict)).toEqual(['enrolled', 'no_face']));
    // Erasure asks first, and says what goes.
    await act(async () => screen.getByRole('button', { name: 'Delete person…' }).click());
    expect(screen.getByRole('alertdialog').textContent).toMatch(/erases Ada’s biometric data.*cannot be undone/);
    expect(globalThis.fetch.mock.calls.some((c) => c[1] && c[1].method === 'DELETE')).toBe(false);
  });
});

describe('enrollment from a group photo, and the mismatch warning', () => {
  const found = [
    { index: 0, box: [100, 50, 200, 200], score: 0.99 },
    { index: 1, box: [500, 100, 100, 100], score: 0.9 },
    { index: 2, box: [700, 300, 150, 150], score: 0.8 },
  ];
  const realCreate = URL.createObjectURL;
  const realRevoke = URL.revokeObjectURL;
  beforeEach(() => {
    URL.createObjectURL = vi.fn(() => 'blob:group');
    URL.revokeObjectURL = vi.fn();
  });
  afterEach(() => {
    URL.createObjectURL = realCreate;
    URL.revokeObjectURL = realRevoke;
  });
  const loaded = (img, width, height) => {
    Object.defineProperty(img, 'naturalWidth', { value: width, configurable: true });
    Object.defineProperty(img, 'naturalHeight', { value: height, configurable: true });
    fireEvent.load(img);
  };

  it('draws a numbered button over each face, placed in proportion to the picture, and picks by index', () => {
    const onPick = vi.fn();
    render(<FacePicker file={new File(['x'], 'group.jpg', { type: 'image/jpeg' })} found={found} onPick={onPick} onCancel={() => {}} />);
    expect(screen.queryAllByTestId('face-box')).toHaveLength(0); // not before the picture's size is known
    loaded(screen.getByAltText('The group photo'), 1000, 500);
    const boxes = screen.getAllByTestId('face-box');
    expect(boxes.map((b) => b.textContent)).toEqual(['1', '2', '3']);
    expect(boxes[1].tagName).toBe('BUTTON'); // focusable: Tab and Enter pick too
    const place = ['left', 'top', 'width', 'height'].map((k) => boxes[1].style[k]);
    expect(place.every((v) => v.endsWith('%'))).toBe(true);
    expect(place.map(parseFloat)).toEqual([50, 20, 10, 20]); // [500, 100, 100, 100] in a 1000 × 500 picture
    fireEvent.click(screen.getByRole('button', { name: 'Face 3' }));
    expect(onPick).toHaveBeenCalledWith(2);
    fireEvent.click(screen.getByRole('button', { name: 'Enroll face 1' }));
    expect(onPick).toHaveBeenLastCalledWith(0);
  });

  it('names the other person, with a link, and offers Enroll anyway / Cancel', () => {
    const onConfirm = vi.fn();
    const onCancel = vi.fn();
    const result = { verdict: 'matches_other', person: { id: 7, name: 'Grace' }, similarity: 0.81234, threshold: 0.4, face: 0 };
    render(
      <MemoryRouter>
        <MatchWarning result={result} personName="Ada" onConfirm={onConfirm} onCancel={onCancel} />
      </MemoryRouter>,
    );
    const w = screen.getByTestId('match-warning');
    expect(w.textContent).toMatch(/looks more like Grace \(similarity 0\.81, threshold 0\.40\) than like Ada/);
    expect(within(w).getByRole('link', { name: 'Grace' }).getAttribute('href')).toBe('/people/7');
    fireEvent.click(screen.getByRole('button', { name: 'Enroll anyway' }));
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(onConfirm).toHaveBeenCalledTimes(1);
    expect(onCancel).toHaveBeenCalledTimes(1);
  });

  it('says a mismatch is unlike the person’s own faces', () => {
    render(
      <MemoryRouter>
        <MatchWarning result={{ verdict: 'mismatch', person: { id: 5, name: 'Ada' }, similarity: 0.1, threshold: 0.4 }} personName="Ada" onConfirm={() => {}} onCancel={() => {}} />
      </MemoryRouter>,
    );
    expect(screen.getByTestId('match-warning').textContent).toMatch(/does not look like Ada’s other faces \(similarity 0\.10, below the threshold 0\.40\)/);
    expect(screen.queryByRole('link')).toBeNull();
  });

  it('on the Person page: several_faces → pick face 2 (?face=1) → mismatch → Enroll anyway (?face=1&confirm=true)', async () => {
    const posts = [];
    fakeFetch({
      'GET /api/v1/people/5': { id: 5, name: 'Ada', note: '', watchlist: false, faces: 1 },
      'GET /api/v1/people/5/faces': { items: [], next_cursor: null },
      'POST /api/v1/people/5/faces': (url) => {
        const q = new URL(url, 'http://x').searchParams;
        posts.push(q.toString());
        if (!q.has('face')) return reply(422, { error: { code: 'several_faces' }, verdict: 'several_faces', faces: 3, found });
        if (!q.has('confirm'))
          return reply(422, { error: { code: 'mismatch' }, verdict: 'mismatch', faces: 3, face: 1, person: { id: 5, name: 'Ada' }, similarity: 0.1, threshold: 0.4 });
        return reply(201, { id: 9, verdict: 'enrolled', face: 1, confirmed: true, warning: 'mismatch' });
      },
    });
    renderApp('admin', '/people/5');
    const input = await screen.findByTestId('enroll-input');
    expect(input.getAttribute('accept')).toMatch(/image\/webp/);
    await act(async () => {
      Object.defineProperty(input, 'files', { value: [new File(['x'], 'group.jpg', { type: 'image/jpeg' })], configurable: true });
      input.dispatchEvent(new Event('change', { bubbles: true }));
    });
    const picker = await screen.findByTestId('face-picker');
    loaded(within(picker).getByAltText('The group photo'), 1000, 500);
    await act(async () => screen.getByRole('button', { name: 'Face 2' }).click());
    const warning = await screen.findByTestId('match-warning');
    expect(warning.dataset.verdict).toBe('mismatch');
    expect(screen.queryByTestId('face-picker')).toBeNull();
    await act(async () => screen.getByRole('button', { name: 'Enroll anyway' }).click());
    await waitFor(() => expect(screen.getByTestId('verdict').dataset.verdict).toBe('enrolled'));
    expect(screen.getByTestId('verdict').textContent).toMatch(/confirmed despite a mismatch/);
    expect(posts).toEqual(['', 'face=1', 'face=1&confirm=true']);
  });

  it('Cancel leaves the face out', async () => {
    fakeFetch({
      'GET /api/v1/people/5': { id: 5, name: 'Ada', note: '', watchlist: false, faces: 0 },
      'GET /api/v1/people/5/faces': { items: [], next_cursor: null },
      'POST /api/v1/people/5/faces': () =>
        reply(422, { error: { code: 'matches_other' }, verdict: 'matches_other', faces: 1, face: 0, person: { id: 8, name: 'Grace' }, similarity: 0.9, threshold: 0.4 }),
    });
    renderApp('admin', '/people/5');
    const input = await screen.findByTestId('enroll-input');
    await act(async () => {
      Object.defineProperty(input, 'files', { value: [new File(['x'], 'one.jpg', { type: 'image/jpeg' })], configurable: true });
      input.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await screen.findByTestId('match-warning');
    await act(async () => screen.getByRole('button', { name: 'Cancel' }).click());
    expect(screen.queryByTestId('match-warning')).toBeNull();
    expect(screen.getByTestId('verdict').dataset.verdict).toBe('cancelled');
    expect(globalThis.fetch.mock.calls.filter((c) => c[1] && c[1].method === 'POST')).toHaveLength(1);
  });
});

describe('insights aggregation', () => {
  it('counts dominant expressions by day and visits by hour', () => {
    const evs = [event(1, null), event(2, null), { ...event(3, null), dominant_expression: 'sad', started_at: '2026-01-02T10:00:00.000Z' }];
    const rows = expressionsOverTime(evs);
    expect(rows).toHaveLength(2);
    expect(rows[0].happy).toBe(2);
    expect(rows[1].sad).toBe(1);
    const h = visitsPerHour(evs);
    expect(h.reduce((a, b) => a + b.visits, 0)).toBe(3);
  });
});

describe('alerts desk', () => {
  const alert = (id, acked_at = null) => ({ id, event_id: 10 + id, camera_id: 1, kind: 'watchlist', person: { id: 5, name: 'Ada' }, count: 1, created_at: '2026-01-01T10:00:00.000Z', last_at: '2026-01-01T10:00:00.000Z', acked_at });
  let acked;
  beforeEach(() => {
    acked = [];
    fakeFetch({
      'GET /api/v1/cameras': { items: [{ id: 1, name: 'Door', enabled: true }], next_cursor: null },
      'GET /api/v1/alerts': () => reply(200, { items: [alert(1, acked.includes(1) ? 'x' : null), alert(2, acked.includes(2) ? 'x' : null), alert(3, '2026-01-01T11:00:00.000Z')], next_cursor: null }),
      'POST /api/v1/alerts/1/ack': () => (acked.push(1), reply(200, { ...alert(1), acked_at: '2026-01-01T12:00:00.000Z' })),
      'POST /api/v1/alerts/2/ack': () => (acked.push(2), reply(200, { ...alert(2), acked_at: '2026-01-01T12:00:00.000Z' })),
    });
  });

  it('shows the camera by name, acknowledges all shown open alerts and reloads', async () => {
    renderApp('admin', '/alerts');
    await waitFor(() => expect(screen.getAllByTestId('alert-camera').map((c) => c.textContent)).toEqual(['Door', 'Door', 'Door']));
    const all = screen.getByTestId('ack-all');
    expect(all.textContent).toMatch(/\(2\)/);
    act(() => all.click());
    await waitFor(() => expect(screen.getAllByTestId('acked')).toHaveLength(3));
    expect(acked.sort()).toEqual([1, 2]);
    const posts = globalThis.fetch.mock.calls.filter((c) => c[1]?.method === 'POST').map((c) => c[0]);
    expect(posts).toEqual(['/api/v1/alerts/1/ack', '/api/v1/alerts/2/ack']);
    expect(screen.getByTestId('ack-all').disabled).toBe(true);
  });

  it('a stream alert appears in the list and as a toast naming the camera, with the face crop; sound sits in the header', async () => {
    const stream = new LiveStream({ EventSourceImpl: FakeES });
    renderApp('admin', '/alerts', stream);
    await screen.findAllByTestId('alert-row');
    act(() => {
      FakeES.last.onopen();
      FakeES.last.h.alert({ data: JSON.stringify(alert(9)) });
    });
    await waitFor(() => expect(screen.getAllByTestId('alert-row').map((r) => r.getAttribute('data-alert-id'))).toEqual(['9', '1', '2', '3']));
    const toast = screen.getByTestId('alert-toast');
    expect(toast.textContent).toMatch(/Ada at Door/);
    expect(within(toast).getByRole('img').getAttribute('src')).toBe('/api/v1/events/19/face.jpg');
    // A repeat visit updates the row in place.
    act(() => FakeES.last.h.alert({ data: JSON.stringify({ ...alert(9), count: 3 }) }));
    await waitFor(() => expect(screen.getAllByTestId('alert-count')[0].textContent).toMatch(/3 visits/));
    expect(screen.getAllByTestId('alert-row')).toHaveLength(4);
    const sound = screen.getByLabelText('Alert sound');
    expect(sound.closest('header')).toBeTruthy();
  });
});

describe('people and users admin', () => {
  it('edits a person name and note (PATCH), and asks before deleting a face', async () => {
    const calls = [];
    fakeFetch({
      'GET /api/v1/cameras': { items: [], next_cursor: null },
      'GET /api/v1/people/5': { id: 5, name: 'Ada', note: 'old', watchlist: false },
      'GET /api/v1/people/5/faces': { items: [{ id: 7, created_at: '2026-01-01T10:00:00.000Z' }], next_cursor: null },
      'PATCH /api/v1/people/5': (url, init) => (calls.push(['PATCH', JSON.parse(init.body)]), reply(200, { id: 5, watchlist: false, ...JSON.parse(init.body) })),
      'DELETE /api/v1/people/5/faces/7': () => (calls.push(['DELETE']), reply(204)),
    });
    renderApp('admin', '/people/5');
    fireEvent.click(await screen.findByRole('button', { name: 'Edit name and note' }));
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'Ada King' } });
    fireEvent.change(screen.getByLabelText('Note'), { target: { value: 'new note' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(screen.getByTestId('person-name').textContent).toBe('Ada King'));
    expect(screen.getByTestId('person-note').textContent).toBe('new note');
    expect(calls).toEqual([['PATCH', { name: 'Ada King', note: 'new note' }]]);
    fireEvent.click(await screen.findByRole('button', { name: 'Delete face 7' }));
    expect(calls).toHaveLength(1); // nothing deleted before the confirm
    fireEvent.click(screen.getByRole('button', { name: 'Keep' }));
    fireEvent.click(screen.getByRole('button', { name: 'Delete face 7' }));
    fireEvent.click(screen.getByRole('button', { name: 'Yes, delete face 7' }));
    await waitFor(() => expect(calls).toEqual([['PATCH', { name: 'Ada King', note: 'new note' }], ['DELETE']]));
  });

  it('resets a password (8 characters or more, the server error shown) and deletes a user after a confirm', async () => {
    const calls = [];
    let users = [
      { id: 1, username: 'admin-user', role: 'admin', all_cameras: true, cameras: [] },
      { id: 2, username: 'bob', role: 'recognition', all_cameras: true, cameras: [] },
    ];
    fakeFetch({
      'GET /api/v1/cameras': { items: [], next_cursor: null },
      'GET /api/v1/users': () => reply(200, { items: users, next_cursor: null }),
      'PATCH /api/v1/users/2': (url, init) => {
        const b = JSON.parse(init.body);
        calls.push(['PATCH', b]);
        return b.password === 'password1' ? reply(400, { error: { code: 'bad_request', message: 'password too common' } }) : reply(200, users[1]);
      },
      'DELETE /api/v1/users/2': () => (calls.push(['DELETE']), (users = users.slice(0, 1)), reply(204)),
    });
    renderApp('admin', '/users');
    fireEvent.click(await screen.findByRole('button', { name: 'Reset password of bob' }));
    const pw = screen.getByLabelText('New password for bob');
    fireEvent.change(pw, { target: { value: 'short' } });
    fireEvent.click(screen.getByRole('button', { name: 'Set password' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/8 characters/);
    expect(calls).toEqual([]);
    fireEvent.change(pw, { target: { value: 'password1' } });
    fireEvent.click(screen.getByRole('button', { name: 'Set password' }));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toMatch(/password too common/));
    fireEvent.change(pw, { target: { value: 'a-long-secret' } });
    fireEvent.click(screen.getByRole('button', { name: 'Set password' }));
    await waitFor(() => expect(screen.getByRole('status').textContent).toMatch(/Password of bob reset/));
    expect(calls).toEqual([['PATCH', { password: 'password1' }], ['PATCH', { password: 'a-long-secret' }]]);
    expect(screen.queryByRole('button', { name: 'Delete user admin-user' })).toBeNull(); // not oneself
    fireEvent.click(screen.getByRole('button', { name: 'Delete user bob' }));
    expect(calls).toHaveLength(2);
    fireEvent.click(screen.getByRole('button', { name: 'Yes, delete bob' }));
    await waitFor(() => expect(screen.getAllByTestId('user-row')).toHaveLength(1));
    expect(calls[2]).toEqual(['DELETE']);
  });
});

describe('events live', () => {
  it('a streamed event appears on top, and its update (ended, identity) changes the row in place', async () => {
    server();
    const stream = new LiveStream({ EventSourceImpl: FakeES });
    renderApp('admin', '/events', stream);
    await waitFor(() => expect(screen.getAllByTestId('event-row')).toHaveLength(2));
    act(() => FakeES.last.h.event({ data: JSON.stringify({ ...event(3, null), ended_at: null }) }));
    await waitFor(() => expect(screen.getAllByTestId('event-row')).toHaveLength(3));
    expect(screen.getAllByTestId('event-row')[0].textContent).toMatch(/ongoing/);
    act(() => FakeES.last.h.event({ data: JSON.stringify(event(3, { id: 6, name: 'Grace' })) }));
    await waitFor(() => expect(screen.getAllByTestId('event-row')[0].textContent).toMatch(/Grace/));
    expect(screen.getAllByTestId('event-row')).toHaveLength(3);
    expect(screen.getAllByTestId('event-row')[0].textContent).toMatch(/5 s/);
  });
});
