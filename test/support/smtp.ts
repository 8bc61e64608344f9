import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { SMTPServer } from "smtp-server";
import { simpleParser, type ParsedMail } from "mailparser";
import type { App } from "../../src/app.ts";
import type { LocalJobQueue } from "../../src/jobs/index.ts";

/**
 * The receiving end of e-mail notifications in tests (test/notify, test/browser): a real SMTP server
 * (smtp-server) on 127.0.0.1 whose arrived messages are parsed with mailparser.
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

/** The SMTP login the tests' receiver asks for and their mail channels use. */
export const SMTP_LOGIN = { user: "notify", password: "smtp-pass-123" };

/** An e-mail channel of the app that sends to the test's SMTP receiver (plain SMTP, SMTP_LOGIN). */
export function addMailChannel(
  app: App,
  smtp: SmtpReceiver,
  options: { name?: string; minSeverity?: "info" | "warning"; to?: string[] } = {},
) {
  return app.notifications.addChannel({
    kind: "email",
    name: options.name ?? "Ops mail",
    minSeverity: options.minSeverity ?? "warning",
    config: {
      host: "127.0.0.1",
      port: smtp.port,
      security: "none",
      user: SMTP_LOGIN.user,
      from: "cspsync@msp.example",
      to: options.to ?? ["ops@msp.example"],
    },
    secrets: { password: SMTP_LOGIN.password },
  });
}

/** Polls a driven local queue until the SMTP receiver has `count` messages (or gives up; the caller asserts). */
export async function pollUntil(queue: LocalJobQueue, smtp: SmtpReceiver, count: number): Promise<void> {
  for (let i = 0; i < 200 && smtp.messages.length < count; i++) {
    await queue.poll();
    await sleep(50);
  }
}
