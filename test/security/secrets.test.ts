import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { loadSecretBox, parseSecretKey, SecretBox } from "../../src/security/secrets.ts";
import { assertHostAllowed, HostNotAllowedError, parseAllowedHosts } from "../../src/security/hosts.ts";

describe("credentials at rest", () => {
  it("round-trips, hides the plaintext and is bound to its row", () => {
    const box = new SecretBox(randomBytes(32));
    const sealed = box.seal('{"privateKey":"s3cr3t-value"}', "connection-1");
    assert.ok(!sealed.includes("s3cr3t"));
    assert.notEqual(box.seal("same", "c"), box.seal("same", "c"), "a fresh IV every time");
    assert.equal(box.open(sealed, "connection-1"), '{"privateKey":"s3cr3t-value"}');
    assert.throws(() => box.open(sealed, "connection-2"), /cannot be decrypted/);
    assert.throws(() => new SecretBox(randomBytes(32)).open(sealed, "connection-1"), /cannot be decrypted/);
  });

  it("generates the key file once, owner-readable only, and reuses it", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-key-"));
    const sealed = loadSecretBox(dir, undefined).seal("x", "row");
    const stat = fs.statSync(path.join(dir, "secret.key"));
    assert.equal(stat.mode & 0o777, 0o600);
    assert.equal(loadSecretBox(dir, undefined).open(sealed, "row"), "x");
  });

  it("takes the key from configuration as hex or base64, and refuses a wrong length", () => {
    const key = randomBytes(32);
    assert.deepEqual(parseSecretKey(key.toString("hex")), key);
    assert.deepEqual(parseSecretKey(key.toString("base64")), key);
    assert.throws(() => parseSecretKey("short"), /32 bytes/);
  });
});

describe("PSA host allow-list", () => {
  it("allows the vendors' public HTTPS hosts", () => {
    assertHostAllowed("https://api-na.myconnectwise.net", "connectwise", []);
    assertHostAllowed("https://webservices5.autotask.net/ATServicesRest/", "autotask", []);
  });

  it("refuses anything else before a request is made, unless the operator allow-listed it", () => {
    assert.throws(
      () => assertHostAllowed("http://api-na.myconnectwise.net", "connectwise", []),
      HostNotAllowedError,
    );
    assert.throws(
      () => assertHostAllowed("https://evil.example.com", "connectwise", []),
      /not a public connectwise API host/,
    );
    assert.throws(
      () => assertHostAllowed("https://myconnectwise.net.evil.com", "connectwise", []),
      HostNotAllowedError,
    );
    assert.throws(
      () => assertHostAllowed("https://webservices5.autotask.net", "connectwise", []),
      HostNotAllowedError,
    );
    assert.throws(() => assertHostAllowed("http://127.0.0.1:8081", "autotask", []), HostNotAllowedError);
    const allowed = parseAllowedHosts(" 127.0.0.1:8081 , cw.internal.example.com");
    assertHostAllowed("http://127.0.0.1:8081/x", "autotask", allowed);
    assertHostAllowed("https://cw.internal.example.com", "connectwise", allowed);
    assert.throws(() => assertHostAllowed("http://127.0.0.1:9999", "autotask", allowed), HostNotAllowedError);
  });
});

describe("the generated key file under concurrent start-up", () => {
  it("processes starting together on one data directory all read the same complete key", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-key-race-"));
    const script = `import { loadSecretBox } from ${JSON.stringify(path.resolve(import.meta.dirname, "../../src/security/secrets.ts"))};
      process.stdout.write(loadSecretBox(${JSON.stringify(dir)}, undefined).seal("x", "row"));`;
    const sealed = await Promise.all(
      Array.from(
        { length: 6 },
        () =>
          new Promise<string>((resolve, reject) => {
            const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
              stdio: ["ignore", "pipe", "inherit"],
            });
            let out = "";
            child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
            child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}`))));
          }),
      ),
    );
    const box = loadSecretBox(dir, undefined);
    for (const value of sealed) assert.equal(box.open(value, "row"), "x");
    assert.deepEqual(fs.readdirSync(dir), ["secret.key"], "no draft left behind");
    assert.equal(fs.statSync(path.join(dir, "secret.key")).mode & 0o777, 0o600);
  });
});
