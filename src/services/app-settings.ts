import { z } from "zod";
import { MAX_ID_CHARS } from "../core/limits.ts";
import { assertTimeZone, dailyCron, DailyTimeError, TimeZoneError } from "../core/schedule.ts";
import type { Store } from "../store/db.ts";
import { AppError } from "../core/errors.ts";

/**
 * Organization-wide settings: when the daily sync check runs, in which time zone. Stored as JSON values in
 * `app_settings`; values never set read back as the defaults.
 */
export type AppSettings = { dailySyncTime: string; timeZone: string };

export const DEFAULT_APP_SETTINGS: AppSettings = { dailySyncTime: "06:00", timeZone: "UTC" };

const KEYS = { dailySyncTime: "schedule.daily_sync_time", timeZone: "schedule.time_zone" } as const;

export class AppSettingsError extends AppError {
  declare readonly field: keyof AppSettings;
  constructor(message: string, field: keyof AppSettings) {
    super("validation", message, { field });
  }
}

/** "HH:MM", 24-hour. */
export function isDailyTime(value: string): boolean {
  try {
    dailyCron(value);
    return /^\d{2}:\d{2}$/.test(value);
  } catch (error) {
    if (error instanceof DailyTimeError) return false;
    throw error;
  }
}

export function isTimeZone(value: string): boolean {
  try {
    assertTimeZone(value);
    return true;
  } catch (error) {
    if (error instanceof TimeZoneError) return false;
    throw error;
  }
}

export const appSettingsSchema = z.object({
  dailySyncTime: z
    .string()
    .max(MAX_ID_CHARS)
    .refine(isDailyTime, "dailySyncTime must be a 24-hour time as HH:MM, e.g. 06:30"),
  timeZone: z
    .string()
    .max(MAX_ID_CHARS)
    .refine(isTimeZone, 'timeZone must be an IANA time zone such as "Europe/Amsterdam"'),
});

export class AppSettingsService {
  private readonly store: Store;
  private readonly organizationId: string;
  private readonly now: () => Date;

  constructor(store: Store, organizationId: string, now: () => Date = () => new Date()) {
    this.store = store;
    this.organizationId = organizationId;
    this.now = now;
  }

  async get(): Promise<AppSettings> {
    const rows = await this.store.db
      .selectFrom("app_settings")
      .select(["key", "value"])
      .where("organization_id", "=", this.organizationId)
      .where("key", "in", Object.values(KEYS))
      .execute();
    const read = (key: string, fallback: string) => {
      const row = rows.find((r) => r.key === key);
      const value: unknown = row ? JSON.parse(row.value) : undefined;
      return typeof value === "string" ? value : fallback;
    };
    return {
      dailySyncTime: read(KEYS.dailySyncTime, DEFAULT_APP_SETTINGS.dailySyncTime),
      timeZone: read(KEYS.timeZone, DEFAULT_APP_SETTINGS.timeZone),
    };
  }

  /** Validates both values first; stores them together or not at all. */
  async set(settings: AppSettings): Promise<AppSettings> {
    const parsed = appSettingsSchema.safeParse(settings);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new AppSettingsError(issue.message, issue.path[0] as keyof AppSettings);
    }
    const timeZone = assertTimeZone(parsed.data.timeZone);
    const updatedAt = this.now().toISOString();
    const values = { dailySyncTime: parsed.data.dailySyncTime, timeZone };
    await this.store.db.transaction().execute(async (trx) => {
      for (const field of ["dailySyncTime", "timeZone"] as const) {
        const value = JSON.stringify(values[field]);
        await trx
          .insertInto("app_settings")
          .values({ organization_id: this.organizationId, key: KEYS[field], value, updated_at: updatedAt })
          .onConflict((oc) =>
            oc.columns(["organization_id", "key"]).doUpdateSet({ value, updated_at: updatedAt }),
          )
          .execute();
      }
    });
    return values;
  }
}
