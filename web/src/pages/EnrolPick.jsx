// EnrolPick.jsx — what the Person page shows when a photo cannot be enrolled as it is: the faces of a group
// photo to pick one from (verdict several_faces, whose `found` lists them in /analyze's order), and the
// warning before enrolling a face that does not look like the person (mismatch) or looks more like someone
// else (matches_other), which the user may override ("Enroll anyway" repeats the upload with confirm=true).
import React, { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';

/**
 * The photo `file` (a File or Blob) with a numbered button over each face of `found` ([{index, box:[x,y,w,h]}],
 * picture pixels). Buttons are ordinary buttons, so Tab and Enter pick as well as a click. onPick(index).
 */
export function FacePicker({ file, found, onPick, onCancel }) {
  const [url, setUrl] = useState('');
  const [size, setSize] = useState(null); // the picture's own width and height, once loaded
  useEffect(() => {
    if (!file || typeof URL.createObjectURL !== 'function') return undefined;
    const u = URL.createObjectURL(file);
    setUrl(u);
    return () => typeof URL.revokeObjectURL === 'function' && URL.revokeObjectURL(u);
  }, [file]);
  const pct = (v, total) => `${((100 * v) / total).toFixed(3)}%`;
  return (
    <div className="face-picker" role="group" aria-label="Pick the face to enroll" data-testid="face-picker">
      <p>This photo shows {found.length} faces: pick the one to enroll.</p>
      <div className="face-picker-photo">
        {url && (
          <img
            src={url}
            alt="The group photo"
            onLoad={(e) => setSize({ width: e.target.naturalWidth, height: e.target.naturalHeight })}
          />
        )}
        {size &&
          found.map((f) => (
            <button
              key={f.index}
              type="button"
              className="face-box"
              data-testid="face-box"
              aria-label={`Face ${f.index + 1}`}
              title={`Enroll face ${f.index + 1}`}
              style={{ left: pct(f.box[0], size.width), top: pct(f.box[1], size.height), width: pct(f.box[2], size.width), height: pct(f.box[3], size.height) }}
              onClick={() => onPick(f.index)}
            >
              <span>{f.index + 1}</span>
            </button>
          ))}
      </div>
      {/* The same choice as a plain list, for when the photo cannot be shown (or is hard to read). */}
      <p className="face-picker-list">
        {found.map((f) => (
          <button key={f.index} type="button" onClick={() => onPick(f.index)} aria-label={`Enroll face ${f.index + 1}`}>
            Face {f.index + 1}
          </button>
        ))}{' '}
        <button type="button" onClick={onCancel}>Cancel</button>
      </p>
    </div>
  );
}

/**
 * The warning of a mismatch or matches_other verdict (`result`, the 422 reply) for enrolling a face for
 * `personName`: says which person the face looks like, with a link to them. onConfirm() / onCancel().
 * `subject` and `confirmLabel` word it for other uses (naming an unknown identity: "These faces", "Name anyway").
 */
export function MatchWarning({ result, personName, onConfirm, onCancel, subject = 'This face', confirmLabel = 'Enroll anyway' }) {
  const sim = typeof result.similarity === 'number' ? result.similarity.toFixed(2) : '?';
  const hasThreshold = typeof result.threshold === 'number';
  const threshold = hasThreshold ? result.threshold.toFixed(2) : '?';
  const other = result.person || {};
  const plural = subject !== 'This face';
  return (
    <div role="alertdialog" aria-label="Face mismatch" className="match-warning" data-testid="match-warning" data-verdict={result.verdict}>
      {result.verdict === 'matches_other' ? (
        <p className="warning">
          {subject} {plural ? 'look' : 'looks'} more like <Link to={`/people/${other.id}`}>{other.name}</Link> (similarity {sim}
          {hasThreshold || !plural ? `, threshold ${threshold}` : ''}) than like {personName}.
        </p>
      ) : (
        <p className="warning">
          {subject} {plural ? 'do' : 'does'} not look like {personName}’s other faces (similarity {sim}
          {hasThreshold || !plural ? `, below the threshold ${threshold}` : ''}).
        </p>
      )}
      <button type="button" onClick={onConfirm}>{confirmLabel}</button> <button type="button" onClick={onCancel}>Cancel</button>
    </div>
  );
}
