import React, { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { api, fmtTime } from '../api.js';
import { useAuth } from '../auth.jsx';
import { useLive } from '../live.jsx';
import { canSeeExpressions } from '../roles.js';

export function CameraTile({ camera, status }) {
  const [failed, setFailed] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const st = !camera.enabled ? 'disabled' : status?.status || 'unknown';
  // Retry a failed live view now and then (the camera may come back).
  useEffect(() => {
    if (!failed || !camera.enabled) return undefined;
    const t = setTimeout(() => {
      setFailed(false);
      setAttempt((a) => a + 1);
    }, 15000);
    return () => clearTimeout(t);
  }, [failed, camera.enabled]);
  return (
    <figure className="tile" data-testid="camera-tile" data-camera-id={camera.id}>
      {camera.enabled && !failed ? (
        <img src={`${api.liveUrl(camera.id)}${attempt ? `?r=${attempt}` : ''}`} alt={`Live view of ${camera.name}`} onError={() => setFailed(true)} />
      ) : (
        <div className="placeholder" role="img" aria-label={`No live view of ${camera.name}`}>
          {camera.enabled ? 'No live view' : 'Camera disabled'}
        </div>
      )}
      <figcaption>
        <span className="name">{camera.name}</span>{' '}
        <span className={`status status-${st}`} data-testid="camera-status">{st}</span>
        {camera.enabled && status?.fps != null && (
          <span className="fps" data-testid="camera-fps">
            {' '}
            {Number(status.fps).toFixed(1)} fps{status.analysed_fps != null && ` · ${Number(status.analysed_fps).toFixed(1)} analysed`}
          </span>
        )}
      </figcaption>
    </figure>
  );
}

export function FeedItem({ item, role, cameraName }) {
  const expr = canSeeExpressions(role);
  const who = item.person ? <Link to={`/people/${item.person.id}`}>{item.person.name}</Link> : <span className="unknown">unknown</span>;
  const when = item.kind === 'face' ? fmtTime(item.ts) : fmtTime(item.started_at);
  return (
    <li className="feeditem" data-testid="feed-item">
      {who} <span className="muted">at</span> {cameraName(item.camera_id)} <span className="muted">{when}</span>
      {item.similarity != null && item.person && <span className="muted"> · {Math.round(item.similarity * 100)}%</span>}
      {expr && item.dominant_expression && <span className="expr"> · {item.dominant_expression}</span>}
    </li>
  );
}

export default function Live() {
  const { user } = useAuth();
  const live = useLive();
  const [cameras, setCameras] = useState(null);
  const [error, setError] = useState('');
  const [polledAt, setPolledAt] = useState(0);
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
  return (
    <section>
      <h1>Live</h1>
      <p className="feedstate" data-testid="feed-state" role="status">
        {live.state === 'open' ? 'Live feed connected' : live.state === 'connecting' ? 'Connecting to the live feed…' : 'Live feed unavailable (retrying)'}
      </p>
      {error && <p className="error" role="alert">{error}</p>}
      <div className="livegrid">
        <div className="cameras" data-testid="camera-grid">
          {cameras && cameras.length === 0 && <p data-testid="no-cameras">No cameras yet.</p>}
          {cameras && cameras.map((c) => <CameraTile key={c.id} camera={c} status={statusOf(c)} />)}
        </div>
        <aside className="feed" aria-label="Who was seen">
          <h2>Seen</h2>
          {live.feed.length === 0 ? (
            <p className="muted">Nobody seen since this page opened.</p>
          ) : (
            <ul>
              {live.feed.map((item) => (
                <FeedItem key={item.key} item={item} role={user.role} cameraName={cameraName} />
              ))}
            </ul>
          )}
        </aside>
      </div>
    </section>
  );
}
