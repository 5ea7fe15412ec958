// Integrations.jsx — the MQTT and webhook cards of the Settings page (admin only): MQTT's connection on this node and
// its settings (expressions, Home Assistant discovery, which alerts), and webhooks: list, add, edit, delete, a test
// button and each webhook's delivery log. Secrets are write-only: the server answers has_secret, never the secret.
import React, { useEffect, useState } from 'react';
import { api, fmtTime } from '../api.js';

const KINDS = [
  ['event', 'Events (every visit: start, identity, end)'],
  ['alert', 'Alerts'],
  ['camera', 'Camera status'],
];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const EMPTY_FILTER = { cameras: [], people: [], watchlist: false, known: false, unknown: false, hours: [] };

/** A filter as the API takes it: only what is set. */
export function filterBody(f) {
  const out = {};
  if (f.cameras.length) out.cameras = f.cameras;
  if (f.people.length) out.people = f.people;
  for (const k of ['watchlist', 'known', 'unknown']) if (f[k]) out[k] = true;
  if (f.hours.length)
    out.hours = f.hours.map((w) => (w.days && w.days.length && w.days.length < 7 ? { from: w.from, to: w.to, days: w.days } : { from: w.from, to: w.to }));
  return out;
}

/** The filter in words, for the list. */
export function describeFilter(f, cameras = [], people = []) {
  if (!f) return 'everything';
  const parts = [];
  const name = (list, id) => list.find((x) => x.id === id)?.name ?? `#${id}`;
  if (f.cameras.length) parts.push(`cameras ${f.cameras.map((id) => name(cameras, id)).join(', ')}`);
  const who = [];
  if (f.people.length) who.push(f.people.map((id) => name(people, id)).join(', '));
  if (f.watchlist) who.push('the watchlist');
  if (f.known) who.push('anyone enrolled');
  if (f.unknown) who.push('unknown faces');
  if (who.length) parts.push(who.join(' or '));
  if (f.hours.length) parts.push(f.hours.map((w) => `${w.from}–${w.to}${w.days ? ` (${w.days.join(', ')})` : ''}`).join(', '));
  return parts.length ? parts.join('; ') : 'everything';
}

