// Corrections.jsx — correcting who an event shows, from wherever an event is shown (Events rows, the snapshot
// dialog): "This is…" (pick a person: their face is enrolled and the visit re-labelled) and "Not <name>" (the
// visit becomes unknown and the face is kept as a negative for that person), each with an Undo; "Find this face"
// (face search from the event) for every role. Also the list of a person's corrections on their page.
import React, { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { api, fmtTime } from './api.js';
import { useAuth } from './auth.jsx';
import { isAdmin } from './roles.js';
import { PersonPicker } from './PersonPicker.jsx';

/**
 * The actions on one event `e`. onChange(event) gets the event as it now is (after a correction or its undo), so
 * that the row can show it at once; the server also sends the change on the stream. Only admins correct.
 */
export function EventActions({ e, onChange, compact = false }) {
  const auth = useAuth();
  const admin = isAdmin(auth?.user?.role);
  const [picking, setPicking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(null); // {correction, before (the event before it), text}
  const [error, setError] = useState('');

  const send = async (person, verdict) => {
    setBusy(true);
    setError('');
    const before = e;
    try {
      const c = await api.correct(e.id, person.id, verdict);
      setPicking(false);
      const after = verdict === 'is' ? { ...e, person: { id: person.id, name: person.name }, unknown_id: null } : { ...e, person: null };
      setDone({ correction: c, before, text: verdict === 'is' ? `Marked as ${person.name}` : `Marked as not ${person.name}` });
      onChange?.(after);
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  const undo = async () => {
    setBusy(true);
    setError('');
    try {
      await api.undoCorrection(done.correction.id);
      onChange?.(done.before);
      setDone(null);
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className={compact ? 'event-actions compact' : 'event-actions'} data-testid="event-actions">
      <Link to={`/review/search?event=${e.id}`} className="button-link">Find this face</Link>
      {admin && !done && (
        <>
          <button type="button" onClick={() => setPicking((p) => !p)} aria-expanded={picking} disabled={busy}>
            This is…
          </button>
          {e.person && (
            <button type="button" onClick={() => send(e.person, 'not')} disabled={busy}>
              Not {e.person.name}
            </button>
          )}
        </>
      )}
      {done && (
        <span className="correction-done" role="status" data-testid="correction-done">
          {done.text}{' '}
          <button type="button" onClick={undo} disabled={busy}>Undo</button>
        </span>
      )}
      {error && <span className="error" role="alert">{error}</span>}
      {admin && picking && !done && (
        <div className="picker-panel">
          <PersonPicker label={`Event ${e.id} is…`} busy={busy} exclude={e.person?.id} onPick={(p) => send(p, 'is')} onCancel={() => setPicking(false)} />
        </div>
      )}
    </div>
  );
}

/** A correction in words: "This is Ada" / "Not Ada". */
export function correctionText(c, name) {
  return c.verdict === 'is' ? `This is ${name}` : `Not ${name}`;
}

/** The corrections made about person `person` ({id, name}), newest first, each with an Undo (admins). */
export function PersonCorrections({ person }) {
  const [items, setItems] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(null);
  const load = async (after) => {
    try {
      const r = await api.corrections({ person_id: person.id, limit: 50, cursor: after || undefined });
      setItems((old) => (after ? [...(old || []), ...r.items] : r.items));
      setCursor(r.next_cursor);
      setError('');
    } catch (e) {
      setError(e.message);
      setItems((old) => old || []);
    }
  };
  useEffect(() => {
    load(null);
  }, [person.id]); // eslint-disable-line react-hooks/exhaustive-deps
  const undo = async (c) => {
    setBusy(c.id);
    try {
      await api.undoCorrection(c.id);
      setItems((list) => list.map((x) => (x.id === c.id ? { ...x, undone: true } : x)));
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(null);
    }
  };
  return (
    <div className="corrections" data-testid="person-corrections">
      <h2>Corrections</h2>
      {error && <p className="error" role="alert">{error}</p>}
      {items && items.length === 0 && <p className="muted">No corrections about {person.name}.</p>}
      {items && items.length > 0 && (
        <div className="tablewrap">
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">Event</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {items.map((c) => (
                <tr key={c.id} data-testid="correction-row" data-correction-id={c.id}>
                  <td>{fmtTime(c.created_at)}</td>
                  <td>{c.user || ''}</td>
                  <td>{correctionText(c, person.name)}</td>
                  <td>
                    <Link to={`/review/search?event=${c.event_id}`} title="Find this face">
                      <img className="thumb" src={api.faceUrl(c.event_id)} alt={`Face of event ${c.event_id}`} loading="lazy" />
                    </Link>{' '}
                    event {c.event_id}
                  </td>
                  <td>
                    {c.undone || c.undone_at ? (
                      <span className="muted" data-testid="correction-undone">undone</span>
                    ) : (
                      <button type="button" onClick={() => undo(c)} disabled={busy === c.id}>
                        Undo
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor && <button type="button" onClick={() => load(cursor)}>Load more</button>}
    </div>
  );
}
