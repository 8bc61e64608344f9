import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

/**
 * The web app is built into web/dist and served by the cspsync process itself. During development
 * `vite web` proxies /api to a cspsync server on http://127.0.0.1:8080.
 */
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    // The libraries (React, TanStack Query, zod for the forms) in a chunk of their own: it changes less often
    // than the app, so browsers keep it cached across cspsync upgrades that only change the app.
    rolldownOptions: {
      output: { codeSplitting: { groups: [{ name: "vendor", test: /[\\/]node_modules[\\/]/ }] } },
    },
  },
  server: { proxy: { "/api": "http://127.0.0.1:8080" } },
});
