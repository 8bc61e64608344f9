import path from "node:path";
import { z } from "zod";

/** Environment variables cspsync reads. Validated once, at the edge, so the rest of the code gets typed values. */
const envSchema = z.object({
  CSPSYNC_DATABASE_URL: z.string().min(1).optional(),
  CSPSYNC_DATA_DIR: z.string().min(1).default("./data"),
  CSPSYNC_LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
});

export type AppConfig = {
  dataDir: string;
  databaseUrl: string;
  logLevel: "debug" | "info" | "warn" | "error";
};

export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: { databaseUrl?: string } = {},
): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`Invalid environment variable ${String(issue?.path[0])}: ${issue?.message}`);
  }
  const dataDir = path.resolve(parsed.data.CSPSYNC_DATA_DIR);
  const databaseUrl =
    overrides.databaseUrl ?? parsed.data.CSPSYNC_DATABASE_URL ?? `sqlite:${path.join(dataDir, "cspsync.db")}`;
  return { dataDir, databaseUrl, logLevel: parsed.data.CSPSYNC_LOG_LEVEL };
}
