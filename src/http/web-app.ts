import fs from "node:fs";
import path from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { notFound, sendError } from "./errors.ts";

/**
 * Serves the built web app (web/dist) at `/`, falling back to index.html for client-side routes. Nothing
 * under /api is ever served from here: unknown API paths get the API's 404.
 */
export const DEFAULT_WEB_ROOT = path.resolve(import.meta.dirname, "../../web/dist");

function isApi(url: string) {
  return url === "/api" || url.startsWith("/api/") || url.startsWith("/api?");
}

export async function installWebApp(fastify: FastifyInstance, webRoot: string): Promise<void> {
  const hasWebApp = fs.existsSync(path.join(webRoot, "index.html"));
  if (hasWebApp) {
    await fastify.register(fastifyStatic, {
      root: webRoot,
      prefix: "/",
      wildcard: true,
      index: ["index.html"],
      allowedPath: (pathName) => !isApi(pathName),
      setHeaders: (reply, filePath) => {
        // Vite names assets by content hash: they never change. index.html must always be re-read.
        const immutable = filePath.includes(`${path.sep}assets${path.sep}`);
        reply.header("cache-control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
      },
    });
  }
  fastify.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    const pathname = request.url.split("?")[0] ?? "/";
    const isPage =
      (request.method === "GET" || request.method === "HEAD") && !path.posix.basename(pathname).includes(".");
    // The reply is sent, not returned: returning it would make Fastify await it as a thenable.
    if (hasWebApp && !isApi(pathname) && isPage) {
      reply.header("cache-control", "no-cache").type("text/html").sendFile("index.html");
      return;
    }
    sendError(reply, notFound(`no route ${request.method} ${pathname}`));
  });
}