/** Who is told: cameras, people, watchlist, known, unknown, time windows. */
function FilterFields({ value, onChange, cameras, people, legend }) {
  const f = value;
  const toggle = (key, id) => onChange({ ...f, [key]: f[key].includes(id) ? f[key].filter((x) => x !== id) : [...f[key], id] });
  const setWindow = (i, w) => onChange({ ...f, hours: f.hours.map((x, k) => (k === i ? w : x)) });
  return (
    <fieldset className="filter">
      <legend>{legend}</legend>
      <p className="hint">Nothing ticked: every camera, everybody, at any time.</p>
      {cameras.length > 0 && (
        <div role="group" aria-label="Only these cameras">
          Only these cameras:{' '}
          {cameras.map((c) => (
            <label key={c.id} className="check">
              <input type="checkbox" checked={f.cameras.includes(c.id)} onChange={() => toggle('cameras', c.id)} /> {c.name}
            </label>
          ))}
        </div>
      )}
      <div role="group" aria-label="Who">
        Who:{' '}
        <label className="check">
          <input type="checkbox" checked={f.watchlist} onChange={(e) => onChange({ ...f, watchlist: e.target.checked })} /> watchlist
        </label>
        <label className="check">
          <input type="checkbox" checked={f.known} onChange={(e) => onChange({ ...f, known: e.target.checked })} /> anyone enrolled
        </label>
        <label className="check">
          <input type="checkbox" checked={f.unknown} onChange={(e) => onChange({ ...f, unknown: e.target.checked })} /> unknown faces
        </label>
      </div>
      {people.length > 0 && (
        <label>
          These people
          <select
            multiple
            aria-label="These people"
            value={f.people.map(String)}
            onChange={(e) => onChange({ ...f, people: [...e.target.selectedOptions].map((o) => Number(o.value)) })}
          >
            {people.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
      )}
      {f.hours.map((w, i) => (
        <div key={i} role="group" aria-label={`Time window ${i + 1}`} className="window">
          From <input type="time" aria-label="From" value={w.from} onChange={(e) => setWindow(i, { ...w, from: e.target.value })} required /> to{' '}
          <input type="time" aria-label="To" value={w.to} onChange={(e) => setWindow(i, { ...w, to: e.target.value })} required />{' '}
          {DAYS.map((d) => (
            <label key={d} className="check">
              <input
                type="checkbox"
                aria-label={d}
                checked={!w.days || w.days.includes(d)}
                onChange={() => {
                  const days = w.days || DAYS;
                  const next = days.includes(d) ? days.filter((x) => x !== d) : DAYS.filter((x) => days.includes(x) || x === d);
                  setWindow(i, { ...w, days: next.length === 7 ? undefined : next });
                }}
              />
              {d}
            </label>
          ))}
          <button type="button" onClick={() => onChange({ ...f, hours: f.hours.filter((_, k) => k !== i) })}>
            Remove window
          </button>
        </div>
      ))}
      {f.hours.length < 8 && (
        <button type="button" onClick={() => onChange({ ...f, hours: [...f.hours, { from: '22:00', to: '06:00' }] })}>
          Add a time window
        </button>
      )}
      <p className="hint">Local time of the server; a window ending earlier than it starts runs past midnight.</p>
    </fieldset>
  );
}

function MqttCard({ cameras, people }) {
  const [m, setM] = useState(null);
  const [form, setForm] = useState(null);
  const [error, setError] = useState('');
  const [msg, setMsg] = useState('');
  const fill = (v) => {
    setM(v);
    setForm({ expression: v.expression, discovery: v.discovery, discovery_prefix: v.discovery_prefix, filter: v.filter || EMPTY_FILTER });
  };
  useEffect(() => {
    api.mqtt().then(fill, (e) => setError(`MQTT could not be loaded: ${e.message}`));
  }, []);
  if (!m) return <div className="card" aria-label="MQTT"><h2>MQTT</h2><p className="error">{error || 'Loading…'}</p></div>;
  const save = async (e) => {
    e.preventDefault();
    try {
      fill(await api.patchMqtt({ ...form, filter: filterBody(form.filter) }));
      setMsg('MQTT settings saved.');
      setError('');
    } catch (err) {
      setError(err.message);
      setMsg('');
    }
  };
  return (
    <form className="card" aria-label="MQTT" onSubmit={save}>
      <h2>MQTT</h2>
      <p data-testid="mqtt-state">
        {!m.configured
          ? 'Not configured on this node: set MIEN_MQTT=mqtt://user:password@broker:1883 (see docs/integrations.md).'
          : m.connected
            ? `Connected to ${m.broker} as ${m.client_id}; topics under ${m.prefix}/. ${m.published} messages sent, ${m.dropped} dropped.`
            : `Not connected to ${m.broker}: retrying. ${m.dropped} messages dropped meanwhile.`}
      </p>
      <label className="check">
        <input type="checkbox" checked={form.expression} onChange={(e) => setForm({ ...form, expression: e.target.checked })} /> Include expressions in
        events
      </label>
      <label className="check">
        <input type="checkbox" checked={form.discovery} onChange={(e) => setForm({ ...form, discovery: e.target.checked })} /> Home Assistant discovery
      </label>
      <label>
        Discovery prefix
        <input value={form.discovery_prefix} onChange={(e) => setForm({ ...form, discovery_prefix: e.target.value })} required />
      </label>
      <FilterFields legend="Which alerts are published" value={form.filter} onChange={(f) => setForm({ ...form, filter: f })} cameras={cameras} people={people} />
      {error && <p className="error" role="alert">{error}</p>}
      {msg && <p role="status">{msg}</p>}
      <button type="submit">Save MQTT settings</button>
    </form>
  );
}

/** Add or edit one webhook. The secret field is write-only: empty keeps the stored one. */
function WebhookForm({ initial, cameras, people, onSave, onCancel }) {
  const [name, setName] = useState(initial?.name || '');
  const [url, setUrl] = useState(initial?.url || '');
  const [kinds, setKinds] = useState(initial?.events || ['alert']);
  const [secret, setSecret] = useState('');
  const [dropSecret, setDropSecret] = useState(false);
  const [enabled, setEnabled] = useState(initial ? initial.enabled : true);
  const [expression, setExpression] = useState(!!initial?.expression);
  const [filter, setFilter] = useState(initial?.filter || EMPTY_FILTER);
  const [error, setError] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    if (!kinds.length) {
      setError('Pick at least one of events, alerts and camera status.');
      return;
    }
    const body = { name, events: kinds, enabled, expression, filter: filterBody(filter) };
    if (!initial || url !== initial.url) body.url = url;
    if (secret) body.secret = secret;
    else if (dropSecret) body.secret = null;
    try {
      await onSave(body);
      setError('');
      if (!initial) {
        setName('');
        setUrl('');
        setSecret('');
        setFilter(EMPTY_FILTER);
      }
    } catch (err) {
      setError(err.message);
    }
  };
  const label = initial ? `Edit webhook ${initial.name || initial.id}` : 'Add a webhook';
  return (
    <form className="webhook-form" aria-label={label} onSubmit={submit}>
      <label>
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} maxLength={127} />
      </label>
      <label>
        URL (http or https)
        <input name="url" type="url" value={url} onChange={(e) => setUrl(e.target.value)} required placeholder="https://example.com/hooks/mien" />
      </label>
      <div role="group" aria-label="Send">
        {KINDS.map(([k, text]) => (
          <label key={k} className="check">
            <input type="checkbox" checked={kinds.includes(k)} onChange={() => setKinds(kinds.includes(k) ? kinds.filter((x) => x !== k) : [...kinds, k])} /> {text}
          </label>
        ))}
      </div>
      <label>
        Signing secret (8 to 256 characters){initial?.has_secret ? '; empty keeps the current one' : ''}
        <input name="secret" type="password" autoComplete="new-password" value={secret} onChange={(e) => setSecret(e.target.value)} minLength={8} maxLength={256} />
      </label>
      {initial?.has_secret && (
        <label className="check">
          <input type="checkbox" checked={dropSecret} onChange={(e) => setDropSecret(e.target.checked)} /> Remove the secret (unsigned deliveries)
        </label>
      )}
      <label className="check">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /> Enabled
      </label>
      <label className="check">
        <input type="checkbox" checked={expression} onChange={(e) => setExpression(e.target.checked)} /> Include expressions
      </label>
      <FilterFields legend="Who is told" value={filter} onChange={setFilter} cameras={cameras} people={people} />
      {error && <p className="error" role="alert">{error}</p>}
      <button type="submit">{initial ? 'Save webhook' : 'Add webhook'}</button>
      {onCancel && (
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      )}
    </form>
  );
}

