import { describe, expect, it } from 'vitest';
import { csvCell, eventsCsv, toCsv } from './csv.js';

describe('CSV export', () => {
  it('prefixes text cells that a spreadsheet would read as a formula', () => {
    expect(csvCell('=HYPERLINK("http://x")')).toBe('"\'=HYPERLINK(""http://x"")"');
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('-2+3')).toBe("'-2+3");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('\tcmd')).toBe("'\tcmd");
  });
  it('leaves plain text and numbers alone, quotes separators', () => {
    expect(csvCell('Ada')).toBe('Ada');
    expect(csvCell(-0.5)).toBe('-0.5');
    expect(csvCell(null)).toBe('');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(toCsv(['a', 'b'], [[1, 'x']])).toBe('a,b\r\n1,x\r\n');
  });
  const ev = {
    id: 1, camera_id: 2, track_id: 3, person: { id: 4, name: '=cmd|calc' }, similarity: 0.8,
    started_at: '2026-01-01T00:00:00.000Z', ended_at: null, alert: true, dominant_expression: 'happy',
    expression: { neutral: 0.1, happy: 0.7, sad: 0, angry: 0, fearful: 0, disgusted: 0, surprised: 0.2 },
  };
  it('escapes person and camera names in event rows', () => {
    const csv = eventsCsv([ev], { withExpressions: false, cameraName: () => '@door' });
    const [head, row] = csv.trim().split('\r\n');
    expect(head).toBe('id,camera_id,camera,track_id,person_id,person,similarity,started_at,ended_at,alert');
    expect(row).toBe("1,2,'@door,3,4,'=cmd|calc,0.8,2026-01-01T00:00:00.000Z,,true");
  });
  it('has expression columns only when asked', () => {
    expect(eventsCsv([ev], { withExpressions: false })).not.toMatch(/happy|expression/);
    const csv = eventsCsv([ev], { withExpressions: true });
    expect(csv.split('\r\n')[0]).toMatch(/dominant_expression,expression_neutral,.*expression_surprised$/);
    expect(csv.split('\r\n')[1]).toMatch(/,happy,0.1,0.7,0,0,0,0,0.2$/);
  });
});
