import { createHash, randomBytes, randomUUID, scrypt, timingSafeEqual } from "node:crypto";
import { sql } from "kysely";
import { z } from "zod";
import { MAX_PASSWORD_LENGTH, passwordProblem } from "../security/password-policy.ts";
import type { Store } from "../store/db.ts";
import type { ApiTokensTable, UserRole, UsersTable } from "../store/schema.ts";
import { AppError } from "../core/errors.ts";

/**
 * Who may use cspsync over HTTP: users (e-mail + password, with a role), their login sessions, and API
 * tokens for automation. Passwords are hashed with scrypt and a per-user salt; session ids and API tokens
 * are stored only as SHA-256 hashes, so reading the database does not let anyone log in. Failed logins are
 * counted per e-mail and client address, and lock that pair out for an exponentially growing time. API tokens
 * belong to the user who made them: they work only while that user exists, never with more than the user's
 * role, and until their expiry.
 */
export const ROLES = ["admin", "viewer"] as const satisfies readonly UserRole[];
export type Role = UserRole;

export type UserView = {
  id: string;
  email: string;
  role: Role;
  createdAt: string;
  lastLoginAt: string | null;
};

export type TokenView = {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  lastUsedAt: string | null;
  /** null: never expires. */
  expiresAt: string | null;
  /** The user the token acts for; null when that user is gone (the token no longer works). */
  owner: { id: string; email: string } | null;
  /** "active", or why the token no longer works. */
  status: TokenStatus;
};
export type TokenStatus = "active" | "expired" | "owner-deleted" | "owner-demoted";

/** How long a new API token lives unless another lifetime (or "never") is chosen. */
export const DEFAULT_TOKEN_DAYS = 90;
export const MAX_TOKEN_DAYS = 3650;

export type SessionInfo = { user: UserView; csrfToken: string; expiresAt: string };
export type NewSession = SessionInfo & { sessionId: string };

export type AuthOptions = {
  now?: () => Date;
  /** A session unused for this long ends (default 12 hours). */
  sessionIdleMs?: number;
  /** A session ends this long after login, however active (default 7 days). */
  sessionAbsoluteMs?: number;
  /** Failed logins per e-mail and address before the pair is locked out (default 5). */
  maxFailures?: number;
  /** First lockout; each further failure doubles it (default 1 minute, at most `lockoutMaxMs`). */
  lockoutBaseMs?: number;
  lockoutMaxMs?: number;
  /** Failures older than this are forgotten (default 24 hours). */
  failureWindowMs?: number;
  /** scrypt cost N (a power of two). Stored in each hash, so changing it keeps old passwords valid. */
  passwordCost?: number;
};

const DEFAULTS = {
  sessionIdleMs: 12 * 3_600_000,
  sessionAbsoluteMs: 7 * 24 * 3_600_000,
  maxFailures: 5,
  lockoutBaseMs: 60_000,
  lockoutMaxMs: 3_600_000,
  failureWindowMs: 24 * 3_600_000,
  passwordCost: 2 ** 15,
};

/** Writes of "last seen / last used" are skipped when the stored value is this fresh. */
const TOUCH_INTERVAL_MS = 60_000;
const SCRYPT_BLOCK_SIZE = 8;
const SCRYPT_PARALLELISM = 1;
const SCRYPT_KEY_LENGTH = 32;
const TOKEN_PREFIX = "csps_";
const SETUP_MARKER_KEY = "auth.setup_completed";

export const emailSchema = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email({ message: "email must be an e-mail address" }))
  .transform((e) => e.toLowerCase());
/** A new password (setup, new user, change, reset): length and the common-password check. */
export const passwordSchema = z.string().superRefine((password, context) => {
  const problem = passwordProblem(password);
  if (problem) context.addIssue({ code: "custom", message: problem });
});
/** A password being checked, not chosen: only bounded, so a login never reveals the policy. */
export const enteredPasswordSchema = z.string().max(MAX_PASSWORD_LENGTH);
export const roleSchema = z.enum(ROLES);

