// cameras.js — camera names for every page that shows a camera (Alerts, toasts): id -> name, from GET /cameras.
import { useEffect, useState } from 'react';
import { api } from './api.js';

/** The camera's name, or "camera N" while the list loads or for a camera the user may not see. */
export function cameraLabel(names, id) {
  return names[id] ?? `camera ${id}`;
}

/** Loads the user's cameras once per mounting component; returns {id: name}. */
export function useCameraNames() {
  const [names, setNames] = useState({});
  useEffect(() => {
    let alive = true;
    api.cameras({ limit: 1000 }).then(
      (r) => alive && setNames(Object.fromEntries(r.items.map((c) => [c.id, c.name]))),
      () => {},
    );
    return () => {
      alive = false;
    };
  }, []);
  return names;
}
