import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { App } from "../app.ts";
import type { AppSettings, AppSettingsService } from "../services/app-settings.ts";
import type { AuthService } from "../services/auth.ts";
import type { ImportSummary } from "../services/import-recon.ts";
import type { LoginThrottleOptions } from "./login-throttle.ts";

/** What every route module gets: the app's services plus the server's own. */
export type ServerContext = {
  app: App;
  auth: AuthService;
  settings: AppSettingsService;
  version: string;
  /** Uploads are streamed here (one directory per upload) and removed once imported. */
  uploadDir: string;
  /** Largest file, most files, and largest request (all files together) of one upload. */
  maxUploadBytes: number;
  maxUploadFiles: number;
  maxUploadTotalBytes: number;
  afterImport: (files: ImportSummary[]) => Promise<unknown> | unknown;
  /** Called after the daily sync time or time zone changed, e.g. to reinstall the schedule. */
  afterSettingsChange: (settings: AppSettings) => Promise<unknown> | unknown;
  loginThrottle: LoginThrottleOptions;
};

export type ApiInstance = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;
