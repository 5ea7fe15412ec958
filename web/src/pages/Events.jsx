import React, { useCallback, useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { api, EXPRESSIONS, fetchAll, fmtTime, localToIso } from '../api.js';
import { useAuth } from '../auth.jsx';
import { canSeeExpressions } from '../roles.js';
import { useLive } from '../live.jsx';
import { download, eventsCsv } from '../csv.js';
import { SnapshotDialog } from '../Snapshot.jsx';
import { EventActions } from '../Corrections.jsx';

const PAGE = 50;
const EMPTY = { camera: '', person: '', known: '', expression: '', from: '', to: '' };

/** The GET /events query of the filter form; the expression filter only for roles that may use it. */
export function eventsQuery(f, role) {
  const q = { camera: f.camera, person: f.person, from: localToIso(f.from), to: localToIso(f.to) };
  if (f.known === 'unknown') q.unknown = 'true';
  if (f.known === 'known') q.unknown = 'false';
  if (canSeeExpressions(role) && f.expression) q.expression = f.expression;
  return q;
}

/** Whether a streamed event belongs in the list under the applied filter (a time range's end leaves new ones out). */
export function eventMatches(e, f) {
  if (f.to) return false;
  if (f.camera && String(e.camera_id) !== String(f.camera)) return false;
  if (f.person && String(e.person?.id) !== String(f.person)) return false;
  if (f.known === 'known' && !e.person) return false;
  if (f.known === 'unknown' && e.person) return false;
  if (f.expression && e.dominant_expression !== f.expression) return false;
  return true;
}

/** One event; onChange(event) when a correction on it (or its undo) changed who it shows. */
export function EventRow({ e, role, cameraName, onChange }) {
  const [noFace, setNoFace] = useState(false);
  const [open, setOpen] = useState(false);
  return (
    <tr data-testid="event-row" data-event-id={e.id}>
      <td>
        <button type="button" className="thumb-button" onClick={() => setOpen(true)} aria-label={`Open the snapshot of event ${e.id}`}>
          {noFace ? (
            <span className="muted">snapshot</span>
          ) : (
            <img className="thumb" src={api.faceUrl(e.id)} alt={`Face of event ${e.id}`} loading="lazy" onError={() => setNoFace(true)} />
          )}
        </button>
        {open && (
          <SnapshotDialog
            event={e}
            cameraName={cameraName}
            onClose={() => setOpen(false)}
            actions={(ev, update) => (
              <EventActions
                e={ev}
                compact
                onChange={(n) => {
                  update(n);
                  onChange?.(n);
                }}
              />
            )}
          />
        )}
      </td>
      <td>{fmtTime(e.started_at)}</td>
      <td>{cameraName(e.camera_id)}</td>
      <td>{e.person ? <Link to={`/people/${e.person.id}`}>{e.person.name}</Link> : <span className="unknown">unknown</span>}</td>
      {/* A visit named by a person (an unknown identity named, "This is…") has no similarity: 0, shown as "named". */}
      <td>{e.person && e.similarity > 0 ? `${Math.round(e.similarity * 100)}%` : e.person ? <span className="muted">named</span> : ''}</td>
      <td>{e.ended_at ? `${Math.max(0, Math.round((new Date(e.ended_at) - new Date(e.started_at)) / 1000))} s` : 'ongoing'}</td>
      {canSeeExpressions(role) && <td>{e.dominant_expression || ''}</td>}
      <td>{e.alert ? 'alert' : ''}</td>
      <td>
        <EventActions e={e} onChange={onChange} />
      </td>
    </tr>
  );
}

export default function Events() {
  const { user } = useAuth();
  const role = user.role;
  const [params] = useSearchParams();
  const initial = { ...EMPTY, camera: params.get('camera') || '', person: params.get('person') || '' };
  const [form, setForm] = useState(initial);
  const [applied, setApplied] = useState(initial);
  const [items, setItems] = useState([]);
  const [cursor, setCursor] = useState(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState('');
  const [cameras, setCameras] = useState([]);
  const [people, setPeople] = useState([]);
  const [exporting, setExporting] = useState(false);

  useEffect(() => {
    api.cameras({ limit: 1000 }).then((r) => setCameras(r.items), () => {});
    api.people({ limit: 1000 }).then((r) => setPeople(r.items), () => {});
  }, []);

  const load = useCallback(
    async (filters, after) => {
      setLoading(true);
      setError('');
      try {
        const r = await api.events({ ...eventsQuery(filters, role), limit: PAGE, cursor: after || undefined });
        setItems((old) => (after ? [...old, ...r.items] : r.items));
        setCursor(r.next_cursor);
      } catch (e) {
        setError(e.message);
      } finally {
        setLoading(false);
      }
    },
    [role],
  );

  useEffect(() => {
    load(applied, null);
  }, [applied, load]);

  // `event` messages: a shown event is updated in place (identity settled, ended); a new one that matches goes on top.
  const live = useLive();
  useEffect(
    () =>
      live.subscribe((type, e) => {
        if (type !== 'event') return;
        setItems((list) => {
          if (list.some((x) => x.id === e.id)) return list.map((x) => (x.id === e.id ? { ...x, ...e } : x));
          return eventMatches(e, applied) ? [e, ...list] : list;
        });
      }),
    [applied], // eslint-disable-line react-hooks/exhaustive-deps
  );

  const names = Object.fromEntries(cameras.map((c) => [c.id, c.name]));
  const cameraName = (id) => names[id] ?? `camera ${id}`;
  const set = (k) => (e) => setForm((f) => ({ ...f, [k]: e.target.value }));

  const exportCsv = async () => {
    setExporting(true);
    try {
      const { items: all } = await fetchAll(api.events, eventsQuery(applied, role), 10000);
      download('mien-events.csv', eventsCsv(all, { withExpressions: canSeeExpressions(role), cameraName }));
    } catch (e) {
      setError(e.message);
    } finally {
      setExporting(false);
    }
  };

  return (
    <section>
      <h1>Events</h1>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(form);
        }}
      >
        <label>
          Camera
          <select value={form.camera} onChange={set('camera')}>
            <option value="">All cameras</option>
            {cameras.map((c) => (
              <option key={c.id} value={c.id}>{c.name}</option>
            ))}
          </select>
        </label>
        <label>
          Person
          <select value={form.person} onChange={set('person')}>
            <option value="">Anyone</option>
            {people.map((p) => (
              <option key={p.id} value={p.id}>{p.name}</option>
            ))}
          </select>
        </label>
        <label>
          Known or unknown
          <select value={form.known} onChange={set('known')}>
            <option value="">Both</option>
            <option value="known">Known only</option>
            <option value="unknown">Unknown only</option>
          </select>
        </label>
        {canSeeExpressions(role) && (
          <label>
            Expression
            <select value={form.expression} onChange={set('expression')} data-testid="expression-filter">
              <option value="">Any</option>
              {EXPRESSIONS.map((x) => (
                <option key={x} value={x}>{x}</option>
              ))}
            </select>
          </label>
        )}
        <label>
          From
          <input type="datetime-local" value={form.from} onChange={set('from')} />
        </label>
        <label>
          To
          <input type="datetime-local" value={form.to} onChange={set('to')} />
        </label>
        <div className="actions">
          <button type="submit">Apply filters</button>
          <button type="button" onClick={() => { setForm(EMPTY); setApplied(EMPTY); }}>Reset</button>
          <button type="button" onClick={exportCsv} disabled={exporting}>{exporting ? 'Exporting…' : 'Export CSV'}</button>
        </div>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      <div className="tablewrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Snapshot</th>
              <th scope="col">Time</th>
              <th scope="col">Camera</th>
              <th scope="col">Person</th>
              <th scope="col">Similarity</th>
              <th scope="col">Duration</th>
              {canSeeExpressions(role) && <th scope="col">Expression</th>}
              <th scope="col">Alert</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {items.map((e) => (
              <EventRow key={e.id} e={e} role={role} cameraName={cameraName} onChange={(n) => setItems((list) => list.map((x) => (x.id === n.id ? n : x)))} />
            ))}
          </tbody>
        </table>
      </div>
      {!loading && items.length === 0 && <p className="muted">No events match.</p>}
      {cursor && (
        <button type="button" onClick={() => load(applied, cursor)} disabled={loading}>
          {loading ? 'Loading…' : 'Load more'}
        </button>
      )}
    </section>
  );
}
