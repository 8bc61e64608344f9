import { parseArgs } from "node:util";
import { createApp, type App } from "../../app.ts";
import { AuthInputError, AuthService, type Role } from "../../services/auth.ts";
import { printJson, renderTable, UsageError } from "../output.ts";

export const userHelp = `cspsync user list [--json]
cspsync user reset-password EMAIL --password-env VAR
cspsync user role EMAIL admin|viewer

For the operator of the server, e.g. when the only admin forgot their password: these work on the database
directly, without signing in. reset-password reads the new password from the named environment variable (so it
stays out of shell history) and ends the user's sessions; role changes a user's role (the last admin cannot be
demoted; a demoted user's admin API tokens stop working).`;

export async function userCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { db: { type: "string" }, json: { type: "boolean" }, "password-env": { type: "string" } },
  });
  const [action, email, role] = positionals;
  const app = await createApp(values.db ? { databaseUrl: values.db } : {});
  try {
    const auth = new AuthService(app.store, app.organizationId);
    if (action === "list") return await listUsers(auth, values.json === true);
    if (action === "reset-password") {
      const user = await userByEmail(app, auth, email);
      await withFieldErrors(() => auth.resetPassword(user.id, passwordFromEnv(values["password-env"])));
      console.log(`The password of ${user.email} was changed; their sessions ended.`);
      return 0;
    }
    if (action === "role") {
      if (role !== "admin" && role !== "viewer") throw new UsageError("the role must be admin or viewer");
      const user = await userByEmail(app, auth, email);
      await auth.setRole(user.id, role as Role);
      console.log(`${user.email} is now ${role === "admin" ? "an admin" : "a viewer"}.`);
      return 0;
    }
    throw new UsageError(`unknown action "${action ?? ""}"; see cspsync user --help`);
  } finally {
    await app.close();
  }
}

async function listUsers(auth: AuthService, json: boolean): Promise<number> {
  const users = await auth.listUsers();
  if (json) printJson(users);
  else
    console.log(
      renderTable(users, [
        { header: "E-mail", value: (u) => u.email },
        { header: "Role", value: (u) => u.role },
        { header: "Last sign-in", value: (u) => u.lastLoginAt ?? "never" },
      ]),
    );
  return 0;
}

async function userByEmail(app: App, auth: AuthService, email: string | undefined) {
  if (!email) throw new UsageError("name the user by e-mail address");
  const user = (await auth.listUsers()).find((u) => u.email === email.trim().toLowerCase());
  if (!user) throw new UsageError(`no user with e-mail ${email} in ${app.store.describe}`);
  return user;
}

function passwordFromEnv(variable: string | undefined): string {
  if (!variable) throw new UsageError("--password-env VAR is required (the variable holds the new password)");
  const value = process.env[variable];
  if (!value) throw new UsageError(`environment variable ${variable} (from --password-env) is empty`);
  return value;
}

async function withFieldErrors(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (error instanceof AuthInputError) throw new UsageError(error.message);
    throw error;
  }
}
