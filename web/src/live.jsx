// live.jsx — one LiveStream for the whole app (toasts on every page, camera status on Live and Cameras).
import React, { createContext, useContext, useEffect, useRef, useState } from 'react';
import { LiveStream } from './sse.js';
import { addVisit } from './visits.js';

const LiveContext = createContext(null);

export function LiveProvider({ children, stream: given }) {
  const ref = useRef(null);
  if (!ref.current) ref.current = given || new LiveStream();
  const stream = ref.current;
  const [state, setState] = useState(stream.state);
  const [cameraStatus, setCameraStatus] = useState({}); // id -> {status, fps}
  const [faces, setFaces] = useState({}); // camera id -> last `face` message
  const [feed, setFeed] = useState([]); // visits (events by id), newest first: see visits.js
  const [alerts, setAlerts] = useState([]); // pending toasts

  useEffect(() => {
    const offState = stream.onState(setState);
    const off = stream.subscribe((type, data) => {
      // `at` lets the Live page prefer whichever is newer: this message or its last GET /cameras.
      if (type === 'camera') setCameraStatus((m) => ({ ...m, [data.id]: { ...m[data.id], ...data, at: Date.now() } }));
      // `face` messages (every analysed frame) only feed the per-camera state; the feed lists visits.
      else if (type === 'face') setFaces((m) => ({ ...m, [data.camera_id]: data }));
      else if (type === 'event') setFeed((f) => addVisit(f, data));
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
