#!/usr/bin/env node
// One point of bench/cameras: N RTSP cameras (1080p H.264, 15 fps) on one `mien serve`, analysed at 5 fps.
//
//   node bench/cameras/streams.mjs --n 8 --clip /tmp/.../loop15.mp4 [--seconds 30] [--warmup 6]
//                                  [--python /usr/bin/python3] [--threads 2]
//
// Starts bench/cameras/rtsp_server.py (one process, mounts cam0..cam{N-1}), then `build/mien serve` on a fresh
// SQLite database (MIEN_LISTEN=127.0.0.1:0, MIEN_THREADS), logs in as the admin printed at first start,
// subscribes to GET /api/v1/stream, creates N cameras (analysis_fps 5), waits until all are online plus a
// warm-up, then measures for --seconds:
//   - analysed fps per camera: SSE `face` messages received per second (one per analysed frame), and the
//     median of the cameras API's analysed_fps samples;
//   - decoded fps per camera: median of the cameras API's fps samples (polled every 2 s);
//   - lag: Date.now() at receipt − the `face` message's "ts" (the frame's decode wall time), p50/p95 over the
//     window and p50 of each half;
//   - CPU from /proc/PID/task/*/stat: the reader threads (the threads that appeared when the cameras were
//     created: one per camera, decode + RGB conversion) against every other thread of mien (the analysis
//     workers, the event recorder, HTTP, SSE: in practice the analysis), the RTSP server and this client.
// Prints one JSON line on stdout; progress on stderr.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';

const ROOT = new URL('../../', import.meta.url).pathname;
const args = Object.fromEntries(
  process.argv.slice(2).reduce((a, v, i, all) => (v.startsWith('--') ? [...a, [v.slice(2), all[i + 1]]] : a), []),
);
const N = Number(args.n || 1);
const CLIP = args.clip;
const SECONDS = Number(args.seconds || 30);
const WARMUP = Number(args.warmup || 6);
const PYTHON = args.python || '/usr/bin/python3';
const THREADS = args.threads || '2';
const MIEN = join(ROOT, args.bin || 'build/mien');
const TICK = Number(process.env.CLK_TCK || 100); // USER_HZ: /proc stat times are in these

