import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { gzipSync } from "node:zlib";
import type { FastifyInstance } from "fastify";
import { createApp, reportUnreadableCredentials, type App } from "../../src/app.ts";
import { buildServer } from "../../src/http/server.ts";
import { startConnectWiseEmulator, type ConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import { importReconFile } from "../../src/services/import-recon.ts";
import { openStore, type Store } from "../../src/store/db.ts";
import { hostOf } from "../support/app.ts";
import { runCli } from "../support/cli.ts";
import { baseRow, toCsv, toJsonLines, writeCsv } from "../support/recon-builder.ts";
import { createTestDatabase, createTestStore, DIALECTS, type TestDatabase } from "../support/stores.ts";
import { ADMIN, Client, multipartBody, startHarness, type Harness, type Reply } from "../http/helpers.ts";

type ErrorBody = { error: { code: string; message: string; field?: string } };
const errorOf = (reply: Reply) => (reply.body as ErrorBody).error;
const modeOf = (file: string) => fs.statSync(file).mode & 0o777;
const octal = (mode: number) => `0${mode.toString(8)}`;

/** The headers every response carries (security-headers.ts). */
const SECURITY_HEADERS = [
  "content-security-policy",
  "x-content-type-options",
  "referrer-policy",
  "x-frame-options",
  "cross-origin-opener-policy",
  "cross-origin-resource-policy",
  "permissions-policy",
];

function assertSecurityHeaders(headers: Record<string, unknown>, what: string): void {
  for (const name of SECURITY_HEADERS) assert.ok(headers[name], `${what}: ${name} is missing`);
  assert.match(String(headers["content-security-policy"]), /default-src 'self'/);
  assert.equal(headers["x-content-type-options"], "nosniff");
  assert.equal(headers["x-frame-options"], "DENY");
}

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A server on `app` as the tests build it (no web app, cheap password hashes, no log output). */
async function serverFor(app: App, webRoot: string, options: Parameters<typeof buildServer>[1] = {}) {
  return buildServer(app, { webRoot, log: false, auth: { passwordCost: 1024 }, ...options });
}

/** Every file and directory under `dir`, itself included. */
function walk(dir: string): string[] {
  const found = [dir];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...walk(full));
    else found.push(full);
  }
  return found;
}

