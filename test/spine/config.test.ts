import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CONFIG_VARIABLES, ConfigError, loadConfig } from "../../src/config.ts";
import { runCli } from "../support/cli.ts";

/** A start-up with this environment fails with a ConfigError naming the variable and what it should be. */
function refused(env: NodeJS.ProcessEnv, variable: string, should: RegExp): void {
  assert.throws(
    () => loadConfig(env),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.equal(error.field, variable);
      assert.ok(error.message.startsWith(`Invalid environment variable ${variable}: `), error.message);
      assert.match(error.message, should);
      assert.equal(error.kind, "validation");
      return true;
    },
  );
}

describe("config: every environment variable in one checked place", () => {
  it("reads every variable the README's table lists, and no other", () => {
    const readme = fs.readFileSync(path.resolve(import.meta.dirname, "../../README.md"), "utf8");
    const table = readme.split("\n").filter((line) => /^\| `CSPSYNC_/.test(line));
    const listed = new Set(table.flatMap((line) => line.split("|")[1]!.match(/CSPSYNC_[A-Z_]+/g) ?? []));
    assert.ok(listed.size >= 15, `the README table lists the variables (${[...listed].join(", ")})`);
    assert.deepEqual([...listed].sort(), [...CONFIG_VARIABLES].sort());
  });

  it("gives typed values and the defaults", () => {
    const config = loadConfig({
      CSPSYNC_DATA_DIR: "/tmp/cspsync-data",
      CSPSYNC_PORT: "9090",
      CSPSYNC_TRUST_PROXY: "1",
      CSPSYNC_MAX_UPLOAD_BYTES: "4096",
      CSPSYNC_PSA_ALLOWED_HOSTS: "127.0.0.1:8081, PSA.example.com",
      CSPSYNC_LOG_LEVEL: "debug",
      CSPSYNC_ADMIN_EMAIL: "ops@example.com",
      CSPSYNC_ADMIN_PASSWORD: "correct horse",
    });
    assert.equal(config.databaseUrl, "sqlite:/tmp/cspsync-data/cspsync.db");
    assert.deepEqual(config.server, {
      port: 9090,
      host: "127.0.0.1",
      trustProxy: 1,
      maxUploadBytes: 4096,
      maxUploadFiles: 10,
      maxUploadTotalBytes: 4096,
    });
    assert.deepEqual(config.psaAllowedHosts, ["127.0.0.1:8081", "psa.example.com"]);
    assert.equal(config.logLevel, "debug");
    assert.deepEqual(config.admin, { email: "ops@example.com", password: "correct horse" });
    assert.deepEqual(config.runLock.staleRunMs, 120_000);
    assert.equal(config.jobLeaseSeconds, 60);
    const defaults = loadConfig({});
    assert.equal(defaults.server.port, 8080);
    assert.equal(defaults.server.trustProxy, false);
    assert.equal(defaults.server.maxUploadBytes, 2 * 1024 ** 3);
    assert.equal(defaults.admin, null);
    assert.equal(defaults.logLevel, "info");
  });

  it("a value that is not a number, out of range, not one of the choices or not understood fails start-up", () => {
    refused({ CSPSYNC_PORT: "eighty" }, "CSPSYNC_PORT", /whole number from 0 to 65535, not "eighty"/);
    refused({ CSPSYNC_PORT: "70000" }, "CSPSYNC_PORT", /whole number from 0 to 65535/);
    refused({ CSPSYNC_MAX_UPLOAD_BYTES: "0" }, "CSPSYNC_MAX_UPLOAD_BYTES", /whole number from 1/);
    refused({ CSPSYNC_MAX_UPLOAD_FILES: "2.5" }, "CSPSYNC_MAX_UPLOAD_FILES", /whole number/);
    refused({ CSPSYNC_MAX_UPLOAD_TOTAL_BYTES: "-1" }, "CSPSYNC_MAX_UPLOAD_TOTAL_BYTES", /whole number/);
    refused({ CSPSYNC_JOB_LEASE_SECONDS: "0" }, "CSPSYNC_JOB_LEASE_SECONDS", /from 1 to 3600/);
    refused({ CSPSYNC_PSA_TIMEOUT_SECONDS: "601" }, "CSPSYNC_PSA_TIMEOUT_SECONDS", /from 1 to 600/);
    refused(
      { CSPSYNC_LOG_LEVEL: "loud" },
      "CSPSYNC_LOG_LEVEL",
      /one of debug, info, warn, error, not "loud"/,
    );
    refused({ CSPSYNC_NODE_NAME: "n".repeat(201) }, "CSPSYNC_NODE_NAME", /1 to 200 characters/);
    refused({ CSPSYNC_HOST: "   " }, "CSPSYNC_HOST", /address to listen on/);
    refused({ CSPSYNC_TRUST_PROXY: "all" }, "CSPSYNC_TRUST_PROXY", /number of proxies/);
    refused({ CSPSYNC_TRUST_PROXY: "proxy.local" }, "CSPSYNC_TRUST_PROXY", /neither a number of proxy hops/);
  });

  it("settings that contradict each other fail start-up naming the variable", () => {
    refused(
      { CSPSYNC_RUN_STALE_SECONDS: "30", CSPSYNC_PSA_TIMEOUT_SECONDS: "30" },
      "CSPSYNC_RUN_STALE_SECONDS",
      /must be longer than CSPSYNC_PSA_TIMEOUT_SECONDS \(30\)/,
    );
    refused({ CSPSYNC_ADMIN_EMAIL: "ops@example.com" }, "CSPSYNC_ADMIN_PASSWORD", /set together/);
    refused({ CSPSYNC_ADMIN_PASSWORD: "a secret password" }, "CSPSYNC_ADMIN_EMAIL", /set together/);
  });

  it("the admin password is never echoed in a start-up error", () => {
    assert.throws(
      () => loadConfig({ CSPSYNC_ADMIN_PASSWORD: "do-not-print-me", CSPSYNC_PORT: "x" }),
      (error: Error) => !error.message.includes("do-not-print-me"),
    );
  });

  it("cspsync refuses to start with a bad variable, naming it (any command, before opening anything)", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-config-"));
    try {
      const env = { CSPSYNC_DATA_DIR: dataDir, CSPSYNC_LOG_LEVEL: "loud" };
      for (const args of [["serve", "--port", "0"], ["customers"]]) {
        const result = await runCli(args, { env });
        assert.equal(result.code, 1, result.stderr);
        assert.match(
          result.stderr,
          /Invalid environment variable CSPSYNC_LOG_LEVEL: should be one of debug, info, warn, error, not "loud"/,
        );
        assert.equal(result.stdout, "");
      }
      // Nothing was created: the check comes before the database is opened.
      assert.deepEqual(fs.readdirSync(dataDir), []);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
