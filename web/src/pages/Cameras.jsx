import React, { useEffect, useState } from 'react';
import { api } from '../api.js';
import { useAuth } from '../auth.jsx';
import { useLive } from '../live.jsx';
import { isAdmin } from '../roles.js';
import { composeUrl, splitCredentials } from '../camurl.js';

/** Name, URL, user name, password (masked, never shown back), fps, alert on unknown faces. */
export function CameraForm({ initial, onSave, onCancel, submitLabel }) {
  const parts = splitCredentials(initial?.url || '');
  const [name, setName] = useState(initial?.name || '');
  const [base, setBase] = useState(parts.base);
  const [username, setUsername] = useState(parts.username);
  const [password, setPassword] = useState('');
  const [fps, setFps] = useState(initial?.analysis_fps ?? '');
  const [alertUnknown, setAlertUnknown] = useState(!!initial?.alert_unknown);
  const [error, setError] = useState('');
  const hadPassword = parts.password !== '';
  const submit = async (e) => {
    e.preventDefault();
    const body = { name };
    if (!initial) body.url = composeUrl(base, username, password);
    else if (password) body.url = composeUrl(base, username, password);
    else if (base !== parts.base || username !== parts.username) {
      // The stored password goes with the redacted URL only when nothing else changed (server rule).
      if (hadPassword) {
        setError('Enter the password again to change the URL or the user name.');
        return;
      }
      body.url = composeUrl(base, username, '');
    }
    if (fps !== '') body.analysis_fps = Number(fps);
    body.alert_unknown = alertUnknown;
    try {
      await onSave(body);
      setError('');
      if (!initial) {
        setName('');
        setBase('');
        setUsername('');
        setPassword('');
      }
    } catch (err) {
      setError(err.message);
    }
  };
  return (
    <form className="card camform" onSubmit={submit}>
      <label>
        Name
        <input name="name" value={name} onChange={(e) => setName(e.target.value)} required />
      </label>
      <label>
        Stream URL (without credentials)
        <input name="url" value={base} onChange={(e) => setBase(e.target.value)} placeholder="rtsp://192.168.1.20:554/stream1" required />
      </label>
      <label>
        Camera user name
        <input name="camuser" autoComplete="off" value={username} onChange={(e) => setUsername(e.target.value)} />
      </label>
      <label>
        Camera password{initial && hadPassword ? ' (leave empty to keep)' : ''}
        <input name="campassword" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
      </label>
      <label>
        Analysis rate (frames/s)
        <input name="fps" type="number" min="0.1" max="60" step="0.1" value={fps} onChange={(e) => setFps(e.target.value)} />
      </label>
      <label className="check">
        <input type="checkbox" checked={alertUnknown} onChange={(e) => setAlertUnknown(e.target.checked)} /> Alert on unknown faces
      </label>
      {error && <p className="error" role="alert">{error}</p>}
      <div className="actions">
        <button type="submit">{submitLabel}</button>
        {onCancel && <button type="button" onClick={onCancel}>Cancel</button>}
      </div>
    </form>
  );
}

export default function Cameras() {
  const { user } = useAuth();
  const admin = isAdmin(user.role);
  const { cameraStatus } = useLive();
  const [cameras, setCameras] = useState([]);
  const [editing, setEditing] = useState(null);
  const [deleting, setDeleting] = useState(null);
  const [error, setError] = useState('');
  const load = () => api.cameras({ limit: 1000 }).then((r) => setCameras(r.items), (e) => setError(e.message));
  useEffect(() => {
    load();
  }, []);
  const act = (fn) => async (...a) => {
    try {
      await fn(...a);
      setError('');
      load();
    } catch (e) {
      setError(e.message);
    }
  };
  const toggle = act((c) => api.patchCamera(c.id, { enabled: !c.enabled }));
  const remove = act((c) => api.deleteCamera(c.id));
  return (
    <section>
      <h1>Cameras</h1>
      {error && <p className="error" role="alert">{error}</p>}
      <div className="tablewrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              {admin && <th scope="col">URL</th>}
              <th scope="col">Status</th>
              <th scope="col">Rate</th>
              {admin && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {cameras.map((c) => {
              const s = cameraStatus[c.id];
              return (
                <tr key={c.id} data-testid="camera-row">
                  <td>{c.name}</td>
                  {admin && <td className="url">{c.url}</td>}
                  <td>{!c.enabled ? 'disabled' : s?.status || 'unknown'}</td>
                  <td>
                    {s?.fps != null ? `${Number(s.fps).toFixed(1)} fps` : ''}
                    {admin && c.analysis_fps != null && <span className="muted"> (analysis {c.analysis_fps}/s)</span>}
                  </td>
                  {admin && (
                    <td className="actions">
                      <button type="button" onClick={() => setEditing(c.id)}>Edit</button>
                      <button type="button" onClick={() => toggle(c)}>{c.enabled ? 'Disable' : 'Enable'}</button>
                      {deleting === c.id ? (
                        <span role="alertdialog" aria-label={`Delete camera ${c.name}`}>
                          <span className="warning">Delete {c.name} with all its events and snapshots?</span>{' '}
                          <button type="button" className="danger" onClick={() => { setDeleting(null); remove(c); }}>Yes, delete</button>
                          <button type="button" onClick={() => setDeleting(null)}>Cancel</button>
                        </span>
                      ) : (
                        <button type="button" className="danger" onClick={() => setDeleting(c.id)}>Delete…</button>
                      )}
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {cameras.length === 0 && <p className="muted">No cameras.</p>}
      {admin && editing && (
        <>
          <h2>Edit camera</h2>
          <CameraForm
            key={editing}
            initial={cameras.find((c) => c.id === editing)}
            submitLabel="Save camera"
            onCancel={() => setEditing(null)}
            onSave={async (b) => {
              await api.patchCamera(editing, b);
              setEditing(null);
              load();
            }}
          />
        </>
      )}
      {admin && (
        <>
          <h2>Add a camera</h2>
          <CameraForm
            submitLabel="Add camera"
            onSave={async (b) => {
              await api.createCamera(b);
              load();
            }}
          />
        </>
      )}
    </section>
  );
}
