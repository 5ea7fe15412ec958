import React, { useEffect, useState } from 'react';
import { api } from '../api.js';
import Integrations from './Integrations.jsx';

const FIELDS = ['recognition_threshold', 'analysis_fps', 'retention_days', 'alert_cooldown_minutes', 'snapshot_width', 'snapshot_quality'];

// Bytes in human units (1 kB = 1000 B, as disks are sold).
export function humanBytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

// Days in human units: "3.5 days", "2.1 years".
export function humanDays(d) {
  if (d === null || d === undefined) return '—';
  if (d >= 36500) return `${Math.round(d / 365)} years`;
  if (d >= 730) return `${(d / 365).toFixed(1)} years`;
  if (d >= 10) return `${Math.floor(d)} days`;
  return `${d.toFixed(1)} days`;
}

// The storage figures of GET /storage, in words.
function Storage({ st }) {
  const rate = st.rate_window_days === 1 ? 'last 24 h' : 'last 7 days';
  return (
    <div className="card" aria-label="Storage">
      <h2>Storage</h2>
      <dl className="storage">
        <dt>Database size</dt>
        <dd data-testid="database-size">{humanBytes(st.database_bytes)}</dd>
        <dt>Events stored</dt>
        <dd>
          {st.events} ({humanBytes(st.picture_bytes)} of pictures{st.bytes_per_event !== null ? `, ${humanBytes(st.bytes_per_event)} per event` : ''})
        </dd>
        <dt>Current rate</dt>
        <dd>
          {st.rate_window_days
            ? `${Math.round(st.events_per_day)} events, ${humanBytes(st.bytes_per_day)} per day (${rate})`
            : 'no events in the last 7 days'}
        </dd>
        <dt>Free space</dt>
        <dd>{st.free_bytes === null ? 'not known here (the database runs on its own server)' : humanBytes(st.free_bytes)}</dd>
        <dt>Days it will hold</dt>
        <dd data-testid="days-left">{st.days_left === null ? '—' : `${humanDays(st.days_left)} at the current rate`}</dd>
        <dt>Retention</dt>
        <dd>
          {st.retention_bounded
            ? `events older than ${st.retention_days} days are deleted${
                st.retained_bytes !== null ? `: the pictures level off near ${humanBytes(st.retained_bytes)}` : ''
              }${st.retention_fits === false ? ', more than the free space' : ''}`
            : 'events are kept forever: the database grows without bound'}
        </dd>
      </dl>
    </div>
  );
}

export default function Settings() {
  const [s, setS] = useState(null);
  const [st, setSt] = useState(null);
  const [form, setForm] = useState(Object.fromEntries(FIELDS.map((k) => [k, ''])));
  const [msg, setMsg] = useState('');
  const [error, setError] = useState('');
  const fill = (v) => {
    setS(v);
    setForm(Object.fromEntries(FIELDS.map((k) => [k, v[k] ?? ''])));
  };
  const loadStorage = () => api.storage().then(setSt, (e) => setError(e.message));
  useEffect(() => {
    api.settings().then(fill, (e) => setError(e.message));
    loadStorage();
  }, []);
  const save = async (e) => {
    e.preventDefault();
    const body = {
      analysis_fps: Number(form.analysis_fps),
      retention_days: Number(form.retention_days),
      alert_cooldown_minutes: Number(form.alert_cooldown_minutes),
      snapshot_width: Number(form.snapshot_width),
      snapshot_quality: Number(form.snapshot_quality),
      // empty: back to the model's calibrated default
      recognition_threshold: form.recognition_threshold === '' ? null : Number(form.recognition_threshold),
    };
    try {
      fill(await api.patchSettings(body));
      loadStorage();
      setMsg('Saved.');
      setError('');
    } catch (err) {
      setError(err.message);
      setMsg('');
    }
  };
  if (!s) return <section><h1>Settings</h1>{error ? <p className="error" role="alert">{error}</p> : <p>Loading…</p>}</section>;
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const inForce = `in force: ${s.recognition_threshold_in_force}${s.recognition_threshold === null ? ' (model default)' : ''}`;
  return (
    <section>
      <h1>Settings</h1>
      <form className="card" onSubmit={save}>
        <label>
          Recognition threshold (0 to 1; empty = the calibrated default of the model in use, {s.recognition_model}: {s.recognition_model_default})
          <input name="recognition_threshold" type="number" min="0" max="1" step="0.01" placeholder={inForce} value={form.recognition_threshold} onChange={set('recognition_threshold')} />
          <small data-testid="threshold-in-force">{inForce}</small>
        </label>
        <label>
          Analysis rate (frames per second per camera)
          <input name="analysis_fps" type="number" min="0.1" max="60" step="0.1" value={form.analysis_fps} onChange={set('analysis_fps')} required />
        </label>
        <label>
          Retention of events (days)
          <input name="retention_days" type="number" min="0" max="3650" step="1" value={form.retention_days} onChange={set('retention_days')} required />
        </label>
        <label>
          Alert cooldown (minutes; further visits of the same person at the same camera add to the open alert; 0 = an alert every visit)
          <input name="alert_cooldown_minutes" type="number" min="0" max="1440" step="1" value={form.alert_cooldown_minutes} onChange={set('alert_cooldown_minutes')} required />
        </label>
        <label>
          Event snapshot width (pixels, 160 to 3840; 0 = no snapshot, only the face crop)
          <input name="snapshot_width" type="number" min="0" max="3840" step="1" value={form.snapshot_width} onChange={set('snapshot_width')} required />
        </label>
        <label>
          Event snapshot JPEG quality (30 to 95)
          <input name="snapshot_quality" type="number" min="30" max="95" step="1" value={form.snapshot_quality} onChange={set('snapshot_quality')} required />
        </label>
        {error && <p className="error" role="alert">{error}</p>}
        {msg && <p role="status">{msg}</p>}
        <button type="submit">Save settings</button>
      </form>
      {st && <Storage st={st} />}
      <Integrations />
    </section>
  );
}
