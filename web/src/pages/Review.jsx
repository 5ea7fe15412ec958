// Review.jsx — unknown visitors as identities (GET /unknowns): a card per identity with its best faces, visits,
// cameras and first/last seen, most visits first, paged. Admins name one (an existing person, or a new one; the
// server's matches_other / mismatch verdict is shown with "Name anyway"), merge several, dismiss, erase, and take
// a wrong face out of one; every role may look, expand the visits and search a face. New visits update the cards
// in place (never re-sorted under the pointer); identities not shown are counted and offered as a refresh.
import React, { useEffect, useRef, useState } from 'react';
import { Link, NavLink } from 'react-router-dom';
import { api, fmtTime } from '../api.js';
import { useAuth } from '../auth.jsx';
import { isAdmin } from '../roles.js';
import { useLive } from '../live.jsx';
import { cameraLabel, useCameraNames } from '../cameras.js';
import { SnapshotDialog } from '../Snapshot.jsx';
import { EventActions } from '../Corrections.jsx';
import { PersonPicker } from '../PersonPicker.jsx';
import { MatchWarning } from './EnrolPick.jsx';
import { DISMISSED, applyVisit, mergePlan } from '../review.js';

const PAGE = 24;

/** The two views of the Review page: the unknown identities, and the face search. */
export function ReviewTabs() {
  return (
    <nav className="tabs" aria-label="Review">
      <NavLink to="/review" end>
        Unknown faces
      </NavLink>
      <NavLink to="/review/search">Face search</NavLink>
    </nav>
  );
}

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * Naming an identity: pick a person (or create one), then POST /unknowns/{id}/assign. A 409 verdict is shown as
 * the enrolment flow shows it, with "Name anyway" (confirm: true). Cancelling the warning for a person created
 * here deletes that (still faceless) person again. onDone(reply, person) after a success.
 */