async function until<T>(probe: () => T | undefined, what: string): Promise<T> {
  for (let waited = 0; waited < 10_000; waited += 10) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function countRows(store: Store, table: "charge_lines" | "customers" | "invoices" | "imports") {
  const row = await store.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

for (const dialect of DIALECTS) {
  describe(`files are the cspsync user's only, whatever the umask (${dialect})`, () => {
    let previousUmask: number;
    const cleanups: (() => Promise<void> | void)[] = [];
    before(() => {
      previousUmask = process.umask(0o022);
    });
    after(async () => {
      process.umask(previousUmask);
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    it("creates the data directory 0700 and the database, its WAL/SHM, the key file and uploads 0600", async () => {
      const root = tempDir("cspsync-perm-");
      cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
      const dataDir = path.join(root, "data");
      let database: TestDatabase | undefined;
      if (dialect === "postgres") {
        database = await createTestDatabase("postgres");
        cleanups.push(() => database!.drop());
      }
      // SQLite: the default database in the data directory; no CSPSYNC_SECRET_KEY, so a key file is made.
      const app = await createApp({
        env: { CSPSYNC_DATA_DIR: dataDir },
        ...(database ? { databaseUrl: database.url } : {}),
      });
      const server = await serverFor(app, root);
      cleanups.push(async () => {
        await server.close();
        await app.close();
      });
      const admin = new Client(server);
      assert.equal((await admin.setup()).status, 200);

      // An upload whose file is still arriving: its temporary file is looked at before the request ends.
      const { payload, headers } = multipartBody([{ name: "june.csv", content: toCsv([baseRow()]) }]);
      const cut = payload.indexOf("\r\n", payload.indexOf("\r\n\r\n") + 4);
      const body = new PassThrough();
      const pending = admin.request("POST", "/api/imports", body, { headers });
      body.write(payload.subarray(0, cut));
      const uploads = path.join(dataDir, "uploads");
      const received = await until(
        () =>
          fs.existsSync(uploads)
            ? walk(uploads).find((f) => f.endsWith("june.csv") && fs.statSync(f).size > 0)
            : undefined,
        "the upload to reach the disk",
      );
      const during = walk(uploads).map((f) => [path.relative(dataDir, f), octal(modeOf(f))]);
      body.end(payload.subarray(cut));
      const reply = await pending;
      assert.equal(reply.status, 200, reply.text);
      assert.ok(received);
      assert.deepEqual(
        during,
        during.map(([f]) => [f, f === path.relative(dataDir, received) ? "0600" : "0700"]),
        "upload directories 0700, the uploaded file 0600",
      );

      const expected: [string, string][] = [
        [dataDir, "0700"],
        [path.join(dataDir, "secret.key"), "0600"],
        [uploads, "0700"],
      ];
      if (dialect === "sqlite") {
        const db = path.join(dataDir, "cspsync.db");
        expected.push([db, "0600"], [`${db}-wal`, "0600"], [`${db}-shm`, "0600"]);
      }
      assert.deepEqual(
        expected.map(([file]) => [file, fs.existsSync(file) ? octal(modeOf(file)) : "missing"]),
        expected,
      );
    });

    it("narrows an existing data directory, key file and database file others may read, and says so", async () => {
      const root = tempDir("cspsync-perm-");
      cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
      const dataDir = path.join(root, "data");
      fs.mkdirSync(dataDir, { mode: 0o755 });
      const keyFile = path.join(dataDir, "secret.key");
      fs.writeFileSync(keyFile, randomBytes(32).toString("base64") + "\n", { mode: 0o644 });
      let databaseUrl: string;
      const db = path.join(dataDir, "cspsync.db");
      if (dialect === "postgres") {
        const database = await createTestDatabase("postgres");
        cleanups.push(() => database.drop());
        databaseUrl = database.url;
      } else {
        databaseUrl = `sqlite:${db}`;
        await (await openStore(databaseUrl)).close();
        fs.chmodSync(db, 0o644);
      }
      const warnings: string[] = [];
      const app = await createApp({
        databaseUrl,
        env: { CSPSYNC_DATA_DIR: dataDir },
        warn: (message) => warnings.push(message),
      });
      cleanups.push(() => app.close());
      const narrowed = dialect === "sqlite" ? [dataDir, keyFile, db] : [dataDir, keyFile];
      for (const target of narrowed) {
        assert.equal(octal(modeOf(target)), target === dataDir ? "0700" : "0600", target);
        assert.ok(
          warnings.some(
            (w) => w.includes(target) && /readable by other local users \(mode 0[67][45][45]\)/.test(w),
          ),
          `a warning names ${target}: ${warnings.join(" | ")}`,
        );
      }
      if (dialect === "sqlite") {
        assert.equal(octal(modeOf(`${db}-wal`)), "0600");
        assert.equal(octal(modeOf(`${db}-shm`)), "0600");
      }
    });
  });

  describe(`a changed CSPSYNC_SECRET_KEY is reported, not a 500 (${dialect})`, () => {
    const PRIVATE_KEY = "Pr1vate-Key-For-The-Key-Change";
    let emulator: ConnectWiseEmulator;
    let database: TestDatabase;
    let dataDir: string;
    let envA: NodeJS.ProcessEnv;
    let envB: NodeJS.ProcessEnv;
    let connectionId: string;
    let expected: string;

    before(async () => {
      emulator = await startConnectWiseEmulator({
        seed: "demo",
        credentials: { companyId: "cspsynctest", publicKey: "test-public-key", privateKey: PRIVATE_KEY },
      });
      database = await createTestDatabase(dialect);
      dataDir = tempDir("cspsync-key-");
      envA = {
        CSPSYNC_DATA_DIR: dataDir,
        CSPSYNC_SECRET_KEY: randomBytes(32).toString("hex"),
        CSPSYNC_PSA_ALLOWED_HOSTS: hostOf(emulator.url),
      };
      envB = { ...envA, CSPSYNC_SECRET_KEY: randomBytes(32).toString("base64") };
      const app = await createApp({ databaseUrl: database.url, env: envA });
      const server = await serverFor(app, dataDir);
      try {
        const admin = new Client(server);
        await admin.setup();
        const created = await admin.post("/api/connections", {
          vendor: "connectwise",
          name: "CW production",
          config: {
            site: emulator.url,
            companyId: "cspsynctest",
            publicKey: "test-public-key",
            clientId: "00000000-0000-4000-8000-00000000c11e",
          },
          secrets: { privateKey: PRIVATE_KEY },
        });
        assert.equal(created.status, 201, created.text);
        connectionId = (created.body as { connection: { id: string } }).connection.id;
        expected =
          `stored credentials of connection "CW production" (${connectionId}) cannot be decrypted with this ` +
          "key: re-enter them or restore the key (CSPSYNC_SECRET_KEY / data/secret.key)";
      } finally {
        await server.close();
        await app.close();
      }
    });
    after(async () => {
      await database.drop();
      await emulator.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it("start-up names the connection: cspsync connection list and the server's start", async () => {
      const cli = await runCli(["connection", "list", "--db", database.url], { env: envB });
      assert.equal(cli.code, 0, cli.stderr);
      assert.ok(cli.stderr.includes(expected), cli.stderr);
      assert.match(cli.stdout, /UNREADABLE/);

      const app = await createApp({ databaseUrl: database.url, env: envB });
      try {
        const warnings: string[] = [];
        assert.equal(await reportUnreadableCredentials(app, (m) => warnings.push(m)), 1);
        assert.deepEqual(warnings, [expected]);
      } finally {
        await app.close();
      }
      // With the key the credentials were sealed with, nothing is said.
      const right = await runCli(["connection", "list", "--db", database.url], { env: envA });
      assert.equal(right.code, 0, right.stderr);
      assert.doesNotMatch(right.stderr, /cannot be decrypted/);
    });

    it("the API marks the connection, answers 409 credentials_unreadable on PSA routes, and re-entering fixes it", async () => {
      const app = await createApp({ databaseUrl: database.url, env: envB });
      const server = await serverFor(app, dataDir);
      try {
        const admin = new Client(server);
        assert.equal((await admin.login(ADMIN.email, ADMIN.password)).status, 200);

        const list = await admin.get("/api/connections");
        assert.equal(list.status, 200);
        const listed = (list.body as { connections: Record<string, unknown>[] }).connections;
        assert.deepEqual(
          listed.map((c) => [c.id, c.credentialsReadable, c.secretsSet]),
          [[connectionId, false, { privateKey: false }]],
        );
        const one = await admin.get(`/api/connections/${connectionId}`);
        assert.equal(
          (one.body as { connection: { credentialsReadable: boolean } }).connection.credentialsReadable,
          false,
        );

        // What needs no credentials still changes; the credentials stay unreadable until entered again.
        const renamed = await admin.patch(`/api/connections/${connectionId}`, { seatAnnualEnabled: true });
        assert.equal(renamed.status, 200, renamed.text);
        assert.equal(
          (renamed.body as { connection: { credentialsReadable: boolean } }).connection.credentialsReadable,
          false,
        );

        for (const reply of [
          await admin.get(`/api/connections/${connectionId}/psa/companies?search=a`),
          await admin.get(`/api/connections/${connectionId}/psa/companies/1/agreements`),
          await admin.post(`/api/connections/${connectionId}/test`),
          await admin.post(`/api/connections/${connectionId}/sync`, { dryRun: true }),
        ]) {
          assert.equal(reply.status, 409, reply.text);
          assert.deepEqual(errorOf(reply), {
            code: "credentials_unreadable",
            message: expected,
            field: "secrets",
          });
        }

        const fixed = await admin.patch(`/api/connections/${connectionId}`, {
          secrets: { privateKey: PRIVATE_KEY },
        });
        assert.equal(fixed.status, 200, fixed.text);
        assert.deepEqual(
          [
            (fixed.body as { connection: { credentialsReadable: boolean } }).connection.credentialsReadable,
            (fixed.body as { connection: { secretsSet: unknown } }).connection.secretsSet,
          ],
          [true, { privateKey: true }],
        );
        const test = await admin.post(`/api/connections/${connectionId}/test`);
        assert.equal(test.status, 200, test.text);
        assert.equal((test.body as { ok: boolean }).ok, true, test.text);
        assert.equal(
          (await admin.get(`/api/connections/${connectionId}/psa/companies?search=a`)).status,
          200,
        );
        assert.equal(await reportUnreadableCredentials(app, () => assert.fail("nothing to report")), 0);
      } finally {
        await server.close();
        await app.close();
      }
    });
  });

  describe(`text fields are capped (${dialect})`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    const dir = tempDir("cspsync-caps-");
    before(async () => {
      ({ store, cleanup } = await createTestStore(dialect));
    });
    after(async () => {
      await cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    async function assertNothingStored() {
      for (const table of ["charge_lines", "customers", "invoices"] as const)
        assert.equal(await countRows(store, table), 0, table);
    }

    it("an imported 1 MB customer name is refused naming file, row and column, and nothing is stored", async () => {
      const file = writeCsv(path.join(dir, "huge-name.csv"), [
        baseRow(),
        baseRow({ CustomerName: "x".repeat(1_000_000), SubscriptionId: randomUUID() }),
      ]);
      const summary = await importReconFile(store, file);
      assert.equal(summary.status, "rejected");
      assert.equal(summary.problem?.row, 3);
      assert.equal(summary.problem?.column, "CustomerName");
      assert.equal(
        summary.problem?.message,
        "huge-name.csv, row 3, column CustomerName: is 1000000 characters long; at most 1000 are accepted",
      );
      await assertNothingStored();
    });

    it("ids are capped at 200 characters and columns cspsync does not know at 1,000, in JSON Lines too", async () => {
      const longId = path.join(dir, "long-id.jsonl.gz");
      fs.writeFileSync(longId, gzipSync(toJsonLines([baseRow({ SubscriptionId: "a".repeat(201) })])));
      const idSummary = await importReconFile(store, longId);
      assert.equal(idSummary.status, "rejected");
      assert.deepEqual([idSummary.problem?.row, idSummary.problem?.column], [1, "SubscriptionId"]);
      assert.match(idSummary.problem!.reason, /201 characters long; at most 200 are accepted/);

      const extra = path.join(dir, "extra.csv");
      const columns = [...Object.keys(baseRow()), "PartnerNotes"];
      fs.writeFileSync(
        extra,
        toCsv([baseRow(), { ...baseRow(), PartnerNotes: "n".repeat(1001) } as never], { columns }),
      );
      const extraSummary = await importReconFile(store, extra);
      assert.equal(extraSummary.status, "rejected");
      assert.deepEqual([extraSummary.problem?.row, extraSummary.problem?.column], [3, "PartnerNotes"]);

      // At the limits a file is taken.
      const atLimit = writeCsv(path.join(dir, "at-limit.csv"), [
        baseRow({ CustomerName: "y".repeat(1000), SubscriptionId: "s".repeat(200) }),
      ]);
      assert.equal((await importReconFile(store, atLimit)).status, "imported");
    });
  });

  describe(`API bodies and uploads hold their limits (${dialect})`, () => {
    let h: Harness;
    let admin: Client;
    let connectionId: string;
    before(async () => {
      h = await startHarness(dialect, {
        server: { maxUploadBytes: 4096, maxUploadFiles: 2, maxUploadTotalBytes: 6000 },
      });
      admin = h.client();
      await admin.setup();
      const created = await admin.post("/api/connections", {
        vendor: "connectwise",
        name: "CW",
        config: {
          site: "https://na.myconnectwise.net",
          companyId: "acme",
          publicKey: "public",
          clientId: "00000000-0000-4000-8000-00000000c11e",
        },
        secrets: { privateKey: "private" },
      });
      assert.equal(created.status, 201, created.text);
      connectionId = (created.body as { connection: { id: string } }).connection.id;
    });
    after(async () => h.cleanup());

    it("an oversize text field in a JSON body is a 400 naming the field, and nothing is stored", async () => {
      const long = "x".repeat(5000);
      const cases: [Promise<Reply>, string][] = [
        [
          admin.post("/api/connections", {
            vendor: "connectwise",
            name: "CW 2",
            config: {
              site: "https://na.myconnectwise.net",
              companyId: long,
              publicKey: "public",
              clientId: "00000000-0000-4000-8000-00000000c11e",
            },
            secrets: { privateKey: "private" },
          }),
          "config.companyId",
        ],
        [
          admin.post("/api/connections", {
            vendor: "autotask",
            name: "AT",
            config: { username: "api@example.com" },
            secrets: { secret: long, integrationCode: "CODE" },
          }),
          "secrets.secret",
        ],
        [
          admin.post(`/api/connections/${connectionId}/price-rules`, {
            name: "Rule",
            customerTenantId: long,
            kind: "markup",
            value: "10",
            effectiveFrom: "2024-01-01",
          }),
          "customerTenantId",
        ],
        [
          admin.put(`/api/connections/${connectionId}/customers/t1/mappings/seat-annual`, {
            psaCompanyId: long,
            agreementId: "1",
          }),
          "psaCompanyId",
        ],
        [admin.post(`/api/connections/${connectionId}/sync`, { customerTenantId: long }), "customerTenantId"],
      ];
      for (const [pending, field] of cases) {
        const reply = await pending;
        assert.equal(reply.status, 400, `${field}: ${reply.text.slice(0, 300)}`);
        assert.equal(errorOf(reply).field, field);
        assert.match(errorOf(reply).message, new RegExp(`^${field.replace(".", "\\.")}: `));
      }
      const listed = (await admin.get("/api/connections")).body as { connections: unknown[] };
      assert.equal(listed.connections.length, 1);
      const rules = (await admin.get(`/api/connections/${connectionId}/price-rules`)).body as {
        rules: unknown[];
      };
      assert.deepEqual(rules.rules, []);
      // A PATCH is checked the same way by the service: 422 naming the field.
      const patched = await admin.patch(`/api/connections/${connectionId}`, { config: { publicKey: long } });
      assert.equal(patched.status, 422);
      assert.equal(errorOf(patched).field, "config.publicKey");
    });

    const uploadsLeft = () => {
      const uploads = path.join(h.app.config.dataDir, "uploads");
      return fs.existsSync(uploads) ? fs.readdirSync(uploads) : [];
    };
    const importsStored = async () =>
      ((await admin.get("/api/imports")).body as { imports: unknown[] }).imports.length;
    const csv = (n: number) =>
      toCsv([baseRow({ SubscriptionId: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}` })]);

    it("more files than CSPSYNC_MAX_UPLOAD_FILES: 413 naming the limit, nothing imported or left on disk", async () => {
      const { payload, headers } = multipartBody(
        [1, 2, 3].map((n) => ({ name: `f${n}.csv`, content: csv(n) })),
      );
      const reply = await admin.request("POST", "/api/imports", payload, { headers });
      assert.equal(reply.status, 413, reply.text);
      assert.deepEqual(errorOf(reply), {
        code: "validation",
        message:
          "an upload may hold at most 2 files (CSPSYNC_MAX_UPLOAD_FILES); send the others in another upload",
        field: "file",
      });
      assert.deepEqual(uploadsLeft(), []);
      assert.equal(await importsStored(), 0);
    });

    it("more bytes than CSPSYNC_MAX_UPLOAD_TOTAL_BYTES: 413 naming the limit, the partial file removed", async () => {
      // Each file is under the 4096-byte file limit; together they pass the 6000-byte request limit.
      const padded = (n: number) => csv(n) + "\r\n".repeat((3500 - csv(n).length) / 2);
      const { payload, headers } = multipartBody(
        [1, 2].map((n) => ({ name: `f${n}.csv`, content: padded(n) })),
      );
      const reply = await admin.request("POST", "/api/imports", payload, { headers });
      assert.equal(reply.status, 413, reply.text);
      assert.deepEqual(errorOf(reply), {
        code: "validation",
        message:
          "the upload is larger than the limit of 6000 bytes for all its files together (CSPSYNC_MAX_UPLOAD_TOTAL_BYTES)",
        field: "file",
      });
      assert.deepEqual(uploadsLeft(), []);
      assert.equal(await importsStored(), 0);
    });

    it("a file over CSPSYNC_MAX_UPLOAD_BYTES: 413 naming the file and the limit; within the limits files import", async () => {
      const { payload, headers } = multipartBody([
        { name: "ok.csv", content: csv(1) },
        { name: "big.csv", content: "x".repeat(5000) },
      ]);
      const reply = await admin.request("POST", "/api/imports", payload, { headers });
      assert.equal(reply.status, 413, reply.text);
      assert.equal(
        errorOf(reply).message,
        "big.csv is larger than the upload limit of 4096 bytes per file (CSPSYNC_MAX_UPLOAD_BYTES)",
      );
      assert.deepEqual(uploadsLeft(), []);
      assert.equal(await importsStored(), 0, "the file before it was not imported either");

      const fine = multipartBody([1, 2].map((n) => ({ name: `f${n}.csv`, content: csv(n) })));
      const ok = await admin.request("POST", "/api/imports", fine.payload, { headers: fine.headers });
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(
        (ok.body as { files: { status: string }[] }).files.map((f) => f.status),
        ["imported", "imported"],
      );
      assert.deepEqual(uploadsLeft(), []);
    });
  });
}

describe("every response carries the security headers", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness("sqlite");
  });
  after(async () => h.cleanup());

  it("a malformed URL is a 400 in the API's error shape, with the headers", async () => {
    for (const url of ["/%E0%A4%A", "/api/connections/%E0%A4%A", "/api/%ZZ"]) {
      const reply = await h.server.inject({ method: "GET", url });
      assert.equal(reply.statusCode, 400, url);
      assertSecurityHeaders(reply.headers, url);
      assert.deepEqual(reply.json(), {
        error: { code: "validation", message: "the request URL is malformed (invalid percent-encoding)" },
      });
    }
    const api = await h.server.inject({ method: "GET", url: "/api/connections/%E0%A4%A" });
    assert.equal(api.headers["cache-control"], "no-store");
  });

  it("404s (and 401s) carry them too", async () => {
    const anonymous = h.client();
    const signedIn = h.client();
    await signedIn.setup();
    for (const [client, url, status] of [
      [anonymous, "/api/no-such-route", 401],
      [signedIn, "/api/no-such-route", 404],
      [signedIn, "/no-such-page", 404],
      [signedIn, "/assets/nothing.js", 404],
    ] as const) {
      const reply = await client.get(url);
      assert.equal(reply.status, status, url);
      assertSecurityHeaders(reply.headers, url);
    }
  });

  it("on a real socket, a request that is not valid HTTP is answered with them", async () => {
    const server: FastifyInstance = h.server;
    await server.listen({ port: 0, host: "127.0.0.1" });
    const { port } = server.server.address() as net.AddressInfo;
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1", () =>
        socket.write("GET / HTTP/1.1\r\nBad Header Line\r\n\r\n"),
      );
      let text = "";
      socket.on("data", (chunk) => (text += chunk.toString()));
      socket.on("end", () => resolve(text));
      socket.on("close", () => resolve(text));
      socket.on("error", reject);
    });
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
    const headers = Object.fromEntries(
      raw
        .split("\r\n\r\n")[0]!
        .split("\r\n")
        .slice(1)
        .map((line) => [
          line.slice(0, line.indexOf(":")).toLowerCase(),
          line.slice(line.indexOf(":") + 1).trim(),
        ]),
    );
    assertSecurityHeaders(headers, "client error");
    const response = await fetch(`http://127.0.0.1:${port}/%E0%A4%A`);
    assert.equal(response.status, 400);
    assertSecurityHeaders(Object.fromEntries(response.headers), "fetch of a malformed URL");
  });
});