export class AuthInputError extends AppError {
  constructor(message: string, field?: string) {
    super("validation", message, { field });
  }
}
export class AuthConflictError extends AppError {
  constructor(message: string) {
    super("conflict", message);
  }
}
export class AuthNotFoundError extends AppError {
  constructor(message: string) {
    super("not_found", message);
  }
}
export class InvalidCredentialsError extends AppError {
  constructor() {
    super("unauthorized", "wrong e-mail or password");
  }
}
export class LoginLockedError extends AppError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super("rate_limited", `too many failed logins; try again in ${retryAfterSeconds} seconds`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function randomToken(): string {
  return randomBytes(32).toString("base64url");
}

/** Compares two strings in time independent of where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function deriveKey(password: string, salt: Buffer, cost: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(
      password.normalize("NFC"),
      salt,
      SCRYPT_KEY_LENGTH,
      { N: cost, r: SCRYPT_BLOCK_SIZE, p: SCRYPT_PARALLELISM, maxmem: 256 * cost * SCRYPT_BLOCK_SIZE },
      (error, key) => (error ? reject(error) : resolve(key)),
    ),
  );
}

export async function hashPassword(password: string, cost: number = DEFAULTS.passwordCost): Promise<string> {
  const salt = randomBytes(16);
  const key = await deriveKey(password, salt, cost);
  return [
    "scrypt",
    cost,
    SCRYPT_BLOCK_SIZE,
    SCRYPT_PARALLELISM,
    salt.toString("base64url"),
    key.toString("base64url"),
  ].join("$");
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, cost, blockSize, parallelism, salt, hash] = stored.split("$");
  if (scheme !== "scrypt" || !salt || !hash) return false;
  if (Number(blockSize) !== SCRYPT_BLOCK_SIZE || Number(parallelism) !== SCRYPT_PARALLELISM) return false;
  const expected = Buffer.from(hash, "base64url");
  const actual = await deriveKey(password, Buffer.from(salt, "base64url"), Number(cost));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

function toUserView(row: UsersTable): UserView {
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    createdAt: row.created_at,
    lastLoginAt: row.last_login_at,
  };
}

/** The password a user chooses, refused with the reason when it is too short or too easy to guess. */
function newPassword(password: unknown, email: string): string {
  if (typeof password !== "string") throw new AuthInputError("password must be a string", "password");
  const problem = passwordProblem(password, email);
  if (problem) throw new AuthInputError(problem, "password");
  return password;
}

function parseInput<T>(schema: z.ZodType<T>, value: unknown, field: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new AuthInputError(result.error.issues[0]?.message ?? `${field} is invalid`, field);
}

export class AuthService {
  private readonly store: Store;
  private readonly organizationId: string;
  private readonly options: typeof DEFAULTS;
  private readonly clock: () => Date;
  /** Hash checked for unknown e-mails, so a login takes as long whether or not the user exists. */
  private dummyHash: Promise<string> | undefined;

  constructor(store: Store, organizationId: string, options: AuthOptions = {}) {
    this.store = store;
    this.organizationId = organizationId;
    const { now, ...rest } = options;
    this.options = {
      ...DEFAULTS,
      ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)),
    };
    this.clock = now ?? (() => new Date());
  }

  private now(): Date {
    return this.clock();
  }

  // ---- users -------------------------------------------------------------------------------------------

  async needsSetup(): Promise<boolean> {
    return (await this.userCount()) === 0;
  }

  async userCount(): Promise<number> {
    const row = await this.store.db
      .selectFrom("users")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async listUsers(): Promise<UserView[]> {
    const rows = await this.store.db
      .selectFrom("users")
      .selectAll()
      .where("organization_id", "=", this.organizationId)
      .orderBy("email")
      .execute();
    return rows.map(toUserView);
  }

  async createUser(input: { email: string; password: string; role: Role }): Promise<UserView> {
    const email = parseInput(emailSchema, input.email, "email");
    const password = newPassword(input.password, email);
    const role = parseInput(roleSchema, input.role, "role");
    if (await this.findUserByEmail(email))
      throw new AuthConflictError(`a user with e-mail ${email} already exists`);
    const row = this.userRow(email, await hashPassword(password, this.options.passwordCost), role);
    try {
      await this.store.db.insertInto("users").values(row).execute();
    } catch (error) {
      if (await this.findUserByEmail(email))
        throw new AuthConflictError(`a user with e-mail ${email} already exists`);
      throw error;
    }
    return toUserView(row);
  }

  /**
   * Creates the first admin, once: a marker row written in the same transaction makes a second setup fail
   * even when two arrive at the same moment.
   */
  async setup(input: { email: string; password: string }): Promise<UserView> {
    const email = parseInput(emailSchema, input.email, "email");
    const password = newPassword(input.password, email);
    if (!(await this.needsSetup())) throw new AuthConflictError("setup is already complete");
    const row = this.userRow(email, await hashPassword(password, this.options.passwordCost), "admin");
    try {
      await this.store.db.transaction().execute(async (trx) => {
        const existing = await trx
          .selectFrom("users")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow();
        if (Number(existing.n) > 0) throw new AuthConflictError("setup is already complete");
        await trx
          .insertInto("app_settings")
          .values({
            organization_id: this.organizationId,
            key: SETUP_MARKER_KEY,
            value: JSON.stringify(row.created_at),
            updated_at: row.created_at,
          })
          .execute();
        await trx.insertInto("users").values(row).execute();
      });
    } catch (error) {
      if (error instanceof AuthConflictError) throw error;
      if (!(await this.needsSetup())) throw new AuthConflictError("setup is already complete");
      const marker = await this.store.db
        .selectFrom("app_settings")
        .select("key")
        .where("organization_id", "=", this.organizationId)
        .where("key", "=", SETUP_MARKER_KEY)
        .executeTakeFirst();
      if (marker) throw new AuthConflictError("setup is already complete");
      throw error;
    }
    return toUserView(row);
  }

  /**
   * Creates the first admin from CSPSYNC_ADMIN_EMAIL / CSPSYNC_ADMIN_PASSWORD when no user exists yet.
   * An existing user base is never touched, so the variables may stay set.
   */
  async ensureAdminFromEnv(env: NodeJS.ProcessEnv): Promise<"created" | "exists" | "not-configured"> {
    const email = env.CSPSYNC_ADMIN_EMAIL;
    const password = env.CSPSYNC_ADMIN_PASSWORD;
    if (!email && !password) return "not-configured";
    if (!email || !password)
      throw new AuthInputError("CSPSYNC_ADMIN_EMAIL and CSPSYNC_ADMIN_PASSWORD must be set together");
    if (!(await this.needsSetup())) return "exists";
    try {
      await this.setup({ email, password });
    } catch (error) {
      if (error instanceof AuthConflictError) return "exists";
      if (error instanceof AuthInputError)
        throw new AuthInputError(
          `CSPSYNC_ADMIN_${error.field === "email" ? "EMAIL" : "PASSWORD"}: ${error.message}`,
        );
      throw error;
    }
    return "created";
  }

  /** Deletes a user and their sessions; the last admin cannot be deleted (nobody could administer cspsync). */
  async deleteUser(id: string): Promise<void> {
    const user = await this.userById(id);
    if (user.role === "admin" && (await this.adminCount()) <= 1)
      throw new AuthConflictError("the last admin cannot be deleted");
    await this.store.db.deleteFrom("sessions").where("user_id", "=", id).execute();
    await this.store.db.deleteFrom("users").where("id", "=", id).execute();
  }

  /**
   * A user changes their own password: the current one must be right (a stolen session alone cannot take
   * the account over). Every other session of the user ends; the one that asked stays.
   */
  async changeOwnPassword(
    userId: string,
    input: { currentPassword: string; newPassword: string },
    keepSessionId?: string,
  ): Promise<void> {
    const user = await this.userById(userId);
    if (!(await verifyPassword(String(input.currentPassword), user.password_hash)))
      throw new AuthInputError("the current password is wrong", "currentPassword");
    const password = newPassword(input.newPassword, user.email);
    if (await verifyPassword(password, user.password_hash))
      throw new AuthInputError("the new password must differ from the current one", "newPassword");
    await this.storePassword(user.id, password, keepSessionId);
  }

  /** An admin sets another user's password; all of that user's sessions end. */
  async resetPassword(userId: string, password: string): Promise<void> {
    const user = await this.userById(userId);
    await this.storePassword(user.id, newPassword(password, user.email));
  }

  /**
   * Changes a user's role. The last admin cannot be demoted. A demoted user's admin tokens stop working at
   * once (see `resolveToken`), and their sessions act with the new role from the next request.
   */
  async setRole(userId: string, roleInput: Role): Promise<UserView> {
    const role = parseInput(roleSchema, roleInput, "role");
    const user = await this.userById(userId);
    if (user.role === "admin" && role !== "admin" && (await this.adminCount()) <= 1)
      throw new AuthConflictError("the last admin cannot be demoted");
    const updatedAt = this.now().toISOString();
    await this.store.db
      .updateTable("users")
      .set({ role, updated_at: updatedAt })
      .where("id", "=", user.id)
      .execute();
    return toUserView({ ...user, role, updated_at: updatedAt });
  }

  private async storePassword(userId: string, password: string, keepSessionId?: string): Promise<void> {
    const hash = await hashPassword(password, this.options.passwordCost);
    await this.store.db.transaction().execute(async (trx) => {
      await trx
        .updateTable("users")
        .set({ password_hash: hash, updated_at: this.now().toISOString() })
        .where("id", "=", userId)
        .execute();
      let ended = trx.deleteFrom("sessions").where("user_id", "=", userId);
      if (keepSessionId) ended = ended.where("id_hash", "!=", sha256(keepSessionId));
      await ended.execute();
    });
  }

  private async userById(id: string): Promise<UsersTable> {
    const user = await this.store.db
      .selectFrom("users")
      .selectAll()
      .where("organization_id", "=", this.organizationId)
      .where("id", "=", id)
      .executeTakeFirst();
    if (!user) throw new AuthNotFoundError(`no user with id ${id}`);
    return user;
  }

  private async adminCount(): Promise<number> {
    const admins = await this.store.db
      .selectFrom("users")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("organization_id", "=", this.organizationId)
      .where("role", "=", "admin")
      .executeTakeFirstOrThrow();
    return Number(admins.n);
  }

  private userRow(email: string, passwordHash: string, role: Role): UsersTable {
    const now = this.now().toISOString();
    return {
      id: randomUUID(),
      organization_id: this.organizationId,
      email,
      password_hash: passwordHash,
      role,
      created_at: now,
      updated_at: now,
      last_login_at: null,
    };
  }

  private async findUserByEmail(email: string): Promise<UsersTable | undefined> {
    return this.store.db.selectFrom("users").selectAll().where("email", "=", email).executeTakeFirst();
  }

  // ---- login and sessions ------------------------------------------------------------------------------

  /**
   * Checks the password and opens a session. Every attempt is counted as a failure before the password is
   * checked, in the same statement that checks the lockout (see `countAttempt`), so parallel guesses cannot
   * slip past the counter: with 5 allowed failures, at most 5 guesses per e-mail and address are ever
   * checked, however many arrive at once. A success clears the count.
   */
  async login(emailInput: string, password: string, clientAddress: string): Promise<NewSession> {
    const email = String(emailInput).trim().toLowerCase();
    const attemptKey = sha256(`${email}\n${clientAddress}`);
    const now = this.now();
    await this.countAttempt(attemptKey, now);
    // The dummy hash is made on the first login whoever logs in, so neither path is slower the first time.
    const dummyHash = await this.dummyPasswordHash();
    const user = await this.findUserByEmail(email);
    let valid = false;
    if (user) valid = await verifyPassword(password, user.password_hash);
    else await verifyPassword(password, dummyHash); // the same work as a real check: no user enumeration
    if (!user || !valid) throw new InvalidCredentialsError();
    await this.store.db
      .deleteFrom("login_attempts")
      .where("organization_id", "=", this.organizationId)
      .where("attempt_key", "=", attemptKey)
      .execute();
    await this.store.db
      .updateTable("users")
      .set({ last_login_at: now.toISOString() })
      .where("id", "=", user.id)
      .execute();
    return this.openSession({ ...user, last_login_at: now.toISOString() });
  }

  /** Opens a session for a user who has just proven who they are (login, or the setup that created them). */
  async openSession(user: UsersTable | UserView): Promise<NewSession> {
    const view = "password_hash" in user ? toUserView(user) : user;
    const sessionId = randomToken();
    const csrfToken = randomToken();
    const now = this.now();
    const expiresAt = new Date(now.getTime() + this.options.sessionAbsoluteMs).toISOString();
    // Sessions that ended without a logout are removed here, so the table does not grow forever.
    await this.store.db
      .deleteFrom("sessions")
      .where((eb) =>
        eb.or([
          eb("expires_at", "<=", now.toISOString()),
          eb("last_seen_at", "<=", new Date(now.getTime() - this.options.sessionIdleMs).toISOString()),
        ]),
      )
      .execute();
    await this.store.db
      .insertInto("sessions")
      .values({
        id_hash: sha256(sessionId),
        organization_id: this.organizationId,
        user_id: view.id,
        csrf_token: csrfToken,
        created_at: now.toISOString(),
        last_seen_at: now.toISOString(),
        expires_at: expiresAt,
      })
      .execute();
    return { sessionId, csrfToken, expiresAt, user: view };
  }

  /** The session behind a cookie value, or null when it is unknown, idle too long, or past its end. */
  async resolveSession(sessionId: string): Promise<SessionInfo | null> {
    if (!sessionId) return null;
    const idHash = sha256(sessionId);
    const row = await this.store.db
      .selectFrom("sessions")
      .innerJoin("users", "users.id", "sessions.user_id")
      .selectAll("users")
      .select(["sessions.csrf_token", "sessions.last_seen_at", "sessions.expires_at"])
      .where("sessions.id_hash", "=", idHash)
      .where("sessions.organization_id", "=", this.organizationId)
      .executeTakeFirst();
    if (!row) return null;
    const now = this.now().getTime();
    const idleEnd = Date.parse(row.last_seen_at) + this.options.sessionIdleMs;
    if (Date.parse(row.expires_at) <= now || idleEnd <= now) {
      await this.store.db.deleteFrom("sessions").where("id_hash", "=", idHash).execute();
      return null;
    }
    if (now - Date.parse(row.last_seen_at) >= TOUCH_INTERVAL_MS)
      await this.store.db
        .updateTable("sessions")
        .set({ last_seen_at: new Date(now).toISOString() })
        .where("id_hash", "=", idHash)
        .execute();
    return { user: toUserView(row), csrfToken: row.csrf_token, expiresAt: row.expires_at };
  }

  async endSession(sessionId: string): Promise<void> {
    await this.store.db.deleteFrom("sessions").where("id_hash", "=", sha256(sessionId)).execute();
  }

  /**
   * Counts one attempt for the e-mail and address, or refuses it while they are locked out. One statement
   * on both databases: the upsert's `WHERE` only lets the count rise while no lockout runs, and the count
   * that reaches the limit sets the lockout in the same row update. Its duration (base × 2^(failures − limit),
   * capped) is chosen by a CASE over precomputed instants, so no date arithmetic runs in SQL.
   */
  private async countAttempt(attemptKey: string, now: Date): Promise<void> {
    const db = this.store.db;
    const stamp = now.toISOString();
    const windowStart = new Date(now.getTime() - this.options.failureWindowMs).toISOString();
    // Failures long past are forgotten (any e-mail and address: the table stays small), unless their
    // lockout still runs.
    await db
      .deleteFrom("login_attempts")
      .where("organization_id", "=", this.organizationId)
      .where("last_failure_at", "<", windowStart)
      .where((eb) => eb.or([eb("locked_until", "is", null), eb("locked_until", "<", stamp)]))
      .execute();
    const max = this.options.maxFailures;
    const lockEnds = this.lockoutEnds(now);
    const lockAfter = (count: ReturnType<typeof sql<number>>) => {
      const cap = lockEnds.at(-1)!;
      const steps = lockEnds.slice(0, -1).map((end, extra) => sql`when ${sql.lit(extra)} then ${end}`);
      const duration =
        steps.length === 0
          ? sql`${cap}`
          : sql`case ${count} - ${sql.lit(max)} ${sql.join(steps, sql` `)} else ${cap} end`;
      return sql<string | null>`case when ${count} >= ${sql.lit(max)} then ${duration} else null end`;
    };
    const counted = sql<number>`case when login_attempts.last_failure_at < ${windowStart} then 1 else login_attempts.failures + 1 end`;
    const row = await db
      .insertInto("login_attempts")
      .values({
        organization_id: this.organizationId,
        attempt_key: attemptKey,
        failures: 1,
        last_failure_at: stamp,
        locked_until: max <= 1 ? lockEnds[0]! : null,
      })
      .onConflict((oc) =>
        oc
          .columns(["organization_id", "attempt_key"])
          .doUpdateSet({ failures: counted, last_failure_at: stamp, locked_until: lockAfter(counted) })
          .where((eb) =>
            eb.or([
              eb("login_attempts.locked_until", "is", null),
              eb("login_attempts.locked_until", "<=", stamp),
            ]),
          ),
      )
      .returning("failures")
      .executeTakeFirst();
    if (row) return;
    const lock = await db
      .selectFrom("login_attempts")
      .select("locked_until")
      .where("organization_id", "=", this.organizationId)
      .where("attempt_key", "=", attemptKey)
      .executeTakeFirst();
    const until = lock?.locked_until ? Date.parse(lock.locked_until) : now.getTime() + 1000;
    throw new LoginLockedError(Math.max(1, Math.ceil((until - now.getTime()) / 1000)));
  }

  /** When a lockout that starts now ends, for 0, 1, 2, … failures past the limit; the last entry is the cap. */
  private lockoutEnds(now: Date): string[] {
    const ends: string[] = [];
    for (let extra = 0; ; extra += 1) {
      const ms = Math.min(this.options.lockoutBaseMs * 2 ** extra, this.options.lockoutMaxMs);
      ends.push(new Date(now.getTime() + ms).toISOString());
      if (ms >= this.options.lockoutMaxMs || extra >= 30) return ends;
    }
  }

  private dummyPasswordHash(): Promise<string> {
    this.dummyHash ??= hashPassword(randomToken(), this.options.passwordCost);
    return this.dummyHash;
  }

  // ---- API tokens --------------------------------------------------------------------------------------

  async listTokens(): Promise<TokenView[]> {
    const rows = await this.store.db
      .selectFrom("api_tokens")
      .leftJoin("users", "users.id", "api_tokens.created_by")
      .selectAll("api_tokens")
      .select(["users.email as owner_email", "users.role as owner_role"])
      .where("api_tokens.organization_id", "=", this.organizationId)
      .orderBy("api_tokens.created_at")
      .orderBy("api_tokens.name")
      .execute();
    return rows.map((row) => this.tokenView(row, row.owner_email, row.owner_role));
  }

  /**
   * Creates a token owned by `owner` (the user behind the session or token that asks); its value is returned
   * here once and stored only as a hash. A token never gets a role above its owner's. `expiresInDays`:
   * default 90, or "never" (explicitly).
   */
  async createToken(
    input: { name: string; role: Role; expiresInDays?: number | "never" },
    owner: UserView,
  ): Promise<TokenView & { token: string }> {
    const name = parseInput(z.string().trim().min(1, "name must not be empty").max(100), input.name, "name");
    const role = parseInput(roleSchema, input.role, "role");
    if (!roleCovers(owner.role, role))
      throw new AuthInputError(`a ${owner.role} cannot create a token with the ${role} role`, "role");
    const days = parseInput(
      z.union([z.literal("never"), z.number().int().min(1).max(MAX_TOKEN_DAYS)], {
        error: `expiresInDays must be a whole number of days from 1 to ${MAX_TOKEN_DAYS}, or "never"`,
      }),
      input.expiresInDays ?? DEFAULT_TOKEN_DAYS,
      "expiresInDays",
    );
    const now = this.now();
    const token = `${TOKEN_PREFIX}${randomToken()}`;
    const row = {
      id: randomUUID(),
      organization_id: this.organizationId,
      name,
      role,
      token_hash: sha256(token),
      created_by: owner.id,
      created_at: now.toISOString(),
      last_used_at: null,
      expires_at: days === "never" ? null : new Date(now.getTime() + days * 86_400_000).toISOString(),
    };
    await this.store.db.insertInto("api_tokens").values(row).execute();
    return { ...this.tokenView(row, owner.email, owner.role), token };
  }

  async revokeToken(id: string): Promise<void> {
    const result = await this.store.db
      .deleteFrom("api_tokens")
      .where("organization_id", "=", this.organizationId)
      .where("id", "=", id)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw new AuthNotFoundError(`no API token with id ${id}`);
  }

  /**
   * The token and the user it acts for, or null when it is unknown, expired, or its owner is gone or no
   * longer holds the token's role. Decided on every request, so a deletion or demotion takes effect at once.
   */
  async resolveToken(token: string): Promise<{ token: TokenView; owner: UserView } | null> {
    if (!token.startsWith(TOKEN_PREFIX)) return null;
    const row = await this.store.db
      .selectFrom("api_tokens")
      .innerJoin("users", "users.id", "api_tokens.created_by")
      .selectAll("users")
      .select([
        "api_tokens.id as token_id",
        "api_tokens.organization_id as token_organization_id",
        "api_tokens.name as token_name",
        "api_tokens.role as token_role",
        "api_tokens.created_at as token_created_at",
        "api_tokens.last_used_at as token_last_used_at",
        "api_tokens.expires_at as token_expires_at",
      ])
      .where("api_tokens.token_hash", "=", sha256(token))
      .executeTakeFirst();
    if (!row || row.token_organization_id !== this.organizationId) return null;
    const now = this.now();
    const owner = toUserView(row);
    const view = this.tokenView(
      {
        id: row.token_id,
        name: row.token_name,
        role: row.token_role,
        created_at: row.token_created_at,
        last_used_at: row.token_last_used_at,
        expires_at: row.token_expires_at,
        created_by: owner.id,
      },
      owner.email,
      owner.role,
    );
    if (view.status !== "active") return null;
    if (!row.token_last_used_at || now.getTime() - Date.parse(row.token_last_used_at) >= TOUCH_INTERVAL_MS) {
      await this.store.db
        .updateTable("api_tokens")
        .set({ last_used_at: now.toISOString() })
        .where("id", "=", row.token_id)
        .execute();
      view.lastUsedAt = now.toISOString();
    }
    return { token: view, owner };
  }

  private tokenView(
    row: Pick<ApiTokensTable, "id" | "name" | "role" | "created_at" | "last_used_at" | "expires_at"> & {
      created_by?: string | null;
    },
    ownerEmail: string | null,
    ownerRole: Role | null,
  ): TokenView {
    const ownerId = "created_by" in row ? row.created_by : undefined;
    let status: TokenStatus = "active";
    if (ownerEmail === null || ownerRole === null) status = "owner-deleted";
    else if (!roleCovers(ownerRole, row.role)) status = "owner-demoted";
    else if (row.expires_at !== null && Date.parse(row.expires_at) <= this.now().getTime())
      status = "expired";
    return {
      id: row.id,
      name: row.name,
      role: row.role,
      createdAt: row.created_at,
      lastUsedAt: row.last_used_at,
      expiresAt: row.expires_at,
      owner: ownerEmail === null ? null : { id: ownerId ?? "", email: ownerEmail },
      status,
    };
  }
}

/** Whether a user with role `holder` may act with `wanted`: an admin may do what a viewer may, not the reverse. */
export function roleCovers(holder: Role, wanted: Role): boolean {
  return holder === "admin" || wanted === "viewer";
}
