import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The portal: static files in web/dist that express serves under a strict CSP (no inline scripts or styles).
const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // The key/CSR/PKCS#12 code is one lazily loaded chunk; the sign-in page does not wait for it.
    chunkSizeWarningLimit: 400,
    modulePreload: { polyfill: false },
  },
});
