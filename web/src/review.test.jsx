// The Review page, corrections, face search and alert rules, with fetch stood in at the API client's boundary.
import React from 'react';
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { afterEach, describe, expect, it, vi } from 'vitest';
import App from './App.jsx';
import { LiveStream } from './sse.js';
import { fakeFetch, reply } from './test/fakeFetch.js';
import { Timeline } from './pages/FaceSearch.jsx';
import { FeedItem } from './pages/Live.jsx';

const CAMERAS = { items: [{ id: 1, name: 'Front door', enabled: true }, { id: 2, name: 'Back door', enabled: true }], next_cursor: null };
const PEOPLE = { items: [{ id: 5, name: 'Ada' }, { id: 6, name: 'Grace' }], next_cursor: null };
const unknown = (id, visits, extra = {}) => ({
  id, visits, first_seen: '2026-01-01T10:00:00.000Z', last_seen: '2026-01-02T11:00:00.000Z', camera_ids: [1, 2],
  event_ids: [id * 100 + 3, id * 100 + 2, id * 100 + 1], best_event_ids: [id * 100 + 2, id * 100 + 1], dismissed: false, ...extra,
});
const UNKNOWNS = { items: [unknown(7, 12), unknown(3, 4), unknown(9, 2)], next_cursor: 'c2' };

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

/** The fake server with these routes on top of the common ones; returns the fetch mock. */
function server(routes = {}) {
  return fakeFetch({
    'GET /api/v1/cameras': CAMERAS,
    'GET /api/v1/people': PEOPLE,
    'GET /api/v1/unknowns': UNKNOWNS,
    'GET /api/v1/events': { items: [], next_cursor: null },
    ...routes,
  });
}
const calls = (fetch, method, prefix) =>
  fetch.mock.calls.filter(([url, init = {}]) => (init.method || 'GET') === method && url.startsWith(prefix)).map(([url, init = {}]) => ({ url, body: init.body && typeof init.body === 'string' ? JSON.parse(init.body) : init.body }));
const card = (id) => screen.getAllByTestId('unknown-card').find((c) => c.getAttribute('data-unknown-id') === String(id));

afterEach(() => vi.restoreAllMocks());

