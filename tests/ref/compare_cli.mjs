#!/usr/bin/env node
// End-to-end check of `mien model run`: for every reference case under build/ref, run the CLI on the
// case's input .npy files and compare every output .npy it writes with TensorFlow.js's reference,
// max|mien - ref| <= 1e-3 * max|ref| + 1e-4. Exits 1 on any mismatch or missing output.
//
//   node tests/ref/compare_cli.mjs [--ref build/ref] [--mien build/mien] [--only a,b]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseArgs, readNpy } from './tfjs_common.mjs';

const opt = parseArgs(process.argv.slice(2), { ref: 'build/ref', mien: 'build/mien', only: '' });
const only = opt.only ? new Set(opt.only.split(',')) : null;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mien-cli-'));
let cases = 0;
let checked = 0;
let failed = 0;
for (const model of fs.readdirSync(opt.ref).sort()) {
  const mdir = path.join(opt.ref, model);
  if (!fs.statSync(mdir).isDirectory() || (only && !only.has(model))) continue;
  for (const c of fs.readdirSync(mdir).sort()) {
    const manifestPath = path.join(mdir, c, 'manifest.json');
    if (!fs.existsSync(manifestPath)) continue;
    const m = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
    const out = path.join(work, `${model}-${c}`);
    const args = ['model', 'run', m.model];
    for (const i of m.inputs) args.push('--input-name', i.name, '--input', path.join(mdir, c, i.file));
    args.push('--out', out);
    cases++;
    try {
      execFileSync(opt.mien, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      failed++;
      console.log(`FAIL ${model}/${c}: mien exited ${e.status}: ${String(e.stderr).trim()}`);
      continue;
    }
    for (const o of m.outputs) {
      checked++;
      const ref = readNpy(fs.readFileSync(path.join(mdir, c, o.file)));
      const file = path.join(out, o.file);
      if (!fs.existsSync(file)) {
        failed++;
        console.log(`FAIL ${model}/${c} ${o.name}: mien wrote no ${o.file}`);
        continue;
      }
      const got = readNpy(fs.readFileSync(file));
      let maxRef = 0;
      let maxDiff = 0;
      for (let k = 0; k < ref.data.length; k++) {
        maxRef = Math.max(maxRef, Math.abs(ref.data[k]));
        maxDiff = Math.max(maxDiff, Math.abs(ref.data[k] - got.data[k]));
      }
      const tol = 1e-3 * maxRef + 1e-4;
      const sameShape = JSON.stringify(ref.shape) === JSON.stringify(got.shape);
      const ok = sameShape && got.data.length === ref.data.length && maxDiff <= tol;
      if (!ok) failed++;
      console.log(`${ok ? 'ok  ' : 'FAIL'} ${model}/${c} ${o.name} shape ${JSON.stringify(got.shape)} max|diff| ${maxDiff.toExponential(2)} tol ${tol.toExponential(2)}`);
    }
  }
}
fs.rmSync(work, { recursive: true, force: true });
if (cases === 0) {
  console.log('FAIL: no reference cases found; run the reference scripts (make refs) first');
  process.exit(1);
}
console.log(`${cases} cases: ${checked - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
