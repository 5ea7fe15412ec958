import React, { useEffect, useState } from 'react';
import { api } from '../api.js';

export default function Settings() {
  const [s, setS] = useState(null);
  const [form, setForm] = useState({ recognition_threshold: '', analysis_fps: '', retention_days: '', alert_cooldown_minutes: '' });
  const [msg, setMsg] = useState('');
  const [error, setError] = useState('');
  const fill = (v) => {
    setS(v);
    setForm({
      recognition_threshold: v.recognition_threshold ?? '',
      analysis_fps: v.analysis_fps ?? '',
      retention_days: v.retention_days ?? '',
      alert_cooldown_minutes: v.alert_cooldown_minutes ?? '',
    });
  };
  useEffect(() => {
    api.settings().then(fill, (e) => setError(e.message));
  }, []);
  const save = async (e) => {
    e.preventDefault();
    const body = {
      analysis_fps: Number(form.analysis_fps),
      retention_days: Number(form.retention_days),
      alert_cooldown_minutes: Number(form.alert_cooldown_minutes),
    };
    // The server takes a number only: an empty field leaves the threshold as it is (it cannot go back to null).
    if (form.recognition_threshold !== '') body.recognition_threshold = Number(form.recognition_threshold);
    try {
      fill(await api.patchSettings(body));
      setMsg('Saved.');
      setError('');
    } catch (err) {
      setError(err.message);
      setMsg('');
    }
  };
  if (!s) return <section><h1>Settings</h1>{error ? <p className="error" role="alert">{error}</p> : <p>Loading…</p>}</section>;
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  return (
    <section>
      <h1>Settings</h1>
      <form className="card" onSubmit={save}>
        <label>
          Recognition threshold (0 to 1; empty while unset = the model’s calibrated default)
          <input name="recognition_threshold" type="number" min="0" max="1" step="0.01" value={form.recognition_threshold} onChange={set('recognition_threshold')} />
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
        {error && <p className="error" role="alert">{error}</p>}
        {msg && <p role="status">{msg}</p>}
        <button type="submit">Save settings</button>
      </form>
    </section>
  );
}
