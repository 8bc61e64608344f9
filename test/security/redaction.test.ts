import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ConnectWiseClient } from "../../src/psa/connectwise/client.ts";
import { PsaError, redactSecrets } from "../../src/psa/shared/errors.ts";
import type { TransportLogEvent } from "../../src/psa/shared/transport.ts";

const SECRET = "s3cret/value+with spaces&=?";
const b64 = (text: string) => Buffer.from(text).toString("base64");
const b64url = (text: string) => Buffer.from(text).toString("base64url");

describe("redactSecrets: every form a secret takes on the wire", () => {
  it("redacts the exact value and both URL encodings, upper- and lower-case escapes", () => {
    const forms = [
      SECRET,
      encodeURIComponent(SECRET),
      new URLSearchParams({ s: SECRET }).toString().slice(2),
      encodeURIComponent(SECRET).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()),
    ];
    assert.ok(forms[2]!.includes("+"), "form encoding writes spaces as +");
    for (const form of forms) {
      assert.equal(redactSecrets(`before ${form} after`, [SECRET]), "before *** after", form);
    }
  });

  it("redacts base64 and base64url, with and without padding, also URL-encoded", () => {
    for (const secret of [SECRET, "abcd", "abcde", "abcdef", "Pr1vate-Key-Never-Shown-42"]) {
      const forms = [
        b64(secret),
        b64(secret).replace(/=+$/, ""),
        b64url(secret),
        encodeURIComponent(b64(secret)),
      ];
      for (const form of forms) {
        const redacted = redactSecrets(`x=${form};`, [secret]);
        assert.equal(redacted, "x=***;", `${secret} as ${form}`);
      }
    }
  });

  it("redacts the secret's bytes inside a longer base64 value at any offset, e.g. a Basic token", () => {
    const secret = "Pr1vate-Key-Never-Shown-42";
    for (const prefix of ["", "a", "ab", "company+public:", "company+publi:", "company+publ:"]) {
      for (const suffix of ["", "x", "xy", "xyz"]) {
        const token = b64(`${prefix}${secret}${suffix}`);
        for (const encoded of [token, Buffer.from(`${prefix}${secret}${suffix}`).toString("base64url")]) {
          const redacted = redactSecrets(`Authorization: Basic ${encoded}`, [secret]);
          assert.notEqual(redacted, `Authorization: Basic ${encoded}`, `${prefix}|${suffix}`);
          // What is left around the *** encodes at most the two bytes next to the secret, never its middle.
          const left = redacted.replace("Authorization: Basic ", "").split("***");
          assert.equal(left.length, 2, redacted);
          const leftover = left.join("");
          assert.ok(leftover.length <= Math.ceil(((prefix.length + suffix.length + 4) * 4) / 3) + 4);
        }
      }
    }
  });

  it("redacts the ConnectWise Basic value whole when it is one of the secrets", () => {
    const token = b64("company+publicKey:Pr1vate-Key-Never-Shown-42");
    const text = `sent Authorization: Basic ${token} and ${encodeURIComponent(token)}`;
    assert.equal(
      redactSecrets(text, ["Pr1vate-Key-Never-Shown-42", token]),
      "sent Authorization: Basic *** and ***",
    );
  });

  it("ignores secrets shorter than 4 characters, and leaves ordinary text alone", () => {
    assert.equal(redactSecrets("abc and YWJj and abc%20", ["abc", ""]), "abc and YWJj and abc%20");
    const text = "autotask GET https://webservices5.autotask.net/ATServicesRest/V1.0/Companies/1 HTTP 404";
    assert.equal(redactSecrets(text, ["abcd", "Companies-secret-that-is-long"]), text);
  });

  it("replaces the longest form first, so a secret containing another is replaced whole", () => {
    assert.equal(redactSecrets("key=abcd-efgh", ["abcd", "abcd-efgh"]), "key=***");
  });
});

describe("ConnectWise errors and logs never show the private key or the Basic value", () => {
  const servers: http.Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it("a server echoing the Authorization header and the key in several encodings is redacted", async () => {
    const privateKey = "Pr1vate-Key-Never-Shown-42";
    const token = b64(`acme+pubkey:${privateKey}`);
    const server = http.createServer((req, res) => {
      if (req.url?.startsWith("/login/companyinfo/")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ CompanyName: "Acme", Codebase: "v2025_1/", VersionCode: "v2025.1" }));
        return;
      }
      res.writeHead(400, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          code: "InvalidObject",
          message: `bad request with ${req.headers.authorization}`,
          errors: [
            { code: "X", message: `key ${encodeURIComponent(privateKey)} / ${b64(privateKey)}`, field: "a" },
            { code: "Y", message: `token ${b64url(`acme+pubkey:${privateKey}`)}`, field: "b" },
          ],
        }),
      );
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const events: TransportLogEvent[] = [];
    const client = new ConnectWiseClient({
      siteUrl: url,
      companyId: "acme",
      publicKey: "pubkey",
      privateKey,
      clientId: "5b1f0a8e-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
      requestsPerMinute: false,
      transport: { maxAttempts: 1, logger: (event) => events.push(event) },
    });
    const error = await client.getCompany(1).catch((e: unknown) => e);
    assert.ok(error instanceof PsaError, String(error));
    const everything = `${error.message}\n${JSON.stringify(error)}\n${JSON.stringify(events)}`;
    assert.match(error.message, /bad request with Basic \*\*\*/);
    for (const leak of [privateKey, token, encodeURIComponent(privateKey), b64(privateKey)]) {
      assert.ok(!everything.includes(leak), `leaked ${leak}`);
    }
    assert.ok(
      !everything.includes(b64url(`acme+pubkey:${privateKey}`).slice(8, 30)),
      "base64url token leaked",
    );
  });
});
