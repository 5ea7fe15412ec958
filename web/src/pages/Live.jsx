import React, { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { Link } from 'react-router-dom';
import { api } from '../api.js';
import { useAuth } from '../auth.jsx';
import { useLive } from '../live.jsx';
import { canSeeExpressions } from '../roles.js';
import { clockTime, LAYOUTS, liveWidth, tileWidth, visitDuration } from '../visits.js';
import { SnapshotDialog } from '../Snapshot.jsx';
import { EventActions } from '../Corrections.jsx';

const LAYOUT_KEY = 'mien.live.layout';
const GAP = 12; // px between tiles (.cameras gap)
const CAPTION = 40; // px, a tile's caption

function savedLayout() {
  try {
    const n = Number(localStorage.getItem(LAYOUT_KEY));
    return LAYOUTS.includes(n) ? n : 4;
  } catch {
    return 4;
  }
}

const dpr = () => (typeof window !== 'undefined' && window.devicePixelRatio) || 1;

// The live picture of a camera, asked for at `width` px (see visits.js liveWidth); a placeholder when it fails,
// tried again now and then (the camera may come back).
function LivePicture({ camera, width, onAspect, onClick }) {
  const [failed, setFailed] = useState(false);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    if (!failed || !camera.enabled) return undefined;
    const t = setTimeout(() => {
      setFailed(false);
      setAttempt((a) => a + 1);
    }, 15000);
    return () => clearTimeout(t);
  }, [failed, camera.enabled]);
  if (!camera.enabled || failed)
    return (
      <div className="placeholder" role="img" aria-label={`No live view of ${camera.name}`}>
        {camera.enabled ? 'No live view' : 'Camera disabled'}
      </div>
    );
  const src = `${api.liveUrl(camera.id)}?width=${width}${attempt ? `&r=${attempt}` : ''}`;
  return (
    <img
      src={src}
      alt={`Live view of ${camera.name}`}
      onClick={onClick}
      onLoad={(e) => onAspect && e.target.naturalWidth && onAspect(e.target.naturalWidth / e.target.naturalHeight)}
      onError={() => setFailed(true)}
    />
  );
}

export function CameraTile({ camera, status, width = 320, onEnlarge }) {
  const [aspect, setAspect] = useState(16 / 9);
  const st = !camera.enabled ? 'disabled' : status?.status || 'unknown';
  return (
    <figure className="tile" data-testid="camera-tile" data-camera-id={camera.id} style={{ '--aspect': aspect }}>
      <LivePicture camera={camera} width={liveWidth(width, dpr())} onAspect={setAspect} onClick={onEnlarge} />
      <figcaption>
        <span className="name">{camera.name}</span>{' '}
        <span className={`status status-${st}`} data-testid="camera-status">{st}</span>
        {camera.enabled && status?.fps != null && (
          <span className="fps" data-testid="camera-fps">
            {' '}
            {Number(status.fps).toFixed(1)} fps{status.analysed_fps != null && ` · ${Number(status.analysed_fps).toFixed(1)} analysed`}
          </span>
        )}
        {onEnlarge && (
          <button type="button" className="enlarge" onClick={onEnlarge} aria-label={`Enlarge ${camera.name}`}>
            Enlarge
          </button>
        )}
      </figcaption>
    </figure>
  );
}

const shownWidth = () => Math.min(window.innerWidth, Math.max(160, (window.innerHeight - 48) * (16 / 9)));

// One camera large: a dialog over the page (Esc or Close returns), with a Full screen button.
function Enlarged({ camera, status, onClose }) {
  const ref = useRef(null);
  const closeRef = useRef(null);
  const [full, setFull] = useState(false);
  useEffect(() => {
    closeRef.current?.focus();
    const key = (e) => {
      // In full screen the browser takes Esc to leave it; a second Esc closes the view.
      if (e.key === 'Escape' && !document.fullscreenElement) onClose();
    };
    const fs = () => setFull(document.fullscreenElement === ref.current);
    document.addEventListener('keydown', key);
    document.addEventListener('fullscreenchange', fs);
    return () => {
      document.removeEventListener('keydown', key);
      document.removeEventListener('fullscreenchange', fs);
      if (document.fullscreenElement) document.exitFullscreen?.().catch(() => {});
    };
  }, [onClose]);
  const toggleFull = () => {
    if (document.fullscreenElement) document.exitFullscreen?.().catch(() => {});
    else ref.current?.requestFullscreen?.().catch(() => {});
  };
  // The picture fills the window below the bar, so it is shown at most this wide (16:9; taller pictures less).
  const [width, setWidth] = useState(() => shownWidth());
  useEffect(() => {
    const resize = () => setWidth(shownWidth());
    window.addEventListener('resize', resize);
    return () => window.removeEventListener('resize', resize);
  }, []);
  const st = !camera.enabled ? 'disabled' : status?.status || 'unknown';
  return (
    <div className="enlarged" role="dialog" aria-modal="true" aria-label={`${camera.name}, enlarged`} data-testid="enlarged" ref={ref}>
      <div className="bar">
        <span className="name">{camera.name}</span> <span className={`status status-${st}`}>{st}</span>
        <span className="spacer" />
        {document.fullscreenEnabled !== false && (
          <button type="button" onClick={toggleFull}>
            {full ? 'Leave full screen' : 'Full screen'}
          </button>
        )}
        <button type="button" ref={closeRef} onClick={onClose}>
          Close
        </button>
      </div>
      <div className="picture">
        <LivePicture camera={camera} width={liveWidth(width, dpr())} />
      </div>
    </div>
  );
}

