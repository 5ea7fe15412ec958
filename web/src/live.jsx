// live.jsx — one LiveStream for the whole app (toasts on every page, camera status on Live and Cameras).
import React, { createContext, useContext, useEffect, useRef, useState } from 'react';
import { LiveStream } from './sse.js';

const LiveContext = createContext(null);

const FEED_MAX = 50;

export function LiveProvider({ children, stream: given }) {
  const ref = useRef(null);
  if (!ref.current) ref.current = given || new LiveStream();
  const stream = ref.current;
  const [state, setState] = useState(stream.state);
  const [cameraStatus, setCameraStatus] = useState({}); // id -> {status, fps}
  const [faces, setFaces] = useState({}); // camera id -> last `face` message
  const [feed, setFeed] = useState([]); // newest first: {kind:'event'|'face', ...}
  const [alerts, setAlerts] = useState([]); // pending toasts

  useEffect(() => {
    const offState = stream.onState(setState);
    const off = stream.subscribe((type, data) => {
      // `at` lets the Live page prefer whichever is newer: this message or its last GET /cameras.
      if (type === 'camera') setCameraStatus((m) => ({ ...m, [data.id]: { ...m[data.id], ...data, at: Date.now() } }));
      else if (type === 'face') {
        setFaces((m) => ({ ...m, [data.camera_id]: data }));
        const seen = (data.faces || []).map((f, i) => ({ key: `f-${data.camera_id}-${data.ts}-${f.track_id ?? i}`, kind: 'face', camera_id: data.camera_id, ts: data.ts, ...f }));
        if (seen.length) setFeed((f) => [...seen, ...f].slice(0, FEED_MAX));
      } else if (type === 'event') setFeed((f) => [{ key: `e-${data.id}-${data.ended_at ?? ''}`, kind: 'event', ...data }, ...f].slice(0, FEED_MAX));
      // A repeat visit on an open alert (same id) replaces its toast rather than adding another.
      else if (type === 'alert') setAlerts((a) => [...a.filter((x) => x.id !== data.id), data].slice(-5));
    });
    stream.start();
    return () => {
      off();
      offState();
      stream.stop();
    };
  }, [stream]);

  const dismiss = (id) => setAlerts((a) => a.filter((x) => x.id !== id));
  const subscribe = (fn) => stream.subscribe(fn);
  return <LiveContext.Provider value={{ state, cameraStatus, faces, feed, alerts, dismiss, subscribe }}>{children}</LiveContext.Provider>;
}

export const useLive = () => useContext(LiveContext) || { state: 'unavailable', cameraStatus: {}, faces: {}, feed: [], alerts: [], dismiss() {}, subscribe: () => () => {} };