function Deliveries({ hook }) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState('');
  const load = () => api.deliveries(hook.id, { limit: 50 }).then((d) => setItems(d.items), (e) => setError(e.message));
  useEffect(() => {
    load();
  }, [hook.id]);
  if (error) return <p className="error">{error}</p>;
  if (!items) return <p>Loading…</p>;
  if (!items.length) return <p>No deliveries yet.</p>;
  return (
    <div className="tablewrap">
      <table aria-label={`Deliveries of ${hook.name || hook.url}`}>
        <thead>
          <tr>
            <th>When</th>
            <th>Type</th>
            <th>About</th>
            <th>Status</th>
            <th>Attempts</th>
            <th>HTTP</th>
            <th>Error</th>
          </tr>
        </thead>
        <tbody>
          {items.map((d) => (
            <tr key={d.id}>
              <td>{fmtTime(d.created_at)}</td>
              <td>{d.type}</td>
              <td>{d.subject}</td>
              <td>{d.status}{d.next_attempt_at ? ` (next ${fmtTime(d.next_attempt_at)})` : ''}</td>
              <td>{d.attempts}</td>
              <td>{d.http_status ?? '—'}</td>
              <td>{d.error}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <button type="button" onClick={load}>
        Refresh
      </button>
    </div>
  );
}

function WebhooksCard({ cameras, people }) {
  const [hooks, setHooks] = useState(null);
  const [error, setError] = useState('');
  const [editing, setEditing] = useState(null);
  const [open, setOpen] = useState(null); // the webhook whose log is shown
  const [deleting, setDeleting] = useState(null);
  const [tested, setTested] = useState({}); // id -> outcome of the test button
  const load = () => api.webhooks({ limit: 100 }).then((d) => setHooks(d.items), (e) => setError(`Webhooks could not be loaded: ${e.message}`));
  useEffect(() => {
    load();
  }, []);
  const test = async (h) => {
    setTested({ ...tested, [h.id]: 'Sending…' });
    try {
      const r = await api.testWebhook(h.id);
      setTested((t) => ({
        ...t,
        [h.id]: r.delivered ? `Delivered: HTTP ${r.http_status} in ${r.duration_ms} ms` : `Failed: ${r.error}${r.http_status ? '' : ''}`,
      }));
    } catch (err) {
      setTested((t) => ({ ...t, [h.id]: `Failed: ${err.message}` }));
    }
  };
  const remove = async (h) => {
    setDeleting(null);
    try {
      await api.deleteWebhook(h.id);
      if (open === h.id) setOpen(null);
      load();
    } catch (err) {
      setError(err.message);
    }
  };
  return (
    <div className="card wide" aria-label="Webhooks">
      <h2>Webhooks</h2>
      <p className="hint">
        Each delivery is a POST of JSON signed with X-Mien-Signature: sha256=HMAC of the body under the secret (docs/integrations.md shows how to check it).
      </p>
      {error && <p className="error">{error}</p>}
      {hooks && !hooks.length && <p>No webhooks yet.</p>}
      {hooks && hooks.length > 0 && (
        <ul className="webhooks">
          {hooks.map((h) => (
            <li key={h.id} aria-label={`Webhook ${h.name || h.url}`}>
              {editing === h.id ? (
                <WebhookForm
                  initial={h}
                  cameras={cameras}
                  people={people}
                  onCancel={() => setEditing(null)}
                  onSave={async (body) => {
                    await api.patchWebhook(h.id, body);
                    setEditing(null);
                    load();
                  }}
                />
              ) : (
                <>
                  <strong>{h.name || `Webhook ${h.id}`}</strong> <code>{h.url}</code>{' '}
                  <span>
                    {h.events.join(', ')}
                    {h.enabled ? '' : ' (disabled)'}; {h.has_secret ? 'signed' : 'unsigned'}; {describeFilter(h.filter, cameras, people)}
                  </span>
                  <div className="actions">
                    <button type="button" onClick={() => test(h)}>
                      Test
                    </button>
                    <button type="button" onClick={() => setOpen(open === h.id ? null : h.id)}>
                      {open === h.id ? 'Hide deliveries' : 'Deliveries'}
                    </button>
                    <button type="button" onClick={() => setEditing(h.id)}>
                      Edit
                    </button>
                    {deleting === h.id ? (
                      <span role="alertdialog" aria-label={`Delete webhook ${h.name || h.id}`}>
                        <span className="warning">Delete this webhook and its delivery log?</span>{' '}
                        <button type="button" className="danger" onClick={() => remove(h)}>
                          Yes, delete
                        </button>
                        <button type="button" onClick={() => setDeleting(null)}>
                          Keep
                        </button>
                      </span>
                    ) : (
                      <button type="button" className="danger" onClick={() => setDeleting(h.id)}>
                        Delete…
                      </button>
                    )}
                  </div>
                  {tested[h.id] && <p data-testid={`tested-${h.id}`}>{tested[h.id]}</p>}
                  {open === h.id && <Deliveries hook={h} />}
                </>
              )}
            </li>
          ))}
        </ul>
      )}
      <h3>Add a webhook</h3>
      <WebhookForm
        cameras={cameras}
        people={people}
        onSave={async (body) => {
          await api.createWebhook(body);
          load();
        }}
      />
    </div>
  );
}

/** The MQTT and webhook cards; loads the cameras and people their filters name. */
export default function Integrations() {
  const [cameras, setCameras] = useState([]);
  const [people, setPeople] = useState([]);
  useEffect(() => {
    api.cameras({ limit: 1000 }).then((d) => setCameras(d.items || []), () => {});
    api.people({ limit: 1000 }).then((d) => setPeople(d.items || []), () => {});
  }, []);
  return (
    <>
      <MqttCard cameras={cameras} people={people} />
      <WebhooksCard cameras={cameras} people={people} />
    </>
  );
}