function FaceCrop({ visit }) {
  const [failed, setFailed] = useState(false);
  // A crop that was not there yet may be there once the visit has moved on: try again on each update.
  useEffect(() => setFailed(false), [visit.ended_at, visit.person?.id]);
  if (failed) return <span className="crop none" role="img" aria-label="No face picture" />;
  return <img className="crop" src={api.faceUrl(visit.id)} alt="" width="48" height="48" onError={() => setFailed(true)} />;
}

export function FeedItem({ item, role, cameraName }) {
  const expr = canSeeExpressions(role);
  const who = item.person ? <Link to={`/people/${item.person.id}`}>{item.person.name}</Link> : <span className="unknown">unknown</span>;
  const duration = visitDuration(item);
  const [open, setOpen] = useState(false);
  return (
    <li className="feeditem" data-testid="feed-item" data-event-id={item.id}>
      {/* The crop opens the visit's snapshot, with the corrections and "Find this face" (Corrections.jsx). */}
      <button type="button" className="thumb-button" onClick={() => setOpen(true)} aria-label={`Open the snapshot of event ${item.id}`}>
        <FaceCrop visit={item} />
      </button>
      {open && (
        <SnapshotDialog event={item} cameraName={cameraName} onClose={() => setOpen(false)} actions={(ev, update) => <EventActions e={ev} compact onChange={update} />} />
      )}
      <div className="what">
        <div>
          <span className="who">{who}</span> <span className="muted">at</span> <span className="cam">{cameraName(item.camera_id)}</span>
        </div>
        <div className="muted when">
          since {clockTime(item.started_at)}
          {item.ended_at ? ` · left ${clockTime(item.ended_at)}${duration ? ` (${duration})` : ''}` : ''}
          {item.similarity > 0 && item.person && ` · ${Math.round(item.similarity * 100)}%`}
          {expr && item.dominant_expression && <span className="expr"> · {item.dominant_expression}</span>}
        </div>
      </div>
    </li>
  );
}

// The box the grid may fill: the width of the grid's column, the height from its top to the bottom of the window.
function useBox(ref) {
  const [box, setBox] = useState({ width: 900, height: 600 });
  const measure = useCallback(() => {
    const el = ref.current;
    if (!el) return;
    const r = el.getBoundingClientRect();
    const width = Math.round(r.width) || 900;
    const height = Math.max(240, Math.round(window.innerHeight - r.top - 56)) || 600;
    setBox((b) => (b.width === width && b.height === height ? b : { width, height }));
  }, [ref]);
  useLayoutEffect(() => {
    measure();
    window.addEventListener('resize', measure);
    let ro;
    if (typeof ResizeObserver !== 'undefined' && ref.current) {
      ro = new ResizeObserver(measure);
      ro.observe(ref.current);
    }
    return () => {
      window.removeEventListener('resize', measure);
      ro?.disconnect();
    };
  }, [measure]);
  return box;
}

