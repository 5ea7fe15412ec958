// AlertRules.jsx — the Alerts page's rules for unknown faces (admins; GET/POST /alert-rules, PATCH/DELETE
// /alert-rules/{id}): an unknown face at a camera (or any) within a local time window, or the same unknown face
// seen at least N times in D days. The form checks what the server checks before sending (review.js).
import React, { useEffect, useState } from 'react';
import { api } from '../api.js';
import { RULE_KINDS, ruleBody, ruleForm, ruleWhat, ruleWindow, validateRule } from '../review.js';

/** The form of a new rule (`rule` undefined) or of an existing one. onSave(body) may throw (the server's error). */
export function RuleForm({ rule, cameras, onSave, onCancel }) {
  const [f, setF] = useState(() => ruleForm(rule));
  const [errors, setErrors] = useState({});
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setF((x) => ({ ...x, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value }));
  const submit = async (e) => {
    e.preventDefault();
    const errs = validateRule(f);
    setErrors(errs);
    if (Object.keys(errs).length) return;
    setBusy(true);
    setError('');
    try {
      await onSave(ruleBody(f));
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  const id = rule ? `rule-${rule.id}` : 'rule-new';
  const field = (k) => ({ 'aria-invalid': !!errors[k], 'aria-describedby': errors[k] ? `${id}-${k}-error` : undefined });
  const msg = (k) => errors[k] && <span id={`${id}-${k}-error`} className="error" data-testid={`rule-error-${k}`}>{errors[k]}</span>;
  return (
    <form className="card rule-form" onSubmit={submit} aria-label={rule ? `Edit rule ${rule.name}` : 'New rule'} noValidate>
      <label>
        Name
        <input value={f.name} onChange={set('name')} maxLength={127} {...field('name')} />
      </label>
      {msg('name')}
      <label>
        Camera
        <select value={f.camera_id} onChange={set('camera_id')}>
          <option value="">All cameras</option>
          {cameras.map((c) => (
            <option key={c.id} value={c.id}>{c.name}</option>
          ))}
        </select>
      </label>
      <label>
        Alert on
        <select value={f.kind} onChange={set('kind')} {...field('kind')}>
          {Object.entries(RULE_KINDS).map(([k, v]) => (
            <option key={k} value={k}>{v}</option>
          ))}
        </select>
      </label>
      {msg('kind')}
      <fieldset>
        <legend>Between (local time; both empty: all day; 22:00 to 06:00 runs overnight)</legend>
        <div className="row">
          <div>
            <label>
              From (HH:MM)
              <input value={f.from} onChange={set('from')} placeholder="22:00" inputMode="numeric" maxLength={5} {...field('from')} />
            </label>
            {msg('from')}
          </div>
          <div>
            <label>
              To (HH:MM)
              <input value={f.to} onChange={set('to')} placeholder="06:00" inputMode="numeric" maxLength={5} {...field('to')} />
            </label>
            {msg('to')}
          </div>
        </div>
      </fieldset>
      {f.kind === 'repeat_unknown' && (
        <div className="row">
          <div>
            <label>
              At least this many visits (1–1000)
              <input value={f.min_visits} onChange={set('min_visits')} inputMode="numeric" {...field('min_visits')} />
            </label>
            {msg('min_visits')}
          </div>
          <div>
            <label>
              Within days (1–365)
              <input value={f.days} onChange={set('days')} inputMode="numeric" {...field('days')} />
            </label>
            {msg('days')}
          </div>
        </div>
      )}
      <label className="check">
        <input type="checkbox" checked={f.enabled} onChange={set('enabled')} /> Enabled
      </label>
      {error && <p className="error" role="alert">{error}</p>}
      <button type="submit" disabled={busy}>{rule ? 'Save rule' : 'Add rule'}</button>{' '}
      <button type="button" onClick={onCancel}>Cancel</button>
    </form>
  );
}

/** The list of rules with add, edit, enable/disable and delete (confirmed in the page). */
export function AlertRules({ cameras, onRules }) {
  const [rules, setRules] = useState(null);
  const [error, setError] = useState('');
  const [editing, setEditing] = useState(null); // 'new' | rule id
  const [confirm, setConfirm] = useState(null); // rule id awaiting "Yes, delete"
  const load = async () => {
    try {
      const r = await api.alertRules({ limit: 1000 });
      setRules(r.items);
      onRules?.(r.items);
      setError('');
    } catch (e) {
      setError(e.message);
      setRules((x) => x || []);
    }
  };
  useEffect(() => {
    load();
  }, []); // eslint-disable-line react-hooks/exhaustive-deps
  const camName = (id) => (id == null ? 'All cameras' : cameras.find((c) => c.id === id)?.name ?? `camera ${id}`);
  const create = async (body) => {
    await api.createAlertRule(body);
    setEditing(null);
    load();
  };
  const save = (id) => async (body) => {
    await api.patchAlertRule(id, body);
    setEditing(null);
    load();
  };
  const toggle = async (r) => {
    try {
      await api.patchAlertRule(r.id, { enabled: !r.enabled });
      load();
    } catch (e) {
      setError(e.message);
    }
  };
  const remove = async (id) => {
    setConfirm(null);
    try {
      await api.deleteAlertRule(id);
      load();
    } catch (e) {
      setError(e.message);
    }
  };
  return (
    <section className="alert-rules" aria-labelledby="rules-heading" data-testid="alert-rules">
      <h2 id="rules-heading">Rules for unknown faces</h2>
      <p className="muted">
        Alert when a face nobody is enrolled as is seen at a camera within a time window, or when the same unknown face comes back often (a
        repeat visitor). The alert cooldown of the Settings page applies.
      </p>
      {error && <p className="error" role="alert">{error}</p>}
      {rules && rules.length === 0 && <p className="muted">No rules.</p>}
      {rules && rules.length > 0 && (
        <div className="tablewrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Camera</th>
                <th scope="col">Alerts on</th>
                <th scope="col">When</th>
                <th scope="col">Enabled</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {rules.map((r) =>
                editing === r.id ? (
                  <tr key={r.id}>
                    <td colSpan={6}>
                      <RuleForm rule={r} cameras={cameras} onSave={save(r.id)} onCancel={() => setEditing(null)} />
                    </td>
                  </tr>
                ) : (
                  <tr key={r.id} data-testid="rule-row" data-rule-id={r.id}>
                    <td>{r.name}</td>
                    <td>{camName(r.camera_id)}</td>
                    <td>{ruleWhat(r)}</td>
                    <td>{ruleWindow(r)}</td>
                    <td>
                      <label className="check">
                        <input type="checkbox" checked={!!r.enabled} onChange={() => toggle(r)} aria-label={`Rule ${r.name} enabled`} />
                      </label>
                    </td>
                    <td>
                      <button type="button" onClick={() => setEditing(r.id)}>Edit</button>
                      {confirm === r.id ? (
                        <span role="group" aria-label={`Confirm deleting rule ${r.name}`}>
                          <button type="button" className="danger" onClick={() => remove(r.id)}>Yes, delete {r.name}</button>{' '}
                          <button type="button" onClick={() => setConfirm(null)}>Keep</button>
                        </span>
                      ) : (
                        <button type="button" className="danger" onClick={() => setConfirm(r.id)}>Delete</button>
                      )}
                    </td>
                  </tr>
                ),
              )}
            </tbody>
          </table>
        </div>
      )}
      {editing === 'new' ? (
        <RuleForm cameras={cameras} onSave={create} onCancel={() => setEditing(null)} />
      ) : (
        <button type="button" onClick={() => setEditing('new')}>Add a rule</button>
      )}
    </section>
  );
}
