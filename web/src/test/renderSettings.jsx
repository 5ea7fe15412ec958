// The dashboard at /settings for an all-camera admin, with no live stream: what the Settings page tests render.
import React from 'react';
import { render } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import App from '../App.jsx';
import { LiveStream } from '../sse.js';

/** GET /settings as a fresh server answers it. */
export const SETTINGS = {
  recognition_threshold: null, analysis_fps: 5, retention_days: 30, alert_cooldown_minutes: 10, validated: false,
  snapshot_width: 640, snapshot_quality: 70,
  recognition_threshold_in_force: 0.93, recognition_model: 'face_recognition', recognition_model_default: 0.93,
};

export function renderSettings() {
  const user = { id: 1, username: 'admin-user', role: 'admin', all_cameras: true, cameras: [] };
  return render(
    <MemoryRouter initialEntries={['/settings']} future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
      <App initialUser={user} stream={new LiveStream({ EventSourceImpl: undefined })} />
    </MemoryRouter>,
  );
}
