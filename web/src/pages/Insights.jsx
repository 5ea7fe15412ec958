import React, { useEffect, useMemo, useState } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { api, EXPRESSIONS, fetchAll } from '../api.js';
import { expressionsOverTime, visitsPerHour } from '../insights.js';

const COLORS = { neutral: '#6b7280', happy: '#16a34a', sad: '#2563eb', angry: '#dc2626', fearful: '#7c3aed', disgusted: '#a16207', surprised: '#db2777' };
const RANGES = { 1: 'Last 24 hours', 7: 'Last 7 days', 30: 'Last 30 days' };

function ExpressionChart({ data, title }) {
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      {data.length === 0 ? (
        <p className="muted">No events with an expression.</p>
      ) : (
        <ResponsiveContainer width="100%" height={260}>
          <LineChart data={data}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis dataKey="bucket" />
            <YAxis allowDecimals={false} />
            <Tooltip />
            <Legend />
            {EXPRESSIONS.map((x) => (
              <Line key={x} type="monotone" dataKey={x} stroke={COLORS[x]} dot={false} isAnimationActive={false} />
            ))}
          </LineChart>
        </ResponsiveContainer>
      )}
    </figure>
  );
}

export default function Insights() {
  const [days, setDays] = useState('7');
  const [events, setEvents] = useState(null);
  const [truncated, setTruncated] = useState(false);
  const [cameras, setCameras] = useState([]);
  const [people, setPeople] = useState([]);
  const [camera, setCamera] = useState('');
  const [person, setPerson] = useState('');
  const [error, setError] = useState('');

  useEffect(() => {
    api.cameras({ limit: 1000 }).then((r) => setCameras(r.items), () => {});
    api.people({ limit: 1000 }).then((r) => setPeople(r.items), () => {});
  }, []);
  useEffect(() => {
    setEvents(null);
    const from = new Date(Date.now() - Number(days) * 86400000).toISOString();
    fetchAll(api.events, { from }, 5000).then(
      (r) => {
        setEvents(r.items);
        setTruncated(r.truncated);
      },
      (e) => setError(e.message),
    );
  }, [days]);

  const by = days === '1' ? 'hour' : 'day';
  const perCamera = useMemo(() => expressionsOverTime(events || [], { by, filter: (e) => !camera || e.camera_id === Number(camera) }), [events, camera, by]);
  const perPerson = useMemo(() => expressionsOverTime(events || [], { by, filter: (e) => (person ? e.person && e.person.id === Number(person) : !!e.person) }), [events, person, by]);
  const perHour = useMemo(() => visitsPerHour(events || [], { filter: (e) => !camera || e.camera_id === Number(camera) }), [events, camera]);

  return (
    <section>
      <h1>Insights</h1>
      <div className="filters">
        <label>
          Period
          <select value={days} onChange={(e) => setDays(e.target.value)}>
            {Object.entries(RANGES).map(([k, v]) => (
              <option key={k} value={k}>{v}</option>
            ))}
          </select>
        </label>
        <label>
          Camera
          <select value={camera} onChange={(e) => setCamera(e.target.value)}>
            <option value="">All cameras</option>
            {cameras.map((c) => (
              <option key={c.id} value={c.id}>{c.name}</option>
            ))}
          </select>
        </label>
        <label>
          Person
          <select value={person} onChange={(e) => setPerson(e.target.value)}>
            <option value="">Everyone known</option>
            {people.map((p) => (
              <option key={p.id} value={p.id}>{p.name}</option>
            ))}
          </select>
        </label>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      {!events && !error && <p role="status">Loading events…</p>}
      {events && (
        <>
          <p className="muted">
            {events.length} events{truncated ? ' (the newest 5000 only)' : ''}, computed in this browser.
          </p>
          <div className="charts">
            <ExpressionChart data={perCamera} title={`Expressions over time, ${camera ? cameras.find((c) => c.id === Number(camera))?.name ?? 'camera' : 'all cameras'}`} />
            <ExpressionChart data={perPerson} title={`Expressions over time, ${person ? people.find((p) => p.id === Number(person))?.name ?? 'person' : 'everyone known'}`} />
            <figure className="chart">
              <figcaption>Visits per hour of day</figcaption>
              <ResponsiveContainer width="100%" height={260}>
                <BarChart data={perHour}>
                  <CartesianGrid strokeDasharray="3 3" />
                  <XAxis dataKey="hour" />
                  <YAxis allowDecimals={false} />
                  <Tooltip />
                  <Bar dataKey="visits" fill="#2563eb" isAnimationActive={false} />
                </BarChart>
              </ResponsiveContainer>
            </figure>
          </div>
        </>
      )}
    </section>
  );
}
