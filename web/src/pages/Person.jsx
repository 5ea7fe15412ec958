import React, { useEffect, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { api, fmtTime } from '../api.js';
import { useAuth } from '../auth.jsx';
import { isAdmin } from '../roles.js';
import { FacePicker, MatchWarning } from './EnrolPick.jsx';
import { PersonCorrections } from '../Corrections.jsx';

export const VERDICTS = {
  enrolled: 'Enrolled',
  no_face: 'No face found in this photo',
  several_faces: 'Several faces in this photo: pick one, or use a photo that shows exactly one',
  too_small: 'The face is too small (it must be at least 40 px tall)',
  no_face_at_box: 'No face at the place chosen',
  mismatch: 'This face does not look like the person’s other faces',
  matches_other: 'This face looks like someone else',
  cancelled: 'Not enrolled (cancelled)',
};

export function Verdict({ file, result }) {
  if (!result) return <li data-testid="verdict">{file}: uploading…</li>;
  const v = result.verdict || (result.error ? 'error' : '');
  const text = VERDICTS[v] || (result.error ? `Error: ${result.error}` : v);
  return (
    <li data-testid="verdict" data-verdict={v} className={v === 'enrolled' ? 'ok' : 'bad'}>
      {file}: <strong>{text}</strong>
      {v === 'several_faces' && result.faces != null && ` (${result.faces} faces)`}
      {result.confirmed && ` (confirmed despite ${result.warning === 'matches_other' ? 'looking like someone else' : 'a mismatch'})`}
    </li>
  );
}

export default function Person() {
  const { id } = useParams();
  const { user } = useAuth();
  const admin = isAdmin(user.role);
  const nav = useNavigate();
  const [person, setPerson] = useState(null);
  const [faces, setFaces] = useState([]);
  const [error, setError] = useState('');
  const [uploads, setUploads] = useState([]); // {key, file (a File), result}
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [confirmFace, setConfirmFace] = useState(null); // face id awaiting "Yes, delete"
  const [edit, setEdit] = useState(null); // {name, note} while editing

  const load = async () => {
    try {
      setPerson(await api.person(id));
      if (admin) setFaces((await api.faces(id)).items);
    } catch (e) {
      setError(e.status === 404 ? 'No such person.' : e.message);
    }
  };
  useEffect(() => {
    load();
  }, [id]); // eslint-disable-line react-hooks/exhaustive-deps

  // One upload (again): with query {face: N} for a face picked from a group photo, {confirm: true} to enrol
  // despite a mismatch warning.
  const send = async (key, file, query) => {
    setUploads((u) => u.map((x) => (x.key === key ? { ...x, result: undefined } : x)));
    let result;
    try {
      result = await api.enroll(id, file, query);
    } catch (err) {
      result = { error: err.message };
    }
    setUploads((u) => u.map((x) => (x.key === key ? { ...x, result } : x)));
    return result;
  };
  const enroll = async (e) => {
    const files = [...e.target.files];
    e.target.value = '';
    for (const f of files) {
      const key = `${Date.now()}-${Math.random()}`;
      setUploads((u) => [...u, { key, file: f }]);
      await send(key, f);
    }
    load();
  };
  const pick = async (u, face) => {
    await send(u.key, u.file, { face });
    load();
  };
  const confirmEnroll = async (u) => {
    await send(u.key, u.file, { face: u.result.face, confirm: true });
    load();
  };
  const cancelUpload = (u) => setUploads((all) => all.map((x) => (x.key === u.key ? { ...x, result: { verdict: 'cancelled' } } : x)));

  const toggleWatchlist = async (e) => {
    try {
      setPerson(await api.patchPerson(id, { watchlist: e.target.checked }));
    } catch (err) {
      setError(err.message);
    }
  };

  const save = async (e) => {
    e.preventDefault();
    if (!edit.name.trim()) return setError('The name cannot be empty.');
    try {
      setPerson(await api.patchPerson(id, { name: edit.name.trim(), note: edit.note }));
      setEdit(null);
      setError('');
    } catch (err) {
      setError(err.message);
    }
  };
  const deleteFace = async (faceId) => {
    setConfirmFace(null);
    try {
      await api.deleteFace(id, faceId);
      load();
    } catch (err) {
      setError(err.message);
    }
  };

  const erase = async () => {
    try {
      await api.deletePerson(id);
      nav('/people');
    } catch (err) {
      setError(err.message);
    }
  };

  if (!person) return <section>{error ? <p className="error" role="alert">{error}</p> : <p>Loading…</p>}</section>;
  return (
    <section>
      <p>
        <Link to="/people">← People</Link>
      </p>
      <h1 data-testid="person-name">{person.name}</h1>
      {error && <p className="error" role="alert">{error}</p>}
      <p>
        <Link to={`/events?person=${person.id}`}>Events of this person</Link>
      </p>
      {admin && (
        <>
          {person.note && !edit && <p className="note" data-testid="person-note">{person.note}</p>}
          {edit ? (
            <form className="card" onSubmit={save} aria-label="Edit person">
              <label>
                Name
                <input value={edit.name} onChange={(e) => setEdit({ ...edit, name: e.target.value })} required maxLength={200} />
              </label>
              <label>
                Note
                <textarea value={edit.note} onChange={(e) => setEdit({ ...edit, note: e.target.value })} maxLength={2000} />
              </label>
              <button type="submit">Save</button>{' '}
              <button type="button" onClick={() => setEdit(null)}>Cancel</button>
            </form>
          ) : (
            <p>
              <button type="button" onClick={() => setEdit({ name: person.name, note: person.note || '' })}>Edit name and note</button>
            </p>
          )}
          <label className="check">
            <input type="checkbox" checked={!!person.watchlist} onChange={toggleWatchlist} data-testid="watchlist" /> On the watchlist (alerts when seen)
          </label>
          <h2>Enrolled faces</h2>
          {faces.length === 0 && <p className="muted">No faces enrolled.</p>}
          <ul className="faces">
            {faces.map((f) => (
              <li key={f.id} data-testid="face">
                <img src={api.faceThumbnailUrl(person.id, f.id)} alt={`Face ${f.id} of ${person.name}`} width="96" height="96" />
                <span className="muted">{fmtTime(f.created_at)}</span>
                {confirmFace === f.id ? (
                  <span role="group" aria-label={`Confirm deleting face ${f.id}`}>
                    <button type="button" className="danger" onClick={() => deleteFace(f.id)}>Yes, delete face {f.id}</button>{' '}
                    <button type="button" onClick={() => setConfirmFace(null)}>Keep</button>
                  </span>
                ) : (
                  <button type="button" onClick={() => setConfirmFace(f.id)} aria-label={`Delete face ${f.id}`}>Delete face</button>
                )}
              </li>
            ))}
          </ul>
          <h2>Enroll from photos</h2>
          <label>
            Photos (JPEG, PNG or WebP; a group photo lets you pick the face)
            <input type="file" accept="image/jpeg,image/png,image/webp" multiple onChange={enroll} data-testid="enroll-input" />
          </label>
          {uploads.length > 0 && (
            <ul className="verdicts">
              {uploads.map((u) => (
                <React.Fragment key={u.key}>
                  <Verdict file={u.file.name} result={u.result} />
                  {u.result && u.result.verdict === 'several_faces' && Array.isArray(u.result.found) && (
                    <li>
                      <FacePicker file={u.file} found={u.result.found} onPick={(face) => pick(u, face)} onCancel={() => cancelUpload(u)} />
                    </li>
                  )}
                  {u.result && (u.result.verdict === 'mismatch' || u.result.verdict === 'matches_other') && (
                    <li>
                      <MatchWarning result={u.result} personName={person.name} onConfirm={() => confirmEnroll(u)} onCancel={() => cancelUpload(u)} />
                    </li>
                  )}
                </React.Fragment>
              ))}
            </ul>
          )}
          <PersonCorrections person={person} />
          <div className="danger card">
            <h2>Erase this person</h2>
            {!confirmDelete ? (
              <button type="button" className="danger" onClick={() => setConfirmDelete(true)}>Delete person…</button>
            ) : (
              <div role="alertdialog" aria-labelledby="erase-warning">
                <p id="erase-warning" className="warning">
                  This erases {person.name}’s biometric data: every enrolled face (embeddings and thumbnails), every event that identified them
                  with its snapshot, and those events’ alerts. It cannot be undone.
                </p>
                <button type="button" className="danger" onClick={erase}>Erase {person.name} and their biometric data</button>{' '}
                <button type="button" onClick={() => setConfirmDelete(false)}>Cancel</button>
              </div>
            )}
          </div>
        </>
      )}
    </section>
  );
}
