// PersonPicker.jsx — pick an enrolled person by searching their name (GET /people?search=), or, where
// `onCreate` is given, name a new one. Used to name an unknown identity and for "This is…" on an event.
import React, { useEffect, useRef, useState } from 'react';
import { api } from './api.js';

/**
 * onPick({id, name}) for an existing person; onCreate(name) (optional) for a new person of the name typed;
 * onCancel(). `label` says what the pick is for ("Name unknown #7 as…"). `busy` disables the buttons.
 */
export function PersonPicker({ label, onPick, onCreate, onCancel, busy = false, exclude }) {
  const [text, setText] = useState('');
  const [items, setItems] = useState(null);
  const [error, setError] = useState('');
  const input = useRef(null);
  useEffect(() => {
    input.current?.focus();
  }, []);
  // Search as the user types, a little after the last key, and at once on Enter.
  const [query, setQuery] = useState('');
  useEffect(() => {
    const t = setTimeout(() => setQuery(text.trim()), 250);
    return () => clearTimeout(t);
  }, [text]);
  useEffect(() => {
    let live = true;
    api.people({ search: query || undefined, limit: 20 }).then(
      (r) => live && (setItems(r.items), setError('')),
      (e) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [query]);
  const shown = (items || []).filter((p) => !exclude || p.id !== exclude);
  const typed = text.trim();
  const exact = shown.some((p) => p.name.toLowerCase() === typed.toLowerCase());
  return (
    <div className="person-picker" role="group" aria-label={label} data-testid="person-picker">
      <form
        className="row"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery(typed);
        }}
      >
        <label>
          {label}
          <input ref={input} type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="Search by name" maxLength={127} aria-label="Search people by name" />
        </label>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      <ul className="picker-list">
        {items === null && <li className="muted">Loading…</li>}
        {items !== null && shown.length === 0 && <li className="muted">Nobody found.</li>}
        {shown.map((p) => (
          <li key={p.id}>
            <button type="button" disabled={busy} onClick={() => onPick(p)} data-testid="pick-person">
              {p.name}
            </button>
          </li>
        ))}
      </ul>
      <p>
        {onCreate && typed && !exact && (
          <button type="button" disabled={busy} onClick={() => onCreate(typed)} data-testid="create-person">
            Create a new person “{typed}”
          </button>
        )}{' '}
        <button type="button" onClick={onCancel}>Cancel</button>
      </p>
    </div>
  );
}
