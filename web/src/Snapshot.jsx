import React, { useEffect, useRef, useState } from 'react';
import { api, fmtTime } from './api.js';

/**
 * Where to draw an event's box on its snapshot, as fractions of the picture ({left, top, width, height} in %), or
 * null when there is nothing to draw. The box is in frame pixels and the snapshot may be stored smaller than the
 * frame (the snapshot_width setting), so it is scaled by the frame's size (`frame`), or by the picture's own size
 * for events stored before the frame size was (their snapshot was the whole frame).
 */
export function boxOnSnapshot(box, frame, natural) {
  const size = frame && frame[0] > 0 && frame[1] > 0 ? frame : natural;
  if (!Array.isArray(box) || box.length !== 4 || !size || !(size[0] > 0) || !(size[1] > 0)) return null;
  const [x, y, w, h] = box;
  if (!(w > 0) || !(h > 0)) return null;
  const pct = (v, of) => Math.max(0, Math.min(100, (v / of) * 100));
  const left = pct(x, size[0]);
  const top = pct(y, size[1]);
  return { left, top, width: Math.min(100 - left, pct(w, size[0])), height: Math.min(100 - top, pct(h, size[1])) };
}

/**
 * An event's snapshot large, over the page, with the face's box drawn: `event` (from GET /events) or just
 * `eventId` (an alert's), fetched then; `cameraName(id)` names the camera; `actions(event, update)` (optional)
 * renders the page's actions on the event under the bar, update(event) showing a changed event. Esc or Close returns.
 */
export function SnapshotDialog({ event, eventId, cameraName, onClose, actions }) {
  const id = event?.id ?? eventId;
  const [fetched, setFetched] = useState(null);
  // A correction made in the dialog (actions' update) shows at once, over what was given or fetched.
  const [changed, setChanged] = useState(null);
  const ev = (changed && changed.id === id ? changed : null) || event || fetched;
  const [error, setError] = useState('');
  const [natural, setNatural] = useState(null);
  const [failed, setFailed] = useState(false);
  const closeRef = useRef(null);
  const close = useRef(onClose);
  close.current = onClose;
  useEffect(() => {
    if (event) return undefined;
    let live = true;
    api
      .event(id)
      .then((e) => live && setFetched(e))
      .catch((e) => live && setError(e.message));
    return () => {
      live = false;
    };
  }, [event, id]);
  // Focus moves to Close while the dialog is open and back to what opened it afterwards.
  useEffect(() => {
    const opener = document.activeElement;
    closeRef.current?.focus();
    const key = (e) => {
      if (e.key === 'Escape') close.current();
    };
    document.addEventListener('keydown', key);
    return () => {
      document.removeEventListener('keydown', key);
      if (opener && typeof opener.focus === 'function') opener.focus();
    };
  }, []);
  const box = ev && natural ? boxOnSnapshot(ev.box, ev.frame, natural) : null;
  const who = ev ? (ev.person ? ev.person.name : 'unknown') : '';
  return (
    <div className="enlarged" role="dialog" aria-modal="true" aria-label={`Snapshot of event ${id}`} data-testid="snapshot-dialog">
      <div className="bar">
        <span className="name">
          {ev ? `${who} · ${cameraName ? cameraName(ev.camera_id) : `camera ${ev.camera_id}`} · ${fmtTime(ev.started_at)}` : `Event ${id}`}
        </span>
        <span className="spacer" />
        <a href={api.snapshotUrl(id)} target="_blank" rel="noreferrer">
          Open the picture
        </a>
        <button type="button" ref={closeRef} onClick={onClose}>
          Close
        </button>
      </div>
      {/* `actions(event, update)`: what the page offers on the event (corrections, face search), under the bar. */}
      {ev && actions && <div className="bar actions-bar">{actions(ev, setChanged)}</div>}
      <div className="picture">
        {error && <p className="error">{error}</p>}
        {failed ? (
          <p className="placeholder">No snapshot for this event (the snapshot_width setting was 0, or it was deleted).</p>
        ) : (
          <div className="snapshot-frame">
            <img
              // As large as the window allows, whatever size it was stored at (a 640 px snapshot on a big screen).
              style={natural ? { width: `min(100vw - 1rem, (100vh - 4rem) * ${natural[0] / natural[1]})` } : undefined}
              src={api.snapshotUrl(id)}
              alt={`Snapshot of event ${id}`}
              data-testid="snapshot-image"
              onLoad={(e) => setNatural([e.currentTarget.naturalWidth, e.currentTarget.naturalHeight])}
              onError={() => setFailed(true)}
            />
            {box && (
              <div
                className="snapshot-box"
                data-testid="snapshot-box"
                style={{ left: `${box.left}%`, top: `${box.top}%`, width: `${box.width}%`, height: `${box.height}%` }}
              >
                <span>{who}</span>
              </div>
            )}
          </div>
        )}
      </div>
    </div>
  );
}
