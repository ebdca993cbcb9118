/// <reference types="vitest/config" />
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The app is served from Tauri's embedded assets (custom protocol): relative paths, no
// dev server in the build. Vitest runs the unit tests in jsdom.
export default defineConfig({
  plugins: [vue()],
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 2000 },
  test: { environment: 'jsdom', include: ['src/**/*.spec.ts'] },
})
