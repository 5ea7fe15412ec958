import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` proxies the API to a `mien serve` on MIEN_DEV_API (default 127.0.0.1:8080).
// Note: the server's CSRF check wants Origin == Host, so the proxy rewrites the origin.
const api = process.env.MIEN_DEV_API || 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
  server: { proxy: { '/api': { target: api, changeOrigin: true, headers: { Origin: api } } } },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{js,jsx}'],
    setupFiles: ['src/test/setup.js'],
  },
});
