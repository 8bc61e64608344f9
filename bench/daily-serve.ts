import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * bench:daily's `--serve` phase: `bin/cspsync.js serve` started on the benchmark's database, asked for the web
 * app's customers, history and report pages, and its peak RSS read from /proc/<pid>/status (VmHWM) before it
 * is stopped. The report is asked without the PSA read-back (`readBack=false`): reading back every mapped
 * agreement would measure the PSA's rate limit, not the server.
 */
export type ServeFigures = {
  peakRssMb: number;
  /** The VmHWM once the web app's requests were answered, before the API-only unpaged customer list. */
  webAppPeakMb: number;
  /** peakMb: the server's VmHWM once this answer was read (which request raised the peak). */
  calls: { path: string; status: number; ms: number; bytes: number; peakMb: number }[];
  /** The server's VmHWM once it answered its first request (/api/session), before any data was asked for. */
  startedMb: number;
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The Node flags of bin/cspsync.js's `#!/usr/bin/env -S node …` line: `cspsync serve` run as users run it
 * (npx, the bin on PATH) starts Node with them, but `node bin/cspsync.js` does not read that line. Without
 * them the bench measured a server with twice the young generation users get.
 */
export function shebangFlags(script: string): string[] {
  const first = fs.readFileSync(script, "utf8").split("\n", 1)[0] ?? "";
  const match = /^#!\S*env -S node((?:\s+--\S+)*)\s*$/.exec(first);
  return match?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
}

function vmHwmMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1];
  return kb === undefined ? Number.NaN : Number(kb) / 1024;
}

export async function measureServe(options: {
  databaseUrl: string;
  env: Record<string, string>;
  connectionId: string;
  invoice: string;
  /** A customer's tenant id: its drill-down page. */
  customer: string;
}): Promise<ServeFigures> {
  const port = await freePort();
  const script = path.join(import.meta.dirname, "..", "bin", "cspsync.js");
  const email = "bench@cspsync.example";
  const password = "bench-daily-serve-Password-1";
  const child = spawn(process.execPath, [...shebangFlags(script), script, "serve"], {
    env: {
      ...process.env,
      ...options.env,
      CSPSYNC_DATABASE_URL: options.databaseUrl,
      CSPSYNC_PORT: String(port),
      CSPSYNC_HOST: "127.0.0.1",
      CSPSYNC_ADMIN_EMAIL: email,
      CSPSYNC_ADMIN_PASSWORD: password,
      CSPSYNC_LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`serve exited with ${child.exitCode}`);
      const up = await fetch(`${base}/api/session`).then(
        () => true,
        () => false,
      );
      if (up) break;
      if (i > 600) throw new Error("serve did not answer within 60 s");
      await sleep(100);
    }
    const login = await fetch(`${base}/api/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password }),
    });
    if (!login.ok) throw new Error(`login: ${login.status} ${await login.text()}`);
    const cookie = login.headers
      .getSetCookie()
      .map((c) => c.split(";")[0])
      .join("; ");
    // What the web app asks for: Customers (a page), the Customer pickers of Pricing, Sync history and Reports
    // (names only), Sync history, Reports (summary, lines, a drill-down, the trend).
    const paths = [
      `/api/connections/${options.connectionId}/customers?page=1&pageSize=50`,
      "/api/customers?limit=5000",
      "/api/runs?limit=50",
      `/api/runs?limit=500&connectionId=${options.connectionId}`,
      `/api/reports/reconciliation?invoice=${options.invoice}&readBack=false`,
      `/api/reports/reconciliation/lines?invoice=${options.invoice}&readBack=false&limit=200`,
      `/api/reports/reconciliation/lines?invoice=${options.invoice}&readBack=false&customer=${options.customer}`,
      "/api/reports/trend",
      // The API still lists every customer with its entries without pageSize (no page of the web app asks for
      // it since the Pricing page lists names): asked last, so the peak of the web app's requests shows apart.
      `/api/connections/${options.connectionId}/customers?status=all`,
    ];
    const webAppPaths = paths.length - 1;
    const startedMb = vmHwmMb(child.pid!);
    const calls: ServeFigures["calls"] = [];
    for (const p of paths) {
      const started = process.hrtime.bigint();
      const response = await fetch(`${base}${p}`, { headers: { cookie } });
      const body = await response.arrayBuffer();
      calls.push({
        path: p,
        status: response.status,
        ms: Number(process.hrtime.bigint() - started) / 1e6,
        bytes: body.byteLength,
        peakMb: vmHwmMb(child.pid!),
      });
    }
    return {
      peakRssMb: vmHwmMb(child.pid!),
      webAppPeakMb: calls[webAppPaths - 1]!.peakMb,
      startedMb,
      calls,
    };
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
  }
}
