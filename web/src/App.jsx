import React, { Suspense, lazy, useEffect, useRef, useState } from 'react';
import { Link, NavLink, Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { AuthProvider, useAuth } from './auth.jsx';
import { LiveProvider, useLive } from './live.jsx';
import { canSeeExpressions, isAdmin } from './roles.js';
import Login from './pages/Login.jsx';
import Live from './pages/Live.jsx';
import Events from './pages/Events.jsx';
import People from './pages/People.jsx';
import Person from './pages/Person.jsx';
import Cameras from './pages/Cameras.jsx';
import Alerts from './pages/Alerts.jsx';
import Users from './pages/Users.jsx';
import Settings from './pages/Settings.jsx';
import Review from './pages/Review.jsx';
import FaceSearch from './pages/FaceSearch.jsx';
import { api } from './api.js';
import { cameraLabel, useCameraNames } from './cameras.js';
// Recharts is large: the Insights page is its own chunk, loaded only by the roles that may open it.
const Insights = lazy(() => import('./pages/Insights.jsx'));

/** The pages a role may open, in navigation order. Pages a role may not see are not in its list at all. */
export function pagesFor(role) {
  const pages = [
    { path: '/live', label: 'Live', element: <Live /> },
    { path: '/events', label: 'Events', element: <Events /> },
    { path: '/people', label: 'People', element: <People /> },
    // Every role reviews unknown faces and searches; what each may change is the server's to decide (admins).
    { path: '/review', label: 'Review', element: <Review /> },
    { path: '/cameras', label: 'Cameras', element: <Cameras /> },
  ];
  if (isAdmin(role)) pages.push({ path: '/alerts', label: 'Alerts', element: <Alerts /> });
  if (canSeeExpressions(role)) pages.push({ path: '/insights', label: 'Insights', element: <Insights /> });
  if (isAdmin(role)) {
    pages.push({ path: '/users', label: 'Users', element: <Users /> });
    pages.push({ path: '/settings', label: 'Settings', element: <Settings /> });
  }
  return pages;
}

export default function App({ initialUser, stream }) {
  return (
    <AuthProvider initialUser={initialUser}>
      <Gate stream={stream} />
    </AuthProvider>
  );
}

function Gate({ stream }) {
  const { user } = useAuth();
  if (user === undefined) return <p className="loading" role="status">Loading…</p>;
  if (user === null) return <Login />;
  return (
    <LiveProvider stream={stream}>
      <Shell />
    </LiveProvider>
  );
}

function Shell() {
  const { user, logout } = useAuth();
  const [open, setOpen] = useState(false);
  const [sound, setSound] = useState(false);
  const loc = useLocation();
  useEffect(() => setOpen(false), [loc.pathname]);
  const pages = pagesFor(user.role);
  return (
    <div className="shell">
      <header className="topbar">
        <button type="button" className="navtoggle" aria-expanded={open} aria-controls="mainnav" onClick={() => setOpen((o) => !o)}>
          <span aria-hidden="true">☰</span> Menu
        </button>
        <Link to="/live" className="brand">mien</Link>
        <div className="who">
          {isAdmin(user.role) && (
            <label className="sound">
              <input type="checkbox" checked={sound} onChange={(e) => setSound(e.target.checked)} /> Alert sound
            </label>
          )}
          <span data-testid="whoami">
            {user.username} <span className="role" data-testid="role">{user.role}</span>
          </span>
          <button type="button" onClick={logout}>Sign out</button>
        </div>
      </header>
      <nav id="mainnav" className={open ? 'nav open' : 'nav'} aria-label="Main">
        <ul>
          {pages.map((p) => (
            <li key={p.path}>
              <NavLink to={p.path}>{p.label}</NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <main className="content">
        <Suspense fallback={<p role="status">Loading…</p>}>
        <Routes>
          {pages.map((p) => (
            <Route key={p.path} path={p.path} element={p.element} />
          ))}
          <Route path="/people/:id" element={<Person />} />
          <Route path="/review/search" element={<FaceSearch />} />
          <Route path="/" element={<Navigate to="/live" replace />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
        </Suspense>
      </main>
      {isAdmin(user.role) && <Toasts sound={sound} />}
    </div>
  );
}

function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no such page. <Link to="/live">Back to Live</Link>
      </p>
    </section>
  );
}

function beep() {
  try {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    const ctx = new Ctx();
    const o = ctx.createOscillator();
    o.frequency.value = 880;
    o.connect(ctx.destination);
    o.start();
    o.stop(ctx.currentTime + 0.2);
  } catch {
    /* no audio */
  }
}

/** Alert toasts from the live stream: the face crop, who, and the camera by name; `sound` (the header's
 * checkbox, off until the user turns it on) beeps once per new alert. */
export function Toasts({ sound }) {
  const { alerts, dismiss } = useLive();
  const names = useCameraNames();
  const seen = useRef(new Set());
  useEffect(() => {
    for (const a of alerts) {
      if (seen.current.has(a.id)) continue;
      seen.current.add(a.id);
      if (sound) beep();
    }
  }, [alerts, sound]);
  return (
    <div className="toasts" aria-live="polite">
      {alerts.map((a) => (
        <div key={a.id} className="toast" role="alert" data-testid="alert-toast">
          {a.event_id && <img className="thumb" src={api.faceUrl(a.event_id)} alt={`Face of alert ${a.id}`} />}
          <strong>{a.kind === 'watchlist' ? 'Watchlist' : a.kind === 'repeat_unknown' ? 'Repeat unknown face' : 'Unknown face'}</strong>{' '}
          {a.person ? <Link to={`/people/${a.person.id}`}>{a.person.name}</Link> : 'unknown person'} at {cameraLabel(names, a.camera_id)}
          <button type="button" onClick={() => dismiss(a.id)} aria-label="Dismiss alert">×</button>
        </div>
      ))}
    </div>
  );
}