describe('Review page', () => {
  it('shows the identities as cards of their best faces, with visits, cameras by name and first/last seen', async () => {
    const fetch = server();
    renderApp('admin', '/review');
    await waitFor(() => expect(screen.getAllByTestId('unknown-card')).toHaveLength(3));
    const c = card(7);
    const faces = within(c).getAllByRole('img');
    expect(faces.map((i) => i.getAttribute('src'))).toEqual(['/api/v1/events/702/face.jpg', '/api/v1/events/701/face.jpg']);
    expect(within(c).getByTestId('unknown-visits-count').textContent).toBe('12 visits');
    await waitFor(() => expect(c.textContent).toMatch(/Front door, Back door/));
    expect(c.textContent).toMatch(/first seen .*last seen/s);
    expect(screen.getAllByTestId('unknown-card').map((x) => x.getAttribute('data-unknown-id'))).toEqual(['7', '3', '9']);
    expect(calls(fetch, 'GET', '/api/v1/unknowns')[0].url).toMatch(/dismissed=false/);
    // Paging with the cursor; a dismissed filter asks the server for them.
    fetch.mockClear();
    server({ 'GET /api/v1/unknowns': (url) => reply(200, url.includes('cursor=c2') ? { items: [unknown(11, 1)], next_cursor: null } : { items: [unknown(4, 1, { dismissed: true })], next_cursor: null }) });
    fireEvent.click(screen.getByRole('button', { name: 'Load more' }));
    await waitFor(() => expect(screen.getAllByTestId('unknown-card')).toHaveLength(4));
    fireEvent.change(screen.getByTestId('unknowns-show'), { target: { value: 'dismissed' } });
    await waitFor(() => expect(screen.getAllByTestId('unknown-card')).toHaveLength(1));
    expect(within(card(4)).getByText('dismissed')).toBeTruthy();
    expect(within(card(4)).getByRole('button', { name: 'Undismiss' })).toBeTruthy();
    expect(globalThis.fetch.mock.calls.at(-1)[0]).toMatch(/dismissed=true/);
  });

  it('is in every role’s navigation; only admins get the controls that change identities', async () => {
    for (const role of ['recognition', 'analyst']) {
      server();
      const { unmount } = renderApp(role, '/review');
      expect(within(screen.getByRole('navigation', { name: 'Main' })).getByRole('link', { name: 'Review' })).toBeTruthy();
      await waitFor(() => expect(screen.getAllByTestId('unknown-card')).toHaveLength(3));
      const c = card(7);
      for (const name of [/^Name/, /^Dismiss/, /^Erase/]) expect(within(c).queryByRole('button', { name })).toBeNull();
      expect(within(c).queryByRole('checkbox')).toBeNull();
      expect(within(c).getByRole('link', { name: 'Find this face' }).getAttribute('href')).toBe('/review/search?event=702');
      // They may look at the visits, without "Remove face".
      server({ 'GET /api/v1/events': { items: [{ id: 703, camera_id: 1, person: null, started_at: '2026-01-02T11:00:00.000Z', unknown_id: 7 }], next_cursor: null } });
      fireEvent.click(within(c).getByRole('button', { name: 'Visits' }));
      await within(c).findByTestId('unknown-visit');
      expect(within(c).queryByRole('button', { name: /Remove/ })).toBeNull();
      unmount();
    }
    server();
    renderApp('admin', '/review');
    await waitFor(() => expect(screen.getAllByTestId('unknown-card')).toHaveLength(3));
    const c = card(7);
    for (const name of ['Name…', 'Dismiss', 'Erase…']) expect(within(c).getByRole('button', { name })).toBeTruthy();
    expect(within(c).getByRole('checkbox', { name: 'Select Unknown #7 to merge' })).toBeTruthy();
  });

  it('naming: the server’s matches_other verdict is a warning; "Name anyway" resends with confirm: true', async () => {
    const assigns = [];
    const fetch = server({
      'POST /api/v1/unknowns/7/assign': (url, init) => {
        const body = JSON.parse(init.body);
        assigns.push(body);
        if (!body.confirm) return reply(409, { error: 'the faces look like someone else', verdict: 'matches_other', person: { id: 6, name: 'Grace' }, similarity: 0.95 });
        return reply(200, { person_id: 5, enrolled_face_ids: [31, 32], events: 12 });
      },
    });
    renderApp('admin', '/review');
    await waitFor(() => expect(screen.getAllByTestId('unknown-card')).toHaveLength(3));
    fireEvent.click(within(card(7)).getByRole('button', { name: 'Name…' }));
    const picker = await within(card(7)).findByTestId('person-picker');
    fireEvent.click(await within(picker).findByRole('button', { name: 'Ada' }));
    const warning = await within(card(7)).findByTestId('match-warning');
    expect(warning.getAttribute('data-verdict')).toBe('matches_other');
    expect(warning.textContent).toMatch(/These faces look more like Grace \(similarity 0\.95\) than like Ada/);
    expect(within(warning).getByRole('link', { name: 'Grace' }).getAttribute('href')).toBe('/people/6');
    expect(assigns).toEqual([{ person_id: 5, confirm: false }]);
    fireEvent.click(within(warning).getByRole('button', { name: 'Name anyway' }));
    await waitFor(() => expect(screen.getAllByTestId('unknown-card')).toHaveLength(2));
    expect(assigns).toEqual([{ person_id: 5, confirm: false }, { person_id: 5, confirm: true }]);
    const notice = screen.getByTestId('review-notice');
    expect(notice.textContent).toMatch(/Unknown #7 is now Ada: 12 visits named, 2 faces enrolled/);
    expect(within(notice).getByRole('link', { name: 'Ada' }).getAttribute('href')).toBe('/people/5');
    expect(calls(fetch, 'POST', '/api/v1/people')).toEqual([]);
  });

  it('naming as a new person creates them, then assigns; cancelling a mismatch warning takes the new person away again', async () => {
    const fetch = server({
      'POST /api/v1/people': (url, init) => reply(201, { id: 40, name: JSON.parse(init.body).name }),
      'DELETE /api/v1/people/40': () => reply(204),
      'POST /api/v1/unknowns/3/assign': () => reply(409, { error: { code: 'conflict', message: 'mismatch' }, verdict: 'mismatch', similarity: 0.2, threshold: 0.6 }),
    });
    renderApp('admin', '/review');
    await waitFor(() => expect(screen.getAllByTestId('unknown-card')).toHaveLength(3));
    fireEvent.click(within(card(3)).getByRole('button', { name: 'Name…' }));
    fireEvent.change(within(card(3)).getByLabelText('Search people by name'), { target: { value: 'Katherine Johnson' } });
    fireEvent.click(await within(card(3)).findByTestId('create-person'));
    const warning = await within(card(3)).findByTestId('match-warning');
    expect(calls(fetch, 'POST', '/api/v1/people')[0].body).toEqual({ name: 'Katherine Johnson' });
    expect(calls(fetch, 'POST', '/api/v1/unknowns/3/assign')[0].body).toEqual({ person_id: 40, confirm: false });
    expect(warning.textContent).toMatch(/These faces do not look like Katherine Johnson’s other faces \(similarity 0\.20, below the threshold 0\.60\)/);
    fireEvent.click(within(warning).getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(calls(fetch, 'DELETE', '/api/v1/people/40')).toHaveLength(1));
    expect(screen.getAllByTestId('unknown-card')).toHaveLength(3);
  });

  it('merge: two or more selected merge into the one with the most visits', async () => {
    const fetch = server({
      'POST /api/v1/unknowns/7/merge': (url, init) => reply(200, unknown(7, 12 + (JSON.parse(init.body).from === 3 ? 4 : 6))),
    });
    renderApp('admin', '/review');
    await waitFor(() => expect(screen.getAllByTestId('unknown-card')).toHaveLength(3));
    fireEvent.click(within(card(3)).getByRole('checkbox'));
    const bar = screen.getByTestId('merge-bar');
    expect(bar.textContent).toMatch(/1 identity selected/);
    expect(within(bar).getByRole('button', { name: 'Merge selected' }).disabled).toBe(true);
    fireEvent.click(within(card(7)).getByRole('checkbox'));
    fireEvent.click(within(card(9)).getByRole('checkbox'));
    expect(bar.textContent).toMatch(/3 identities selected/);
    fireEvent.click(within(bar).getByRole('button', { name: 'Merge selected' }));
    expect(within(bar).getByRole('alertdialog').textContent).toMatch(/Merge #3, #9 into unknown #7/);
    fireEvent.click(within(bar).getByRole('button', { name: 'Yes, merge into #7' }));
    await waitFor(() => expect(screen.getAllByTestId('unknown-card')).toHaveLength(1));
    expect(calls(fetch, 'POST', '/api/v1/unknowns/').map((c) => [c.url, c.body])).toEqual([
      ['/api/v1/unknowns/7/merge', { from: 3 }],
      ['/api/v1/unknowns/7/merge', { from: 9 }],
    ]);
    expect(within(card(7)).getByTestId('unknown-visits-count').textContent).toBe('18 visits');
    expect(screen.queryByTestId('merge-bar')).toBeNull();
  });

  it('dismiss, erase (confirmed, saying the visits and pictures go) and removing a face from an identity', async () => {
    const fetch = server({
      'POST /api/v1/unknowns/9/dismiss': (url, init) => reply(200, unknown(9, 2, { dismissed: JSON.parse(init.body).dismissed })),
      'DELETE /api/v1/unknowns/3': () => reply(204),
      'DELETE /api/v1/unknowns/7/events/702': () => reply(204),
      'GET /api/v1/events': (url) =>
        reply(200, url.includes('unknown_id=7') ? { items: [702, 701].map((id) => ({ id, camera_id: 2, person: null, started_at: '2026-01-02T11:00:00.000Z', unknown_id: 7 })), next_cursor: null } : { items: [], next_cursor: null }),
    });
    renderApp('admin', '/review');
    await waitFor(() => expect(screen.getAllByTestId('unknown-card')).toHaveLength(3));
    fireEvent.click(within(card(9)).getByRole('button', { name: 'Dismiss' }));
    await waitFor(() => expect(screen.getAllByTestId('unknown-card')).toHaveLength(2));
    expect(calls(fetch, 'POST', '/api/v1/unknowns/9/dismiss')[0].body).toEqual({ dismissed: true });
    expect(screen.getByTestId('review-notice').textContent).toMatch(/Unknown #9 dismissed/);

    fireEvent.click(within(card(3)).getByRole('button', { name: 'Erase…' }));
    const confirm = within(card(3)).getByRole('alertdialog');
    expect(confirm.textContent).toMatch(/4 visits: the events and their pictures \(snapshots and face crops\) are deleted/);
    expect(calls(fetch, 'DELETE', '/api/v1/unknowns/3')).toHaveLength(0);
    fireEvent.click(within(confirm).getByRole('button', { name: 'Erase Unknown #3 and its visits' }));
    await waitFor(() => expect(screen.getAllByTestId('unknown-card')).toHaveLength(1));

    fireEvent.click(within(card(7)).getByRole('button', { name: 'Visits' }));
    await waitFor(() => expect(within(card(7)).getAllByTestId('unknown-visit')).toHaveLength(2));
    fireEvent.click(within(card(7)).getByRole('button', { name: 'Remove the face of event 702 from unknown #7' }));
    fireEvent.click(within(card(7)).getByRole('button', { name: 'Yes, not this person' }));
    await waitFor(() => expect(within(card(7)).getAllByTestId('unknown-visit')).toHaveLength(1));
    expect(calls(fetch, 'DELETE', '/api/v1/unknowns/7/events/702')).toHaveLength(1);
    expect(within(card(7)).getByTestId('unknown-visits-count').textContent).toBe('11 visits');
    expect(within(card(7)).getAllByRole('img', { name: /Face of Unknown #7/ }).map((i) => i.getAttribute('src'))).toEqual(['/api/v1/events/701/face.jpg']);
  });

  it('new visits update their card in place (no reordering); identities not shown are offered as a refresh', async () => {
    server();
    const stream = new LiveStream({ EventSourceImpl: FakeES });
    renderApp('admin', '/review', stream);
    await waitFor(() => expect(screen.getAllByTestId('unknown-card')).toHaveLength(3));
    const send = (ev) => act(() => FakeES.last.h.event({ data: JSON.stringify(ev) }));
    act(() => FakeES.last.onopen());
    for (let i = 0; i < 11; i++) send({ id: 5000 + i, camera_id: 1, person: null, unknown_id: 9, started_at: `2026-01-05T10:00:${String(10 + i)}.000Z`, ended_at: null });
    send({ id: 5000, camera_id: 1, person: null, unknown_id: 9, started_at: '2026-01-05T10:00:10.000Z', ended_at: '2026-01-05T10:00:20.000Z' });
    expect(within(card(9)).getByTestId('unknown-visits-count').textContent).toBe('13 visits'); // more than #7 now, still last
    expect(screen.getAllByTestId('unknown-card').map((x) => x.getAttribute('data-unknown-id'))).toEqual(['7', '3', '9']);
    expect(screen.queryByTestId('unknowns-fresh')).toBeNull();
    send({ id: 6000, camera_id: 2, person: null, unknown_id: 55, started_at: '2026-01-05T10:01:00.000Z' });
    send({ id: 6001, camera_id: 2, person: null, unknown_id: 55, started_at: '2026-01-05T10:01:30.000Z' });
    expect(screen.getByTestId('unknowns-fresh').textContent).toMatch(/1 more identity/);
    expect(screen.getAllByTestId('unknown-card')).toHaveLength(3);
  });
});

describe('corrections from an event', () => {
  const EVENTS = { items: [{ id: 21, camera_id: 1, track_id: 1, person: { id: 5, name: 'Ada' }, similarity: 0.8, started_at: '2026-01-01T10:00:00.000Z', ended_at: null, unknown_id: null }, { id: 22, camera_id: 1, track_id: 2, person: null, similarity: 0, started_at: '2026-01-01T10:01:00.000Z', ended_at: null, unknown_id: 7 }], next_cursor: null };
  const row = (id) => screen.getAllByTestId('event-row').find((r) => r.getAttribute('data-event-id') === String(id));

  it('"Not Ada" makes the event unknown, with an Undo that gives the name back', async () => {
    const fetch = server({
      'GET /api/v1/events': EVENTS,
      'POST /api/v1/events/21/corrections': (url, init) => reply(201, { id: 90, event_id: 21, ...JSON.parse(init.body), face_id: null, created_at: '2026-01-01T10:05:00.000Z', user: 'admin', undone: false }),
      'DELETE /api/v1/corrections/90': () => reply(204),
    });
    renderApp('admin', '/events');
    await waitFor(() => expect(screen.getAllByTestId('event-row')).toHaveLength(2));
    expect(within(row(22)).queryByRole('button', { name: /^Not / })).toBeNull(); // an unknown event has nobody to deny
    fireEvent.click(within(row(21)).getByRole('button', { name: 'Not Ada' }));
    await within(row(21)).findByTestId('correction-done');
    expect(calls(fetch, 'POST', '/api/v1/events/21/corrections')[0].body).toEqual({ person_id: 5, verdict: 'not' });
    expect(within(row(21)).getByTestId('correction-done').textContent).toMatch(/Marked as not Ada/);
    expect(within(row(21)).queryByRole('link', { name: 'Ada' })).toBeNull();
    expect(within(row(21)).getByText('unknown')).toBeTruthy();
    fireEvent.click(within(row(21)).getByRole('button', { name: 'Undo' }));
    await waitFor(() => expect(within(row(21)).getByRole('link', { name: 'Ada' })).toBeTruthy());
    expect(calls(fetch, 'DELETE', '/api/v1/corrections/90')).toHaveLength(1);
  });

  it('"This is…" picks a person and names the event', async () => {
    const fetch = server({
      'GET /api/v1/events': EVENTS,
      'POST /api/v1/events/22/corrections': (url, init) => reply(201, { id: 91, event_id: 22, ...JSON.parse(init.body), face_id: 77, created_at: '2026-01-01T10:05:00.000Z', user: 'admin', undone: false }),
    });
    renderApp('admin', '/events');
    await waitFor(() => expect(screen.getAllByTestId('event-row')).toHaveLength(2));
    fireEvent.click(within(row(22)).getByRole('button', { name: 'This is…' }));
    fireEvent.click(await within(row(22)).findByRole('button', { name: 'Grace' }));
    await within(row(22)).findByTestId('correction-done');
    expect(calls(fetch, 'POST', '/api/v1/events/22/corrections')[0].body).toEqual({ person_id: 6, verdict: 'is' });
    expect(within(row(22)).getByRole('link', { name: 'Grace' }).getAttribute('href')).toBe('/people/6');
  });

  it('a recognition user may search from an event but not correct it', async () => {
    server({ 'GET /api/v1/events': EVENTS });
    renderApp('recognition', '/events');
    await waitFor(() => expect(screen.getAllByTestId('event-row')).toHaveLength(2));
    expect(within(row(21)).getByRole('link', { name: 'Find this face' }).getAttribute('href')).toBe('/review/search?event=21');
    expect(screen.queryByRole('button', { name: /This is|^Not / })).toBeNull();
  });

  it('the person page lists the corrections about them, with Undo', async () => {
    const fetch = server({
      'GET /api/v1/people/5': { id: 5, name: 'Ada', note: '', watchlist: false },
      'GET /api/v1/people/5/faces': { items: [], next_cursor: null },
      'GET /api/v1/corrections': {
        items: [
          { id: 91, event_id: 22, person_id: 5, verdict: 'is', face_id: 77, created_at: '2026-01-01T10:05:00.000Z', user: 'admin', undone: false },
          { id: 90, event_id: 21, person_id: 5, verdict: 'not', face_id: null, created_at: '2026-01-01T10:04:00.000Z', user: 'boss', undone: true },
        ],
        next_cursor: null,
      },
      'DELETE /api/v1/corrections/91': () => reply(204),
    });
    renderApp('admin', '/people/5');
    await waitFor(() => expect(screen.getAllByTestId('correction-row')).toHaveLength(2));
    expect(calls(fetch, 'GET', '/api/v1/corrections')[0].url).toMatch(/person_id=5/);
    const [a, b] = screen.getAllByTestId('correction-row');
    expect(a.textContent).toMatch(/admin.*This is Ada.*event 22/);
    expect(b.textContent).toMatch(/boss.*Not Ada.*event 21.*undone/);
    fireEvent.click(within(a).getByRole('button', { name: 'Undo' }));
    await within(a).findByTestId('correction-undone');
    expect(calls(fetch, 'DELETE', '/api/v1/corrections/91')).toHaveLength(1);
  });
});

describe('the Live page’s Seen feed', () => {
  it('a visit’s face crop opens its snapshot with "Find this face"', () => {
    server();
    const visit = { id: 41, camera_id: 1, track_id: 7, person: null, similarity: 0, started_at: '2026-01-01T10:00:00.000Z', ended_at: null, unknown_id: 7 };
    render(
      <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        <ul>
          <FeedItem item={visit} role="recognition" cameraName={() => 'Front door'} />
        </ul>
      </MemoryRouter>,
    );
    fireEvent.click(screen.getByRole('button', { name: 'Open the snapshot of event 41' }));
    const dialog = screen.getByTestId('snapshot-dialog');
    expect(within(dialog).getByRole('link', { name: 'Find this face' }).getAttribute('href')).toBe('/review/search?event=41');
    expect(within(dialog).queryByRole('button', { name: 'This is…' })).toBeNull();
  });
});

describe('face search', () => {
  const at = (m) => `2026-01-01T10:${String(m).padStart(2, '0')}:00.000Z`;
  const RESULTS = {
    items: [
      { event_id: 31, camera_id: 2, started_at: at(30), similarity: 0.97, person: { id: 5, name: 'Ada' } },
      { event_id: 32, camera_id: 1, started_at: at(0), similarity: 0.91, person: null },
      { event_id: 33, camera_id: 2, started_at: at(10), similarity: 0.88, person: null },
    ],
  };

  it('groups the results on a timeline, one row per camera; hover shows the face, a click opens the snapshot', () => {
    const onOpen = vi.fn();
    render(<Timeline items={RESULTS.items} cameraName={(id) => ({ 1: 'Front door', 2: 'Back door' })[id]} onOpen={onOpen} />);
    const rows = screen.getAllByTestId('timeline-row');
    expect(rows.map((r) => r.getAttribute('data-camera-id'))).toEqual(['2', '1']); // Back door, Front door
    expect(within(rows[0]).getAllByTestId('timeline-mark').map((m) => [m.getAttribute('data-event-id'), m.style.left])).toEqual([['31', '100%'], ['33', '33.33333333333333%']]);
    expect(within(rows[1]).getAllByTestId('timeline-mark').map((m) => m.style.left)).toEqual(['0%']);
    fireEvent.mouseEnter(within(rows[0]).getAllByTestId('timeline-mark')[0]);
    const pop = screen.getByTestId('timeline-pop');
    expect(within(pop).getByRole('img').getAttribute('src')).toBe('/api/v1/events/31/face.jpg');
    expect(pop.textContent).toMatch(/similarity 97%.*Ada/);
    fireEvent.click(within(rows[1]).getByTestId('timeline-mark'));
    expect(onOpen).toHaveBeenCalledWith(32);
  });

  it('searches from an event (?event=), lists the results best first with names, for a recognition user too', async () => {
    const fetch = server({ 'POST /api/v1/search/faces': RESULTS });
    renderApp('recognition', '/review/search?event=21');
    await waitFor(() => expect(screen.getAllByTestId('search-result')).toHaveLength(3));
    const url = calls(fetch, 'POST', '/api/v1/search/faces')[0].url;
    expect(url).toMatch(/event=21/);
    expect(url).toMatch(/limit=50/);
    expect(screen.getAllByTestId('search-result').map((r) => r.getAttribute('data-event-id'))).toEqual(['31', '32', '33']);
    expect(screen.getByRole('link', { name: 'Ada' })).toBeTruthy();
    expect(screen.getAllByTestId('timeline-row')).toHaveLength(2);
    fireEvent.click(screen.getAllByTestId('timeline-mark')[0]);
    expect(await screen.findByTestId('snapshot-dialog')).toBeTruthy();
  });

  it('searches with an uploaded photo (the picture as the body) and says when it has no face', async () => {
    const fetch = server({ 'POST /api/v1/search/faces': () => reply(422, { error: { code: 'no_face', message: 'no face' } }) });
    renderApp('admin', '/review/search');
    const file = new File([new Uint8Array([0xff, 0xd8, 0xff])], 'wall.jpg', { type: 'image/jpeg' });
    fireEvent.change(screen.getByTestId('search-photo'), { target: { files: [file] } });
    expect((await screen.findByRole('alert')).textContent).toMatch(/No face was found/);
    const [, init] = fetch.mock.calls.find(([u]) => u.startsWith('/api/v1/search/faces'));
    expect(init.body).toBe(file);
    expect(init.headers['Content-Type']).toBe('image/jpeg');
  });
});

describe('alert rules for unknown faces (Alerts page)', () => {
  it('lists the rules; the form checks HH:MM, visits and days before sending, then posts the rule', async () => {
    const posted = [];
    server({
      'GET /api/v1/alerts': { items: [{ id: 1, event_id: 5, camera_id: 2, person: null, kind: 'repeat_unknown', rule_id: 4, created_at: '2026-01-01T10:00:00.000Z', count: 1 }], next_cursor: null },
      'GET /api/v1/alert-rules': { items: [{ id: 4, name: 'Repeat visitor', camera_id: null, kind: 'repeat_unknown', from: null, to: null, min_visits: 3, days: 7, enabled: true }], next_cursor: null },
      'POST /api/v1/alert-rules': (url, init) => (posted.push(JSON.parse(init.body)), reply(201, { id: 5, ...JSON.parse(init.body) })),
    });
    renderApp('admin', '/alerts');
    const row = await screen.findByTestId('rule-row');
    expect(row.textContent).toMatch(/Repeat visitor.*All cameras.*≥ 3 visits in 7 days.*all day/);
    await waitFor(() => expect(screen.getByTestId('alert-kind').textContent).toBe('repeat unknown face (rule Repeat visitor)'));
    fireEvent.click(screen.getByRole('button', { name: 'Add a rule' }));
    const form = screen.getByRole('form', { name: 'New rule' });
    const set = (label, value) => fireEvent.change(within(form).getByLabelText(label), { target: { value } });
    set('Name', 'Back door at night');
    set('From (HH:MM)', '22:00');
    set('To (HH:MM)', '6:00');
    set('Alert on', 'repeat_unknown');
    set('At least this many visits (1–1000)', '0');
    set('Within days (1–365)', '400');
    fireEvent.click(within(form).getByRole('button', { name: 'Add rule' }));
    expect(within(form).getByTestId('rule-error-to').textContent).toMatch(/HH:MM/);
    expect(within(form).getByTestId('rule-error-min_visits')).toBeTruthy();
    expect(within(form).getByTestId('rule-error-days')).toBeTruthy();
    expect(within(form).getByLabelText('To (HH:MM)').getAttribute('aria-invalid')).toBe('true');
    expect(posted).toEqual([]);
    set('To (HH:MM)', '06:00');
    set('At least this many visits (1–1000)', '2');
    set('Within days (1–365)', '30');
    await waitFor(() => expect(within(form).getByLabelText('Camera').querySelectorAll('option')).toHaveLength(3));
    set('Camera', '2');
    fireEvent.click(within(form).getByRole('button', { name: 'Add rule' }));
    await waitFor(() => expect(posted).toHaveLength(1));
    expect(posted[0]).toEqual({ name: 'Back door at night', camera_id: 2, kind: 'repeat_unknown', from: '22:00', to: '06:00', min_visits: 2, days: 30, enabled: true });
  });

  it('edits, disables and deletes (confirmed in the page) a rule', async () => {
    const fetch = server({
      'GET /api/v1/alerts': { items: [], next_cursor: null },
      'GET /api/v1/alert-rules': { items: [{ id: 4, name: 'Night', camera_id: 1, kind: 'unknown', from: '22:00', to: '06:00', enabled: true }], next_cursor: null },
      'PATCH /api/v1/alert-rules/4': (url, init) => reply(200, { id: 4, ...JSON.parse(init.body) }),
      'DELETE /api/v1/alert-rules/4': () => reply(204),
    });
    renderApp('admin', '/alerts');
    const row = await screen.findByTestId('rule-row');
    expect(row.textContent).toMatch(/22:00–06:00 \(overnight\)/);
    fireEvent.click(within(row).getByRole('checkbox', { name: 'Rule Night enabled' }));
    await waitFor(() => expect(calls(fetch, 'PATCH', '/api/v1/alert-rules/4')).toHaveLength(1));
    expect(calls(fetch, 'PATCH', '/api/v1/alert-rules/4')[0].body).toEqual({ enabled: false });
    fireEvent.click(within(screen.getByTestId('rule-row')).getByRole('button', { name: 'Edit' }));
    const form = screen.getByRole('form', { name: 'Edit rule Night' });
    fireEvent.change(within(form).getByLabelText('From (HH:MM)'), { target: { value: '21:30' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Save rule' }));
    await waitFor(() => expect(calls(fetch, 'PATCH', '/api/v1/alert-rules/4')).toHaveLength(2));
    expect(calls(fetch, 'PATCH', '/api/v1/alert-rules/4')[1].body).toEqual({ name: 'Night', camera_id: 1, kind: 'unknown', from: '21:30', to: '06:00', enabled: true });
    fireEvent.click(within(await screen.findByTestId('rule-row')).getByRole('button', { name: 'Delete' }));
    expect(calls(fetch, 'DELETE', '/api/v1/alert-rules/4')).toHaveLength(0);
    fireEvent.click(screen.getByRole('button', { name: 'Yes, delete Night' }));
    await waitFor(() => expect(calls(fetch, 'DELETE', '/api/v1/alert-rules/4')).toHaveLength(1));
  });
});
