import React, { useEffect, useState } from 'react';
import { api } from '../api.js';
import { useAuth } from '../auth.jsx';
import { ROLES } from '../roles.js';

function CameraPicker({ cameras, all, selected, onChange, idPrefix }) {
  return (
    <fieldset className="campicker">
      <legend>Cameras</legend>
      <label className="check">
        <input type="checkbox" checked={all} onChange={(e) => onChange(e.target.checked, selected)} /> All cameras
      </label>
      {!all &&
        cameras.map((c) => (
          <label key={c.id} className="check" htmlFor={`${idPrefix}-${c.id}`}>
            <input
              id={`${idPrefix}-${c.id}`}
              type="checkbox"
              checked={selected.includes(c.id)}
              onChange={(e) => onChange(false, e.target.checked ? [...selected, c.id] : selected.filter((x) => x !== c.id))}
            />{' '}
            {c.name}
          </label>
        ))}
    </fieldset>
  );
}

export default function Users() {
  const { user: me } = useAuth();
  const [users, setUsers] = useState([]);
  const [cameras, setCameras] = useState([]);
  const [error, setError] = useState('');
  const [form, setForm] = useState({ username: '', password: '', role: 'recognition', all_cameras: true, cameras: [] });
  const load = () => api.users({ limit: 1000 }).then((r) => setUsers(r.items), (e) => setError(e.message));
  useEffect(() => {
    load();
    api.cameras({ limit: 1000 }).then((r) => setCameras(r.items), () => {});
  }, []);
  const patch = async (u, body) => {
    try {
      await api.patchUser(u.id, body);
      setError('');
      load();
    } catch (e) {
      setError(e.message);
    }
  };
  const create = async (e) => {
    e.preventDefault();
    try {
      const body = { username: form.username, password: form.password, role: form.role, all_cameras: form.all_cameras };
      if (!form.all_cameras) body.cameras = form.cameras;
      await api.createUser(body);
      setForm({ username: '', password: '', role: 'recognition', all_cameras: true, cameras: [] });
      setError('');
      load();
    } catch (err) {
      setError(err.status === 409 ? 'That user name is taken.' : err.message);
    }
  };
  return (
    <section>
      <h1>Users</h1>
      {error && <p className="error" role="alert">{error}</p>}
      <div className="tablewrap">
        <table>
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Role</th>
              <th scope="col">Cameras</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.id} data-testid="user-row">
                <td>{u.username}</td>
                <td>
                  <label className="sr-only" htmlFor={`role-${u.id}`}>Role of {u.username}</label>
                  <select id={`role-${u.id}`} value={u.role} onChange={(e) => patch(u, { role: e.target.value })} disabled={u.id === me.id}>
                    {ROLES.map((r) => (
                      <option key={r} value={r}>{r}</option>
                    ))}
                  </select>
                </td>
                <td>
                  <CameraPicker
                    cameras={cameras}
                    all={u.all_cameras}
                    selected={u.cameras || []}
                    idPrefix={`u${u.id}`}
                    onChange={(all, sel) => patch(u, all ? { all_cameras: true } : { all_cameras: false, cameras: sel })}
                  />
                </td>
                <td>
                  {u.disabled ? 'disabled ' : 'active '}
                  {u.id !== me.id && (
                    <button type="button" onClick={() => patch(u, { disabled: !u.disabled })}>{u.disabled ? 'Enable' : 'Disable'}</button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form className="card" onSubmit={create} aria-labelledby="newuser">
        <h2 id="newuser">Add a user</h2>
        <label>
          User name
          <input name="new-username" value={form.username} onChange={(e) => setForm({ ...form, username: e.target.value })} required autoComplete="off" />
        </label>
        <label>
          Password (8 characters or more)
          <input name="new-password" type="password" minLength={8} value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} required autoComplete="new-password" />
        </label>
        <label htmlFor="new-role">Role</label>
        <select id="new-role" name="new-role" value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value })}>
          {ROLES.map((r) => (
            <option key={r} value={r}>{r}</option>
          ))}
        </select>
        <CameraPicker cameras={cameras} all={form.all_cameras} selected={form.cameras} idPrefix="new" onChange={(all, sel) => setForm({ ...form, all_cameras: all, cameras: sel })} />
        <button type="submit">Create user</button>
      </form>
    </section>
  );
}
