import { describe, expect, it } from 'vitest';
import { composeUrl, splitCredentials } from './camurl.js';

describe('camera URL credentials', () => {
  it('splits a redacted URL', () => {
    expect(splitCredentials('rtsp://viewer:***@10.0.0.1/live')).toEqual({ base: 'rtsp://10.0.0.1/live', username: 'viewer', password: '***' });
    expect(splitCredentials('http://cam/x')).toEqual({ base: 'http://cam/x', username: '', password: '' });
  });
  it('composes with percent-encoding', () => {
    expect(composeUrl('rtsp://10.0.0.1:554/s', 'a@b', 'p:w/d')).toBe('rtsp://a%40b:p%3Aw%2Fd@10.0.0.1:554/s');
    expect(composeUrl('rtsp://10.0.0.1/s', '', '')).toBe('rtsp://10.0.0.1/s');
    expect(composeUrl('rtsp://10.0.0.1/s', 'u', '')).toBe('rtsp://u@10.0.0.1/s');
  });
});
