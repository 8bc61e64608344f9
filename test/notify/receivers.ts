import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local HTTP server standing in for a Teams, Slack or generic webhook in tests. The SMTP server that receives
 * e-mail notifications is test/support/smtp.ts.
 */
export type HttpRequestSeen = { path: string; headers: http.IncomingHttpHeaders; body: string };

export type HttpReceiver = {
  url: string;
  host: string;
  requests: HttpRequestSeen[];
  close(): Promise<void>;
};

/** An HTTP server that records every request and answers with `respond` (default 200 "ok"). */
export async function startHttpReceiver(
  respond: (req: HttpRequestSeen) => { status: number; headers?: Record<string, string> } = () => ({
    status: 200,
  }),
): Promise<HttpReceiver> {
  const requests: HttpRequestSeen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const seen = {
        path: req.url ?? "/",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      requests.push(seen);
      const answer = respond(seen);
      res.writeHead(answer.status, answer.headers ?? {});
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
