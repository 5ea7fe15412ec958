// csv.js — CSV export with protection against formula injection: a text cell that starts with = + - @ (or a
// tab or carriage return, which some spreadsheets also read as a formula start) is prefixed with a quote.

const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(v) {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'number' || typeof v === 'boolean' ? String(v) : String(v);
  if (typeof v === 'string' && FORMULA_START.test(s)) s = "'" + s;
  if (/[",\r\n]/.test(s)) s = '"' + s.replace(/"/g, '""') + '"';
  return s;
}

export function toCsv(header, rows) {
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

/** Events as CSV rows; expression columns only when `withExpressions`. */
export function eventsCsv(events, { withExpressions, cameraName = (id) => '' } = {}) {
  const header = ['id', 'camera_id', 'camera', 'track_id', 'person_id', 'person', 'similarity', 'started_at', 'ended_at', 'alert'];
  const exprKeys = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'];
  if (withExpressions) header.push('dominant_expression', ...exprKeys.map((k) => `expression_${k}`));
  const rows = events.map((e) => {
    const r = [e.id, e.camera_id, cameraName(e.camera_id), e.track_id, e.person ? e.person.id : '', e.person ? e.person.name : '',
      e.similarity, e.started_at, e.ended_at, e.alert];
    if (withExpressions) r.push(e.dominant_expression ?? '', ...exprKeys.map((k) => (e.expression ? e.expression[k] ?? '' : '')));
    return r;
  });
  return toCsv(header, rows);
}

export function download(filename, text, type = 'text/csv;charset=utf-8') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
