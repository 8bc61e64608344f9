import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { SMTPServer } from "smtp-server";
import { simpleParser, type ParsedMail } from "mailparser";

/**
 * The receiving ends of notifications in tests: a real SMTP server (smtp-server) whose arrived messages are
 * parsed with mailparser, and a local HTTP server standing in for a Teams, Slack or generic webhook.
 */
export type SmtpReceiver = {
  port: number;
  messages: ParsedMail[];
  /** Raw SMTP envelopes: recipients per message, and the AUTH user seen. */
  envelopes: { to: string[]; user: string | null }[];
  waitFor(count: number): Promise<ParsedMail[]>;
  close(): Promise<void>;
};

export async function startSmtpReceiver(
  options: { user?: string; password?: string } = {},
): Promise<SmtpReceiver> {
  const messages: ParsedMail[] = [];
  const envelopes: { to: string[]; user: string | null }[] = [];
  const server = new SMTPServer({
    secure: false,
    disabledCommands: options.user ? ["STARTTLS"] : ["STARTTLS", "AUTH"],
    authOptional: !options.user,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === options.user && auth.password === options.password) {
        callback(null, { user: auth.username });
      } else callback(new Error("Invalid username or password"));
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          messages.push(mail);
          envelopes.push({
            to: session.envelope.rcptTo.map((r) => r.address),
            user: typeof session.user === "string" ? session.user : null,
          });
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    messages,
    envelopes,
    async waitFor(count) {
      for (let i = 0; i < 400 && messages.length < count; i++) await sleep(25);
      return messages;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

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
