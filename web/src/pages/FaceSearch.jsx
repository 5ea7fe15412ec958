// FaceSearch.jsx — "where else was this face?": POST /search/faces with an uploaded photo or an event's face
// (/review/search?event=ID, reached by "Find this face"), results on a timeline with one row per camera and as a
// list, best first. Every role may search and see names; the server keeps the results to the user's cameras.
import React, { useEffect, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { api, fmtTime } from '../api.js';
import { cameraLabel, useCameraNames } from '../cameras.js';
import { SnapshotDialog } from '../Snapshot.jsx';
import { EventActions } from '../Corrections.jsx';
import { timelineRows, timelineTicks } from '../review.js';
import { ReviewTabs } from './Review.jsx';

const pct = (s) => (typeof s === 'number' ? `${Math.round(s * 100)}%` : '');

/** The results on a timeline: a row per camera, a mark per event at its start; hover or focus shows the face
 * crop, time and similarity; a click opens the snapshot (onOpen(event_id)). */
export function Timeline({ items, cameraName, onOpen }) {
  const { start, end, rows } = timelineRows(items, cameraName);
  const [hover, setHover] = useState(null); // the mark shown in the pop-up
  if (rows.length === 0) return null;
  const ticks = timelineTicks(start, end);
  return (
    <div className="timeline" role="group" aria-label="Matches on a timeline, one row per camera" data-testid="timeline">
      {rows.map((row) => (
        <div className="tl-row" key={row.camera_id} data-testid="timeline-row" data-camera-id={row.camera_id}>
          <div className="tl-label" title={row.name}>
            {row.name} <span className="muted">({row.marks.length})</span>
          </div>
          <div className="tl-track">
            {row.marks.map((m) => (
              <button
                key={m.event_id}
                type="button"
                className="tl-mark"
                data-testid="timeline-mark"
                data-event-id={m.event_id}
                style={{ left: `${m.x}%`, opacity: Math.max(0.35, Math.min(1, m.similarity || 0)) }}
                aria-label={`Event ${m.event_id}, ${fmtTime(m.started_at)}, similarity ${pct(m.similarity)}`}
                onMouseEnter={() => setHover(m)}
                onMouseLeave={() => setHover((h) => (h === m ? null : h))}
                onFocus={() => setHover(m)}
                onBlur={() => setHover((h) => (h === m ? null : h))}
                onClick={() => onOpen(m.event_id)}
              />
            ))}
            {hover && hover.camera_id === row.camera_id && (
              <div className={hover.x > 70 ? 'tl-pop right' : 'tl-pop'} style={hover.x > 70 ? { right: `${100 - hover.x}%` } : { left: `${hover.x}%` }} data-testid="timeline-pop" role="tooltip">
                <img src={api.faceUrl(hover.event_id)} alt={`Face of event ${hover.event_id}`} width="80" height="80" />
                <div>
                  {fmtTime(hover.started_at)}
                  <br />
                  similarity {pct(hover.similarity)}
                  {hover.person && (
                    <>
                      <br />
                      {hover.person.name}
                    </>
                  )}
                </div>
              </div>
            )}
          </div>
        </div>
      ))}
      <div className="tl-row tl-axis" aria-hidden="true">
        <div className="tl-label" />
        <div className="tl-track">
          {ticks.map((t) => (
            <span key={t.x} className="tl-tick" style={{ left: `${t.x}%` }}>
              {fmtTime(t.at)}
            </span>
          ))}
        </div>
      </div>
    </div>
  );
}

export default function FaceSearch() {
  const [params, setParams] = useSearchParams();
  const eventParam = params.get('event');
  const names = useCameraNames();
  const cameraName = (id) => cameraLabel(names, id);
  const [file, setFile] = useState(null);
  const [fileUrl, setFileUrl] = useState('');
  const [minSim, setMinSim] = useState('');
  const [limit, setLimit] = useState('50');
  const [result, setResult] = useState(null); // {items} or null
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [shown, setShown] = useState(null); // an event id whose snapshot is open
  const runs = useRef(0);

  useEffect(() => {
    if (!file || typeof URL.createObjectURL !== 'function') return setFileUrl('');
    const u = URL.createObjectURL(file);
    setFileUrl(u);
    return () => typeof URL.revokeObjectURL === 'function' && URL.revokeObjectURL(u);
  }, [file]);

  const search = async (what) => {
    const run = ++runs.current;
    setBusy(true);
    setError('');
    setResult(null);
    const query = { limit: limit || undefined, min_similarity: minSim === '' ? undefined : minSim };
    try {
      const r = await api.searchFaces({ ...what, ...query });
      if (run === runs.current) setResult(r);
    } catch (e) {
      if (run !== runs.current) return;
      if (e.status === 422) setError('No face was found in this picture.');
      else if (e.status === 404) setError('No such event (or it is not on one of your cameras).');
      else setError(e.message);
    } finally {
      if (run === runs.current) setBusy(false);
    }
  };

  useEffect(() => {
    if (eventParam) {
      setShown(null);
      setFile(null);
      search({ event: eventParam });
    }
  }, [eventParam]); // eslint-disable-line react-hooks/exhaustive-deps

  const choose = (e) => {
    const f = e.target.files[0];
    e.target.value = '';
    if (!f) return;
    setFile(f);
    if (eventParam) setParams({}, { replace: true });
    search({ file: f });
  };
  const again = () => (file ? search({ file }) : eventParam ? search({ event: eventParam }) : undefined);
  const items = result?.items || [];
  const invalidSim = minSim !== '' && !(Number(minSim) >= 0 && Number(minSim) <= 1);
  const invalidLimit = !/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > 200;

  return (
    <section>
      <h1>Review</h1>
      <ReviewTabs />
      <h2>Face search</h2>
      <p className="muted">Find the visits of one face: from an event (“Find this face” on Events, Review or a snapshot) or from a photo. Nobody is enrolled by searching.</p>
      <div className="row search-form">
        <label>
          Search with a photo (JPEG, PNG or WebP)
          <input type="file" accept="image/jpeg,image/png,image/webp" onChange={choose} data-testid="search-photo" />
        </label>
        <label>
          Minimum similarity (0–1, optional)
          <input type="number" min="0" max="1" step="0.01" value={minSim} onChange={(e) => setMinSim(e.target.value)} aria-invalid={invalidSim} />
        </label>
        <label>
          At most (1–200)
          <input type="number" min="1" max="200" value={limit} onChange={(e) => setLimit(e.target.value)} aria-invalid={invalidLimit} />
        </label>
        <button type="button" onClick={again} disabled={busy || (!file && !eventParam) || invalidSim || invalidLimit}>
          Search again
        </button>
      </div>
      {(invalidSim || invalidLimit) && (
        <p className="error" role="alert">
          {invalidSim ? 'The minimum similarity is a number from 0 to 1. ' : ''}
          {invalidLimit ? 'At most: a whole number from 1 to 200.' : ''}
        </p>
      )}
      {(eventParam || fileUrl) && (
        <div className="search-query" data-testid="search-query">
          <span className="muted">Searching for</span>{' '}
          {eventParam && !file ? (
            <button type="button" className="thumb-button" onClick={() => setShown(Number(eventParam))} aria-label={`Open the snapshot of event ${eventParam}`}>
              <img className="face96" src={api.faceUrl(eventParam)} alt={`Face of event ${eventParam}`} />
            </button>
          ) : (
            fileUrl && <img className="face96" src={fileUrl} alt="The photo searched for" />
          )}
          {eventParam && !file && <span> the face of event {eventParam}</span>}
          {file && <span> {file.name}</span>}
        </div>
      )}
      {busy && <p role="status">Searching…</p>}
      {error && <p className="error" role="alert">{error}</p>}
      {result && (
        <>
          <p role="status" data-testid="search-count">
            {items.length === 0 ? 'No matching events.' : `${items.length} matching event${items.length === 1 ? '' : 's'}, best first.`}
          </p>
          <Timeline items={items} cameraName={cameraName} onOpen={setShown} />
          {items.length > 0 && (
            <div className="tablewrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Face</th>
                    <th scope="col">Similarity</th>
                    <th scope="col">Time</th>
                    <th scope="col">Camera</th>
                    <th scope="col">Person</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((it) => (
                    <tr key={it.event_id} data-testid="search-result" data-event-id={it.event_id}>
                      <td>
                        <button type="button" className="thumb-button" onClick={() => setShown(it.event_id)} aria-label={`Open the snapshot of event ${it.event_id}`}>
                          <img className="thumb" src={api.faceUrl(it.event_id)} alt={`Face of event ${it.event_id}`} loading="lazy" />
                        </button>
                      </td>
                      <td>{pct(it.similarity)}</td>
                      <td>{fmtTime(it.started_at)}</td>
                      <td>{cameraName(it.camera_id)}</td>
                      <td>{it.person ? <Link to={`/people/${it.person.id}`}>{it.person.name}</Link> : <span className="unknown">unknown</span>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
      {shown != null && <SnapshotDialog eventId={shown} cameraName={cameraName} onClose={() => setShown(null)} actions={(ev) => <EventActions e={ev} compact />} />}
    </section>
  );
}
