import React, { useEffect, useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { api } from '../api.js';
import { useAuth } from '../auth.jsx';
import { isAdmin } from '../roles.js';

export default function People() {
  const { user } = useAuth();
  const admin = isAdmin(user.role);
  const nav = useNavigate();
  const [search, setSearch] = useState('');
  const [query, setQuery] = useState('');
  const [items, setItems] = useState([]);
  const [cursor, setCursor] = useState(null);
  const [error, setError] = useState('');
  const [name, setName] = useState('');
  const [note, setNote] = useState('');
  const [watchlist, setWatchlist] = useState(false);

  const load = async (after) => {
    try {
      const r = await api.people({ search: query || undefined, limit: 100, cursor: after || undefined });
      setItems((old) => (after ? [...old, ...r.items] : r.items));
      setCursor(r.next_cursor);
      setError('');
    } catch (e) {
      setError(e.message);
    }
  };
  useEffect(() => {
    load(null);
  }, [query]); // eslint-disable-line react-hooks/exhaustive-deps

  const create = async (e) => {
    e.preventDefault();
    try {
      const p = await api.createPerson({ name, note, watchlist });
      nav(`/people/${p.id}`);
    } catch (err) {
      setError(err.status === 409 ? `The name ${name} is taken.` : err.message);
    }
  };

  return (
    <section>
      <h1>People</h1>
      <form className="row" role="search" onSubmit={(e) => { e.preventDefault(); setQuery(search); }}>
        <label>
          Search by name
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        </label>
        <button type="submit">Search</button>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      <ul className="people" data-testid="people-list">
        {items.map((p) => (
          <li key={p.id}>
            <Link to={`/people/${p.id}`}>{p.name}</Link>
            {admin && p.watchlist && <span className="badge">watchlist</span>}
            {admin && p.faces != null && <span className="muted"> · {p.faces} face{p.faces === 1 ? '' : 's'}</span>}
          </li>
        ))}
      </ul>
      {items.length === 0 && <p className="muted">Nobody found.</p>}
      {cursor && <button type="button" onClick={() => load(cursor)}>Load more</button>}
      {admin && (
        <form className="card" onSubmit={create} aria-labelledby="newperson">
          <h2 id="newperson">Add a person</h2>
          <label>
            Name
            <input name="name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={127} />
          </label>
          <label>
            Note
            <input name="note" value={note} onChange={(e) => setNote(e.target.value)} maxLength={1023} />
          </label>
          <label className="check">
            <input type="checkbox" checked={watchlist} onChange={(e) => setWatchlist(e.target.checked)} /> On the watchlist
          </label>
          <button type="submit">Create person</button>
        </form>
      )}
    </section>
  );
}