export function NameIdentity({ card, onDone, onCancel }) {
  const [busy, setBusy] = useState(false);
  const [warning, setWarning] = useState(null); // {result (the 409 body), person, created}
  const [error, setError] = useState('');
  const assign = async (person, created, confirm = false) => {
    setBusy(true);
    setError('');
    try {
      const r = await api.assignUnknown(card.id, person.id, confirm);
      if (r && r.verdict) setWarning({ result: r, person, created });
      else onDone(r || {}, person);
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };
  const create = async (name) => {
    setBusy(true);
    setError('');
    let person;
    try {
      person = await api.createPerson({ name });
    } catch (e) {
      setBusy(false);
      return setError(e.status === 409 ? `The name ${name} is taken: pick that person from the list, or use another name.` : e.message);
    }
    await assign(person, true);
  };
  const cancelWarning = async () => {
    const w = warning;
    setWarning(null);
    if (w.created) {
      try {
        await api.deletePerson(w.person.id);
      } catch {
        /* it stays, faceless; the admin may erase it on its page */
      }
    }
  };
  if (warning) {
    const r = warning.result;
    // The assign reply names the other person (matches_other) or, for a mismatch, may name the person being named.
    const shown = { ...r, threshold: r.threshold, person: r.verdict === 'matches_other' ? r.person : r.person || warning.person };
    return (
      <div className="name-identity">
        <MatchWarning
          result={shown}
          personName={warning.person.name}
          subject="These faces"
          confirmLabel="Name anyway"
          onConfirm={() => {
            setWarning(null);
            assign(warning.person, warning.created, true);
          }}
          onCancel={cancelWarning}
        />
      </div>
    );
  }
  return (
    <div className="name-identity">
      <PersonPicker label={`Name unknown #${card.id} as…`} busy={busy} onPick={(p) => assign(p, false)} onCreate={create} onCancel={onCancel} />
      {busy && <p role="status">Naming…</p>}
      {error && <p className="error" role="alert">{error}</p>}
    </div>
  );
}

/** The visits of an identity (GET /events?unknown_id=), each with its face; admins may take one out. */
function Visits({ card, admin, cameraName, onRemoved, onOpen }) {
  const [items, setItems] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [error, setError] = useState('');
  const [confirm, setConfirm] = useState(null);
  const load = async (after) => {
    try {
      const r = await api.events({ unknown_id: card.id, limit: 50, cursor: after || undefined });
      setItems((old) => (after ? [...(old || []), ...r.items] : r.items));
      setCursor(r.next_cursor);
    } catch (e) {
      setError(e.message);
      setItems((old) => old || []);
    }
  };
  useEffect(() => {
    load(null);
  }, [card.id]); // eslint-disable-line react-hooks/exhaustive-deps
  // A visit arriving while open joins the list (the card's event_ids grew).
  const newest = card.event_ids?.[0];
  useEffect(() => {
    if (items && newest != null && !items.some((x) => x.id === newest)) load(null);
  }, [newest]); // eslint-disable-line react-hooks/exhaustive-deps
  const remove = async (ev) => {
    setConfirm(null);
    try {
      await api.removeUnknownEvent(card.id, ev.id);
      setItems((list) => list.filter((x) => x.id !== ev.id));
      onRemoved(ev.id);
    } catch (e) {
      setError(e.message);
    }
  };
  return (
    <div className="visits" data-testid="unknown-visits">
      {error && <p className="error" role="alert">{error}</p>}
      {items === null && <p role="status">Loading visits…</p>}
      {items && items.length === 0 && <p className="muted">No visits.</p>}
      <ul>
        {(items || []).map((ev) => (
          <li key={ev.id} data-testid="unknown-visit" data-event-id={ev.id}>
            <button type="button" className="thumb-button" onClick={() => onOpen(ev)} aria-label={`Open the snapshot of event ${ev.id}`}>
              <img className="thumb" src={api.faceUrl(ev.id)} alt={`Face of event ${ev.id}`} loading="lazy" />
            </button>
            <span>
              {fmtTime(ev.started_at)} · {cameraName(ev.camera_id)}
            </span>
            {admin &&
              (confirm === ev.id ? (
                <span role="group" aria-label={`Confirm taking event ${ev.id} out`}>
                  <button type="button" className="danger" onClick={() => remove(ev)}>Yes, not this person</button>{' '}
                  <button type="button" onClick={() => setConfirm(null)}>Keep</button>
                </span>
              ) : (
                <button type="button" onClick={() => setConfirm(ev.id)} aria-label={`Remove the face of event ${ev.id} from unknown #${card.id}`}>
                  Remove face
                </button>
              ))}
          </li>
        ))}
      </ul>
      {cursor && <button type="button" onClick={() => load(cursor)}>More visits</button>}
    </div>
  );
}

/** One identity's card. */
export function UnknownCard({ card, admin, cameraName, selected, onSelect, onChanged, onGone, onNotice, onOpen }) {
  const [mode, setMode] = useState(null); // 'name' | 'erase' | null
  const [expanded, setExpanded] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const faces = (card.best_event_ids && card.best_event_ids.length ? card.best_event_ids : card.event_ids || []).slice(0, 5);
  const cams = (card.camera_ids || []).map(cameraName);
  const title = `Unknown #${card.id}`;
  const run = async (fn) => {
    setBusy(true);
    setError('');
    try {
      await fn();
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };
  const dismiss = (dismissed) =>
    run(async () => {
      const r = await api.dismissUnknown(card.id, dismissed);
      onChanged({ ...card, ...(r || {}), dismissed });
      onNotice(dismissed ? { text: `${title} dismissed: its face makes no events or alerts from now on.`, undo: { id: card.id } } : { text: `${title} is active again.` });
    });
  const erase = () =>
    run(async () => {
      await api.eraseUnknown(card.id);
      onGone(card.id, { text: `${title} erased with its ${plural(card.visits, 'visit')} and their pictures.` });
    });
  const removed = (eventId) =>
    onChanged({
      ...card,
      visits: Math.max(0, (card.visits || 0) - 1),
      event_ids: (card.event_ids || []).filter((x) => x !== eventId),
      best_event_ids: (card.best_event_ids || []).filter((x) => x !== eventId),
    });
  return (
    <article className={`unknown-card${selected ? ' selected' : ''}${card.dismissed ? ' dismissed' : ''}`} data-testid="unknown-card" data-unknown-id={card.id} aria-label={title}>
      <header>
        {admin && (
          <label className="check select">
            <input type="checkbox" checked={!!selected} onChange={(e) => onSelect(card.id, e.target.checked)} aria-label={`Select ${title} to merge`} />
          </label>
        )}
        <h2>{title}</h2>
        {card.dismissed && <span className="badge">dismissed</span>}
      </header>
      <div className="unknown-faces">
        {faces.map((eid) => (
          <button key={eid} type="button" className="thumb-button" onClick={() => onOpen({ id: eid })} aria-label={`Open the snapshot of event ${eid}`}>
            <img className="face96" src={api.faceUrl(eid)} alt={`Face of ${title} (event ${eid})`} loading="lazy" />
          </button>
        ))}
      </div>
      <p className="unknown-facts">
        <strong data-testid="unknown-visits-count">{plural(card.visits || 0, 'visit')}</strong>
        {cams.length > 0 && <> · {cams.join(', ')}</>}
        <br />
        <span className="muted">
          first seen {fmtTime(card.first_seen)}
          <br />
          last seen <span data-testid="unknown-last-seen">{fmtTime(card.last_seen)}</span>
        </span>
      </p>
      <div className="card-actions">
        <button type="button" aria-expanded={expanded} onClick={() => setExpanded((x) => !x)}>
          {expanded ? 'Hide visits' : 'Visits'}
        </button>
        {faces.length > 0 && (
          <Link className="button-link" to={`/review/search?event=${faces[0]}`}>
            Find this face
          </Link>
        )}
        {admin && (
          <>
            <button type="button" disabled={busy} onClick={() => setMode(mode === 'name' ? null : 'name')} aria-expanded={mode === 'name'}>
              Name…
            </button>
            <button type="button" disabled={busy} onClick={() => dismiss(!card.dismissed)}>
              {card.dismissed ? 'Undismiss' : 'Dismiss'}
            </button>
            <button type="button" className="danger" disabled={busy} onClick={() => setMode('erase')}>
              Erase…
            </button>
          </>
        )}
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      {admin && mode === 'name' && (
        <NameIdentity
          card={card}
          onCancel={() => setMode(null)}
          onDone={(r, person) => {
            const n = r.events ?? card.visits;
            const faces = r.enrolled_face_ids ? r.enrolled_face_ids.length : null;
            onGone(card.id, {
              text: `${title} is now `,
              person,
              tail: `: ${plural(n, 'visit')} named${faces != null ? `, ${plural(faces, 'face')} enrolled` : ''}.`,
            });
          }}
        />
      )}
      {admin && mode === 'erase' && (
        <div role="alertdialog" aria-label={`Erase ${title}`} className="erase-confirm">
          <p className="warning">
            This erases {title} and its {plural(card.visits || 0, 'visit')}: the events and their pictures (snapshots and face crops) are deleted. It cannot be
            undone.
          </p>
          <button type="button" className="danger" disabled={busy} onClick={erase}>
            Erase {title} and its visits
          </button>{' '}
          <button type="button" onClick={() => setMode(null)}>Cancel</button>
        </div>
      )}
      {expanded && <Visits card={card} admin={admin} cameraName={cameraName} onRemoved={removed} onOpen={onOpen} />}
    </article>
  );
}

export default function Review() {
  const { user } = useAuth();
  const admin = isAdmin(user.role);
  const names = useCameraNames();
  const cameraName = (id) => cameraLabel(names, id);
  const [show, setShow] = useState('active');
  const [cards, setCards] = useState([]);
  const [cursor, setCursor] = useState(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState('');
  const [selected, setSelected] = useState(() => new Set());
  const [merging, setMerging] = useState(false); // the merge confirmation is open
  const [notice, setNotice] = useState(null); // {text, person?, tail?, undo?}
  const [fresh, setFresh] = useState(() => new Set()); // identities not shown that had visits since the load
  const [open, setOpen] = useState(null); // an event ({id} or a whole event) whose snapshot is shown
  const loads = useRef(0);
  const cardsRef = useRef(cards);
  cardsRef.current = cards;

  const load = async (after) => {
    const n = ++loads.current;
    setLoading(true);
    setError('');
    try {
      const r = await api.unknowns({ dismissed: DISMISSED[show], limit: PAGE, cursor: after || undefined });
      if (n !== loads.current) return;
      setCards((old) => (after ? [...old, ...r.items.filter((c) => !old.some((o) => o.id === c.id))] : r.items));
      setCursor(r.next_cursor);
      if (!after) {
        setFresh(new Set());
        setSelected(new Set());
      }
    } catch (e) {
      if (n === loads.current) setError(e.message);
    } finally {
      if (n === loads.current) setLoading(false);
    }
  };
  useEffect(() => {
    load(null);
  }, [show]); // eslint-disable-line react-hooks/exhaustive-deps

  // New visits: a shown identity's card is updated where it is; others are counted for a refresh.
  const live = useLive();
  useEffect(
    () =>
      live.subscribe((type, ev) => {
        if (type !== 'event' || ev.unknown_id == null) return;
        if (cardsRef.current.some((c) => c.id === ev.unknown_id)) setCards((list) => applyVisit(list, ev).cards);
        else if (show !== 'dismissed') setFresh((s) => (s.has(ev.unknown_id) ? s : new Set(s).add(ev.unknown_id)));
      }),
    [show], // eslint-disable-line react-hooks/exhaustive-deps
  );

  const changed = (card) => {
    setCards((list) => {
      // A card that no longer fits the filter (dismissed while showing the active ones) leaves the list.
      if ((show === 'active' && card.dismissed) || (show === 'dismissed' && !card.dismissed)) return list.filter((c) => c.id !== card.id);
      return list.map((c) => (c.id === card.id ? card : c));
    });
  };
  const gone = (id, note) => {
    setCards((list) => list.filter((c) => c.id !== id));
    setSelected((s) => {
      const n = new Set(s);
      n.delete(id);
      return n;
    });
    setNotice(note);
  };
  const select = (id, on) =>
    setSelected((s) => {
      const n = new Set(s);
      if (on) n.add(id);
      else n.delete(id);
      return n;
    });
  const chosen = cards.filter((c) => selected.has(c.id));
  const plan = mergePlan(chosen);

  const merge = async () => {
    setMerging(false);
    if (!plan) return;
    setError('');
    let item = null;
    const merged = [];
    try {
      for (const from of plan.from) {
        item = await api.mergeUnknown(plan.into, from);
        merged.push(from);
      }
    } catch (e) {
      setError(`Merging stopped: ${e.message}`);
    }
    setCards((list) => list.filter((c) => !merged.includes(c.id)).map((c) => (c.id === plan.into && item ? { ...c, ...item } : c)));
    setSelected(new Set());
    if (merged.length) setNotice({ text: `Merged ${plural(merged.length + 1, 'identity', 'identities')} into unknown #${plan.into}.` });
  };
  const undoDismiss = async (id) => {
    try {
      await api.dismissUnknown(id, false);
      setNotice({ text: `Unknown #${id} is active again.` });
      load(null);
    } catch (e) {
      setError(e.message);
    }
  };

  return (
    <section>
      <h1>Review</h1>
      <ReviewTabs />
      <div className="row review-bar">
        <label>
          Show
          <select value={show} onChange={(e) => setShow(e.target.value)} data-testid="unknowns-show">
            <option value="active">Unknown faces</option>
            <option value="dismissed">Dismissed only</option>
            <option value="all">All, dismissed too</option>
          </select>
        </label>
        <button type="button" onClick={() => load(null)} disabled={loading}>
          Refresh
        </button>
        {fresh.size > 0 && (
          <button type="button" className="fresh" onClick={() => load(null)} data-testid="unknowns-fresh">
            {plural(fresh.size, 'more identity', 'more identities')} seen since · show
          </button>
        )}
      </div>
      {admin && selected.size > 0 && (
        <div className="merge-bar" role="region" aria-label="Selected identities" data-testid="merge-bar">
          <span>{plural(selected.size, 'identity', 'identities')} selected</span>{' '}
          {!merging ? (
            <button type="button" disabled={!plan} onClick={() => setMerging(true)} title={plan ? '' : 'Select two or more to merge'}>
              Merge selected
            </button>
          ) : (
            <span role="alertdialog" aria-label="Confirm the merge">
              Merge {plan.from.map((x) => `#${x}`).join(', ')} into unknown #{plan.into} (the one with the most visits)?{' '}
              <button type="button" onClick={merge}>
                Yes, merge into #{plan.into}
              </button>{' '}
              <button type="button" onClick={() => setMerging(false)}>Cancel</button>
            </span>
          )}{' '}
          <button type="button" onClick={() => setSelected(new Set())}>Clear</button>
        </div>
      )}
      {notice && (
        <p className="notice" role="status" data-testid="review-notice">
          {notice.text}
          {notice.person && <Link to={`/people/${notice.person.id}`}>{notice.person.name}</Link>}
          {notice.tail}
          {notice.undo && (
            <>
              {' '}
              <button type="button" onClick={() => undoDismiss(notice.undo.id)}>Undo</button>
            </>
          )}{' '}
          <button type="button" onClick={() => setNotice(null)} aria-label="Close the message">×</button>
        </p>
      )}
      {error && <p className="error" role="alert">{error}</p>}
      <div className="unknown-cards">
        {cards.map((c) => (
          <UnknownCard
            key={c.id}
            card={c}
            admin={admin}
            cameraName={cameraName}
            selected={selected.has(c.id)}
            onSelect={select}
            onChanged={changed}
            onGone={gone}
            onNotice={setNotice}
            onOpen={setOpen}
          />
        ))}
      </div>
      {!loading && cards.length === 0 && !error && (
        <p className="muted">{show === 'dismissed' ? 'No dismissed identities.' : 'No unknown faces to review.'}</p>
      )}
      {loading && <p role="status">Loading…</p>}
      {cursor && !loading && (
        <button type="button" onClick={() => load(cursor)}>
          Load more
        </button>
      )}
      {open && (
        <SnapshotDialog
          event={open.camera_id != null ? open : undefined}
          eventId={open.id}
          cameraName={cameraName}
          onClose={() => setOpen(null)}
          actions={(ev, update) => <EventActions e={ev} compact onChange={update} />}
        />
      )}
    </section>
  );
}
