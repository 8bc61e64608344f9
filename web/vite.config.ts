import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

/**
 * The web app is built into web/dist and served by the cspsync process itself. During development
 * `vite web` proxies /api to a cspsync server on http://127.0.0.1:8080.
 */
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false },
  server: { proxy: { "/api": "http://127.0.0.1:8080" } },
});