const log = (...a) => console.error(`[n=${N}]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const procs = [];
const tmp = mkdtempSync(join(tmpdir(), 'mien-bench-cam-'));

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function until(cond, ms, step = 100) {
  const t0 = Date.now();
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() - t0 > ms) return null;
    await sleep(step);
  }
}

// {tid: {comm, ticks}} of every thread of pid
function threads(pid) {
  const out = {};
  let tids = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      out[tid] = { comm, ticks: Number(f[11]) + Number(f[12]) }; // utime + stime (fields 14, 15)
    } catch {
      /* thread ended */
    }
  }
  return out;
}

// busy ticks of the whole machine (all cores): user nice system irq softirq steal
function machineTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
}

function procTicks(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

const pct = (a, p) => {
  if (!a.length) return null;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
};
const med = (a) => pct(a, 0.5);
const r1 = (v) => (v == null ? null : Math.round(v * 10) / 10);

async function main() {
  // --- cameras
  const rport = await freePort();
  const rtsp = spawn(PYTHON, [join(ROOT, 'bench/cameras/rtsp_server.py'), String(rport), CLIP, String(N)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let rout = '';
  rtsp.stdout.on('data', (d) => (rout += d));
  rtsp.stderr.on('data', (d) => (rout += d));
  procs.push(rtsp);
  if (!(await until(() => /ready/.test(rout), 10000))) throw new Error(`rtsp_server.py did not start: ${rout}`);

  // --- mien
  let stdout = '';
  let stderr = '';
  const mien = spawn(MIEN, ['serve'], {
    cwd: ROOT,
    env: {
      ...process.env,
      MIEN_DB: `sqlite:${join(tmp, 'mien.db')}`,
      MIEN_MEDIA: join(tmp, 'media'),
      MIEN_LISTEN: '127.0.0.1:0',
      MIEN_THREADS: THREADS,
      MIEN_MODELS: join(ROOT, 'models'),
      MIEN_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  mien.stdout.on('data', (d) => (stdout += d));
  mien.stderr.on('data', (d) => (stderr += d));
  procs.push(mien);
  if (!(await until(() => /serving on port (\d+)/.test(stderr) && /password (\S+)/.test(stdout), 30000)))
    throw new Error(`mien serve did not start:\n${stderr}`);
  const base = `http://127.0.0.1:${/serving on port (\d+)/.exec(stderr)[1]}`;
  const login = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: /password (\S+)/.exec(stdout)[1] }),
  });
  const { token } = await login.json();
  const auth = { Authorization: `Bearer ${token}` };

  // --- the live stream, before the cameras (its threads are not readers)
  const ctl = new AbortController();
  const res = await fetch(`${base}/api/v1/stream`, { headers: auth, signal: ctl.signal });
  if (res.status !== 200) throw new Error(`stream: ${res.status}`);
  const faces = []; // {cam, ts, at}
  (async () => {
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let text = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const at = Date.now();
        text += dec.decode(value, { stream: true });
        let cut;
        while ((cut = text.indexOf('\n\n')) >= 0) {
          const block = text.slice(0, cut);
          text = text.slice(cut + 2);
          if (!block.startsWith('event: face') && !block.includes('\nevent: face')) continue;
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (!data) continue;
          const m = JSON.parse(data);
          faces.push({ cam: m.camera_id, ts: Date.parse(m.ts), at, n: m.faces.length });
        }
      }
    } catch {
      /* aborted */
    }
  })();
  await sleep(500);
  const before = threads(mien.pid);

  // --- N cameras
  const ids = [];
  for (let i = 0; i < N; i++) {
    const r = await fetch(`${base}/api/v1/cameras`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: `cam${i}`, url: `rtsp://127.0.0.1:${rport}/cam${i}`, analysis_fps: 5 }),
    });
    if (r.status !== 201) throw new Error(`create camera: ${r.status} ${await r.text()}`);
    ids.push((await r.json()).id);
  }
  const list = async () => (await (await fetch(`${base}/api/v1/cameras?limit=100`, { headers: auth })).json()).items;
  const online = await until(async () => (await list()).filter((c) => ids.includes(c.id) && c.status === 'online').length === N, 30000, 250);
  if (!online) throw new Error(`cameras not online: ${JSON.stringify(await list())}\n${stderr.slice(-2000)}`);
  log(`${N} cameras online; warm-up ${WARMUP} s`);
  await sleep(WARMUP * 1000);
  const metrics0 = await (await fetch(`${base}/metrics`, { headers: auth })).text();

  // --- measure
  const readerTids = () => Object.keys(threads(mien.pid)).filter((t) => !(t in before));
  const snap = () => ({ t: Date.now(), th: threads(mien.pid), rtsp: procTicks(rtsp.pid), self: process.cpuUsage(), machine: machineTicks() });
  const s0 = snap();
  const t0 = s0.t;
  const samples = {}; // id -> {fps:[], afps:[], status:[]}
  for (const id of ids) samples[id] = { fps: [], afps: [], status: [] };
  let sMid = null;
  while (Date.now() - t0 < SECONDS * 1000) {
    await sleep(2000);
    for (const c of await list())
      if (samples[c.id]) {
        samples[c.id].fps.push(c.fps);
        samples[c.id].afps.push(c.analysed_fps);
        samples[c.id].status.push(c.status);
      }
    if (!sMid && Date.now() - t0 >= (SECONDS * 1000) / 2) sMid = snap();
  }
  const s1 = snap();
  const t1 = s1.t;
  const metrics1 = await (await fetch(`${base}/metrics`, { headers: auth })).text();
  ctl.abort();

  // --- results
  const wall = (t1 - t0) / 1000;
  const win = faces.filter((f) => f.at >= t0 && f.at < t1);
  const mid = (t0 + t1) / 2;
  const lag = win.map((f) => f.at - f.ts);
  const lagA = win.filter((f) => f.at < mid).map((f) => f.at - f.ts);
  const lagB = win.filter((f) => f.at >= mid).map((f) => f.at - f.ts);
  const perCam = ids.map((id) => {
    const mine = win.filter((f) => f.cam === id);
    return {
      id,
      analysed_fps_sse: mine.length / wall,
      analysed_fps_api: med(samples[id].afps),
      decoded_fps_api: med(samples[id].fps),
      offline_samples: samples[id].status.filter((s) => s !== 'online').length,
      faces_per_frame: mine.length ? mine.reduce((a, f) => a + f.n, 0) / mine.length : 0,
    };
  });
  const readers = new Set(readerTids());
  const cpu = (a, b) => {
    let rd = 0;
    let other = 0;
    const names = new Set();
    for (const [tid, v] of Object.entries(b.th)) {
      names.add(v.comm);
      const d = v.ticks - (a.th[tid]?.ticks ?? (readers.has(tid) ? 0 : v.ticks));
      if (readers.has(tid)) rd += d;
      else other += d;
    }
    const sec = (b.t - a.t) / 1000;
    return {
      readers_pct: (100 * rd) / TICK / sec, // % of one core
      other_pct: (100 * other) / TICK / sec,
      mien_pct: (100 * (rd + other)) / TICK / sec,
      rtsp_pct: (100 * (b.rtsp - a.rtsp)) / TICK / sec,
      client_pct: (100 * (b.self.user + b.self.system - a.self.user - a.self.system)) / 1e6 / sec,
      thread_names: [...names],
      // everything else the machine ran meanwhile (other users of a shared machine), % of one core
      foreign_pct: (100 * (b.machine - a.machine - (rd + other) - (b.rtsp - a.rtsp))) / TICK / sec - (b.self.user + b.self.system - a.self.user - a.self.system) / 1e4 / sec,
      readers_cpu_s: rd / TICK,
      other_cpu_s: other / TICK,
    };
  };
  const c = cpu(s0, s1);
  const decoded = perCam.reduce((a, p) => a + (p.decoded_fps_api || 0), 0) * wall;
  const analysed = win.length;
  // /metrics: any camera or analysis counter (not the HTTP route histograms)
  const metricLines = (t) => t.split('\n').filter((l) => /camera|frame|watch|analy/i.test(l) && !/^(#|mien_http_|mien_analyze_)/.test(l));
  const out = {
    n: N,
    threads: Number(THREADS),
    seconds: r1(wall),
    analysed_fps_min: r1(Math.min(...perCam.map((p) => p.analysed_fps_sse))),
    analysed_fps_median: r1(med(perCam.map((p) => p.analysed_fps_sse))),
    analysed_fps_total: r1(analysed / wall),
    decoded_fps_min: r1(Math.min(...perCam.map((p) => p.decoded_fps_api ?? 0))),
    decoded_fps_median: r1(med(perCam.map((p) => p.decoded_fps_api ?? 0))),
    lag_p50_ms: med(lag),
    lag_p95_ms: pct(lag, 0.95),
    lag_p50_first_half_ms: med(lagA),
    lag_p50_second_half_ms: med(lagB),
    lag_p95_first_half_ms: pct(lagA, 0.95),
    lag_p95_second_half_ms: pct(lagB, 0.95),
    faces_per_frame: r1(analysed ? win.reduce((a, f) => a + f.n, 0) / analysed : 0),
    cpu_mien_pct: r1(c.mien_pct),
    cpu_readers_pct: r1(c.readers_pct),
    cpu_other_pct: r1(c.other_pct),
    cpu_rtsp_server_pct: r1(c.rtsp_pct),
    cpu_client_pct: r1(c.client_pct),
    cpu_foreign_pct: r1(c.foreign_pct),
    reader_threads: readers.size,
    thread_names: c.thread_names,
    reader_ms_per_decoded_frame: decoded ? r1((1000 * c.readers_cpu_s) / decoded) : null,
    other_ms_per_analysed_frame: analysed ? r1((1000 * c.other_cpu_s) / analysed) : null,
    first_half_cpu: sMid ? (({ readers_pct, other_pct }) => ({ readers_pct: r1(readers_pct), other_pct: r1(other_pct) }))(cpu(s0, sMid)) : null,
    metrics_camera_lines: metricLines(metrics1).slice(0, 20),
    per_camera: perCam.map((p) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, typeof v === 'number' ? r1(v) : v]))),
  };
  const growing =
    out.lag_p50_second_half_ms != null &&
    out.lag_p50_second_half_ms > out.lag_p50_first_half_ms * 1.25 &&
    out.lag_p50_second_half_ms - out.lag_p50_first_half_ms > 20;
  out.lag_growing = growing;
  out.sustained = perCam.every((p) => p.analysed_fps_sse >= 4.5) && out.lag_p95_ms != null && out.lag_p95_ms <= 150 && !growing;
  void metrics0;
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

async function stop() {
  for (const p of procs.reverse()) {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGTERM');
      const done = await Promise.race([new Promise((r) => p.once('exit', () => r(true))), sleep(5000).then(() => false)]);
      if (!done) p.kill('SIGKILL');
    }
  }
  rmSync(tmp, { recursive: true, force: true });
}

main()
  .then(stop)
  .catch(async (e) => {
    log(e.stack || e);
    await stop();
    process.exit(1);
  });