export default function Live() {
  const { user } = useAuth();
  const live = useLive();
  const [cameras, setCameras] = useState(null);
  const [error, setError] = useState('');
  const [polledAt, setPolledAt] = useState(0);
  const [layout, setLayout] = useState(savedLayout);
  const [page, setPage] = useState(0);
  const [enlarged, setEnlarged] = useState(null); // camera id
  const gridRef = useRef(null);
  const lastTile = useRef(null);
  const box = useBox(gridRef);
  // Status and fps from GET /cameras on load and every 5 s, so a tile never waits for a stream message;
  // a `camera` message newer than the last poll wins, and an edit (`changed`) reloads at once.
  useEffect(() => {
    let alive = true;
    const load = () =>
      api.cameras({ limit: 1000 }).then(
        (r) => {
          if (!alive) return;
          setCameras(r.items);
          setPolledAt(Date.now());
          setError('');
        },
        (e) => alive && setError(e.message),
      );
    load();
    const t = setInterval(load, 5000);
    const off = live.subscribe((type, data) => type === 'camera' && data.changed && load());
    return () => {
      alive = false;
      clearInterval(t);
      off();
    };
  }, []);
  const statusOf = (c) => {
    const s = live.cameraStatus[c.id];
    const polled = { status: c.status, fps: c.fps, analysed_fps: c.analysed_fps };
    if (!s || s.changed || s.at < polledAt) return { ...s, ...polled };
    return { ...polled, status: s.status || polled.status, fps: s.fps ?? polled.fps, analysed_fps: s.analysed_fps ?? polled.analysed_fps };
  };
  const names = Object.fromEntries((cameras || []).map((c) => [c.id, c.name]));
  const cameraName = (id) => names[id] ?? `camera ${id}`;
  const chooseLayout = (n) => {
    setLayout(n);
    setPage(0);
    try {
      localStorage.setItem(LAYOUT_KEY, String(n));
    } catch {
      /* private mode: the choice lasts for this page only */
    }
  };
  const pages = Math.max(1, Math.ceil((cameras?.length || 0) / layout));
  const shownPage = Math.min(page, pages - 1);
  const shown = (cameras || []).slice(shownPage * layout, shownPage * layout + layout);
  const cols = Math.round(Math.sqrt(layout));
  const tile = tileWidth(layout, box.width, box.height - (pages > 1 ? 44 : 0), 16 / 9, GAP, CAPTION);
  const open = (id) => (e) => {
    lastTile.current = e?.currentTarget?.closest?.('[data-testid=camera-tile]') || null;
    setEnlarged(id);
  };
  const close = useCallback(() => {
    setEnlarged(null);
    // Back to where the user was: the tile's Enlarge button.
    setTimeout(() => lastTile.current?.querySelector('button.enlarge')?.focus(), 0);
  }, []);
  const big = enlarged != null && (cameras || []).find((c) => c.id === enlarged);
  return (
    <section>
      <h1>Live</h1>
      <p className="feedstate" data-testid="feed-state" role="status">
        {live.state === 'open' ? 'Live feed connected' : live.state === 'connecting' ? 'Connecting to the live feed…' : 'Live feed unavailable (retrying)'}
      </p>
      {error && <p className="error" role="alert">{error}</p>}
      <div className="livegrid">
        <div className="camerasarea">
          <div className="livebar">
            <div className="segmented" role="group" aria-label="Layout">
              {LAYOUTS.map((n) => (
                <button key={n} type="button" aria-pressed={layout === n} onClick={() => chooseLayout(n)} title={`${n} camera${n > 1 ? 's' : ''} at a time`}>
                  {n === 1 ? '1' : `${Math.sqrt(n)}×${Math.sqrt(n)}`}
                  <span className="sr-only"> ({n} at a time)</span>
                </button>
              ))}
            </div>
            {pages > 1 && (
              <nav className="pager" aria-label="Camera pages">
                <button type="button" onClick={() => setPage(shownPage - 1)} disabled={shownPage === 0}>
                  Previous
                </button>
                <span data-testid="camera-page">
                  Page {shownPage + 1} of {pages}
                </span>
                <button type="button" onClick={() => setPage(shownPage + 1)} disabled={shownPage >= pages - 1}>
                  Next
                </button>
              </nav>
            )}
          </div>
          <div
            className="cameras"
            data-testid="camera-grid"
            data-layout={layout}
            ref={gridRef}
            style={{ gridTemplateColumns: `repeat(${cols}, ${tile}px)` }}
          >
            {cameras && cameras.length === 0 && <p data-testid="no-cameras">No cameras yet.</p>}
            {shown.map((c) => (
              <CameraTile key={c.id} camera={c} status={statusOf(c)} width={tile} onEnlarge={open(c.id)} />
            ))}
          </div>
        </div>
        <aside className="feed" aria-label="Who was seen">
          <h2>Seen</h2>
          {live.feed.length === 0 ? (
            <p className="muted">Nobody seen since this page opened.</p>
          ) : (
            <ul>
              {live.feed.map((item) => (
                <FeedItem key={item.id} item={item} role={user.role} cameraName={cameraName} />
              ))}
            </ul>
          )}
        </aside>
      </div>
      {big && <Enlarged camera={big} status={statusOf(big)} onClose={close} />}
    </section>
  );
}
