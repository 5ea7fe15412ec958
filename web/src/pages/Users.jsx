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
  const [reset, setReset] = useState(null); // {id, password} while an admin types a new password
  const [confirmDelete, setConfirmDelete] = useState(null); // user id awaiting "Yes, delete"
  const [notice, setNotice] = useState('');
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
  // The server checks the password too (8 characters or more); its message is shown as it comes.
  const resetPassword = async (e, u) => {
    e.preventDefault();
    if (reset.password.length < 8) return setError('The password must be 8 characters or more.');
    try {
      await api.patchUser(u.id, { password: reset.password });
      setReset(null);
      setError('');
      setNotice(`Password of ${u.username} reset.`);
    } catch (err) {
      setError(err.message);
    }
  };
  const remove = async (u) => {
    setConfirmDelete(null);
    try {
      await api.deleteUser(u.id);
      setError('');
      setNotice(`User ${u.username} deleted.`);
      load();
    } catch (err) {
      setError(err.message);
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
      {notice && !error && <p className="ok" role="status">{notice}</p>}
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
                  )}{' '}
                  {reset?.id === u.id ? (
                    <form className="inline" onSubmit={(e) => resetPassword(e, u)} aria-label={`Reset the password of ${u.username}`}>
                      <label>
                        New password for {u.username}
                        <input type="password" value={reset.password} onChange={(e) => setReset({ ...reset, password: e.target.value })} autoComplete="new-password" />
                      </label>
                      <button type="submit">Set password</button> <button type="button" onClick={() => setReset(null)}>Cancel</button>
                    </form>
                  ) : (
                    <button type="button" onClick={() => setReset({ id: u.id, password: '' })} aria-label={`Reset password of ${u.username}`}>Reset password…</button>
                  )}{' '}
                  {u.id !== me.id &&
                    (confirmDelete === u.id ? (
                      <span role="group" aria-label={`Confirm deleting ${u.username}`}>
                        <button type="button" className="danger" onClick={() => remove(u)}>Yes, delete {u.username}</button>{' '}
                        <button type="button" onClick={() => setConfirmDelete(null)}>Keep</button>
                      </span>
                    ) : (
                      <button type="button" onClick={() => setConfirmDelete(u.id)} aria-label={`Delete user ${u.username}`}>Delete…</button>
                    ))}
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
