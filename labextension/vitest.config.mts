// Unit tests run in Node with jsdom for the few DOM APIs the model touches; no browser needed.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    environment: 'jsdom',
    include: ['test/**/*.spec.ts'],
    setupFiles: ['test/setup.ts'],
    // These ship ESM with extension-less imports that Node cannot resolve; let Vite transform them.
    server: {
      deps: {
        inline: [/@jupyter\/web-components/, /@jupyter\/react-components/]
      }
    },
    reporters: ['default', './test/summaryReporter.ts'],
    restoreMocks: true
  }
});
