import React from 'react';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SnapshotDialog, boxOnSnapshot } from './Snapshot.jsx';
import { fakeFetch } from './test/fakeFetch.js';

afterEach(() => vi.restoreAllMocks());

describe('boxOnSnapshot', () => {
  it('scales a frame-pixel box by the frame size, whatever size the snapshot was stored at', () => {
    // A 1280x720 frame stored as a 640x360 snapshot: the box keeps its place as a fraction of the picture.
    expect(boxOnSnapshot([640, 180, 128, 144], [1280, 720], [640, 360])).toEqual({ left: 50, top: 25, width: 10, height: 20 });
  });
  it('uses the picture size for older events without a frame size (their snapshot was the whole frame)', () => {
    expect(boxOnSnapshot([100, 50, 200, 100], null, [1000, 500])).toEqual({ left: 10, top: 10, width: 20, height: 20 });
  });
  it('clips a box that runs off the picture, and draws nothing without a usable box or size', () => {
    expect(boxOnSnapshot([900, 450, 300, 300], [1000, 500], null)).toEqual({ left: 90, top: 90, width: 10, height: 10 });
    expect(boxOnSnapshot([0, 0, 0, 10], [100, 100], null)).toBeNull();
    expect(boxOnSnapshot(undefined, [100, 100], null)).toBeNull();
    expect(boxOnSnapshot([1, 2, 3, 4], null, null)).toBeNull();
    expect(boxOnSnapshot([1, 2, 3, 4], [0, 0], [0, 0])).toBeNull();
  });
});

// jsdom loads no pictures: fire the load with the size a browser would report.
function loadPicture(width, height) {
  const img = screen.getByTestId('snapshot-image');
  Object.defineProperty(img, 'naturalWidth', { value: width, configurable: true });
  Object.defineProperty(img, 'naturalHeight', { value: height, configurable: true });
  fireEvent.load(img);
}

const EVENT = {
  id: 7, camera_id: 2, person: { id: 3, name: 'Ada' }, started_at: '2026-01-01T10:00:00.000Z', box: [640, 180, 128, 144], frame: [1280, 720],
};

describe('SnapshotDialog', () => {
  it("draws the event's box where the face is once the picture has loaded, and names who and where", () => {
    render(<SnapshotDialog event={EVENT} cameraName={(id) => `Door (${id})`} onClose={() => {}} />);
    expect(screen.getByTestId('snapshot-image').getAttribute('src')).toBe('/api/v1/events/7/snapshot.jpg');
    expect(screen.queryByTestId('snapshot-box')).toBeNull(); // not before the picture is there
    loadPicture(640, 360);
    const box = screen.getByTestId('snapshot-box');
    expect(box.style.left).toBe('50%');
    expect(box.style.top).toBe('25%');
    expect(box.style.width).toBe('10%');
    expect(box.style.height).toBe('20%');
    expect(box.textContent).toBe('Ada');
    expect(screen.getByRole('dialog').textContent).toContain('Door (2)');
  });

  it("fetches an alert's event by id, and closes on Esc and on Close", async () => {
    const fetch = fakeFetch({ 'GET /api/v1/events/7': EVENT });
    const onClose = vi.fn();
    render(<SnapshotDialog eventId={7} onClose={onClose} />);
    await waitFor(() => expect(screen.getByRole('dialog').textContent).toContain('Ada'));
    expect(fetch).toHaveBeenCalledTimes(1);
    loadPicture(1280, 720);
    expect(screen.getByTestId('snapshot-box').style.left).toBe('50%');
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Close' }));
    fireEvent.keyDown(document, { key: 'Escape' });
    expect(onClose).toHaveBeenCalledTimes(1);
    fireEvent.click(screen.getByRole('button', { name: 'Close' }));
    expect(onClose).toHaveBeenCalledTimes(2);
  });

  it('says so when the event has no snapshot (snapshot_width 0), and shows a failed fetch', async () => {
    fakeFetch({});
    render(<SnapshotDialog eventId={9} onClose={() => {}} />);
    fireEvent.error(screen.getByTestId('snapshot-image'));
    expect(screen.getByRole('dialog').textContent).toMatch(/No snapshot for this event/);
    await waitFor(() => expect(screen.getByRole('dialog').querySelector('.error')).not.toBeNull());
  });
});
