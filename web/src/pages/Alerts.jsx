import React, { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { api, fmtTime } from '../api.js';
import { cameraLabel, useCameraNames } from '../cameras.js';
import { useLive } from '../live.jsx';
import { SnapshotDialog } from '../Snapshot.jsx';
import { EventActions } from '../Corrections.jsx';
import { AlertRules } from './AlertRules.jsx';

/** An alert's kind in words; a rule's alerts name their rule. */
export function alertKind(a, rules) {
  const what = { watchlist: 'watchlist', unknown: 'unknown face', repeat_unknown: 'repeat unknown face' }[a.kind] || a.kind;
  const rule = a.rule_id != null ? rules.find((r) => r.id === a.rule_id) : null;
  return rule ? `${what} (rule ${rule.name})` : what;
}

export default function Alerts() {
  const [items, setItems] = useState([]);
  const [cursor, setCursor] = useState(null);
  const [openOnly, setOpenOnly] = useState(false);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [shown, setShown] = useState(null); // the event id whose snapshot is open
  const names = useCameraNames();
  const [rules, setRules] = useState([]);
  const live = useLive();
  const load = async (after) => {
    try {
      const r = await api.alerts({ open: openOnly ? 'true' : undefined, limit: 50, cursor: after || undefined });
      setItems((old) => (after ? [...old, ...r.items] : r.items));
      setCursor(r.next_cursor);
    } catch (e) {
      setError(e.message);
    }
  };
  useEffect(() => {
    load(null);
  }, [openOnly]); // eslint-disable-line react-hooks/exhaustive-deps
  // A new alert goes on top, a repeat visit (same id, higher count) or an ack elsewhere updates its row in place.
  useEffect(
    () =>
      live.subscribe((type, a) => {
        if (type !== 'alert') return;
        setItems((list) => {
          const i = list.findIndex((x) => x.id === a.id);
          if (i >= 0) return list.map((x) => (x.id === a.id ? { ...x, ...a } : x));
          if (openOnly && a.acked_at) return list;
          return [a, ...list];
        });
      }),
    [openOnly], // eslint-disable-line react-hooks/exhaustive-deps
  );
  const open = items.filter((a) => !a.acked_at);
  // Acknowledge every unacknowledged alert in the list shown, one request each, then reload the list.
  const ackAll = async () => {
    setBusy(true);
    setError('');
    const failed = [];
    for (const a of open) {
      try {
        await api.ack(a.id);
      } catch (e) {
        if (e.status !== 409) failed.push(`${a.id}: ${e.message}`);
      }
    }
    setBusy(false);
    if (failed.length) setError(`Could not acknowledge ${failed.join('; ')}`);
    load(null);
  };
  const ack = async (a) => {
    try {
      const r = await api.ack(a.id);
      setItems((list) => list.map((x) => (x.id === a.id ? { ...x, ...(r || {}), acked_at: r?.acked_at || new Date().toISOString() } : x)));
    } catch (e) {
      setError(e.status === 409 ? 'Already acknowledged.' : e.message);
      load(null);
    }
  };
  return (
    <section>
      <h1>Alerts</h1>
      <label className="check">
        <input type="checkbox" checked={openOnly} onChange={(e) => setOpenOnly(e.target.checked)} /> Unacknowledged only
      </label>{' '}
      <button type="button" data-testid="ack-all" disabled={busy || open.length === 0} onClick={ackAll}>
        Acknowledge all ({open.length})
      </button>
      {error && <p className="error" role="alert">{error}</p>}
      <div className="tablewrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Face</th>
              <th scope="col">Time</th>
              <th scope="col">Visits</th>
              <th scope="col">Kind</th>
              <th scope="col">Person</th>
              <th scope="col">Camera</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {items.map((a) => (
              <tr key={a.id} data-testid="alert-row" data-alert-id={a.id}>
                <td>
                  {a.event_id && (
                    <button type="button" className="thumb-button" onClick={() => setShown(a.event_id)} aria-label={`Open the snapshot of alert ${a.id}`}>
                      <img className="thumb" src={api.faceUrl(a.event_id)} alt={`Face of alert ${a.id}`} loading="lazy" />
                    </button>
                  )}
                </td>
                <td>{fmtTime(a.created_at)}</td>
                <td data-testid="alert-count">{a.count > 1 ? `${a.count} visits, last ${fmtTime(a.last_at)}` : '1 visit'}</td>
                <td data-testid="alert-kind">{alertKind(a, rules)}</td>
                <td>{a.person ? <Link to={`/people/${a.person.id}`}>{a.person.name}</Link> : 'unknown'}</td>
                <td data-testid="alert-camera">{cameraLabel(names, a.camera_id)}</td>
                <td>
                  {a.acked_at ? (
                    <span data-testid="acked">acknowledged {fmtTime(a.acked_at)}</span>
                  ) : (
                    <button type="button" onClick={() => ack(a)}>Acknowledge</button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {items.length === 0 && <p className="muted">No alerts.</p>}
      {cursor && <button type="button" onClick={() => load(cursor)}>Load more</button>}
      {shown != null && (
        <SnapshotDialog
          eventId={shown}
          cameraName={(id) => cameraLabel(names, id)}
          onClose={() => setShown(null)}
          actions={(ev, update) => <EventActions e={ev} compact onChange={update} />}
        />
      )}
      <AlertRules cameras={Object.entries(names).map(([id, name]) => ({ id: Number(id), name }))} onRules={setRules} />
    </section>
  );
}
