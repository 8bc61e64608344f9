import { useMemo, useState, type FormEvent } from "react";
import {
  api,
  type ApiToken,
  type ApiTokenStatus,
  type Role,
  type SyncSettings,
  type UserRecord,
} from "../api.ts";
import { EmptyState, ErrorMessage, Field, Loading, Notice, PageHeader } from "../components.tsx";
import { formatInstant } from "../format.ts";
import { useAction, useDocumentTitle, useApiQuery, useSession } from "../hooks.ts";
import { SettingsTabs } from "./Notifications.tsx";

function timeZones(current: string): string[] {
  let zones: string[] = [];
  try {
    zones = Intl.supportedValuesOf("timeZone");
  } catch {
    zones = [];
  }
  const all = new Set([...zones, "UTC", current]);
  return [...all].filter(Boolean).sort();
}

function DailySync() {
  const { isAdmin } = useSession();
  const settings = useApiQuery<SyncSettings>("/api/settings");
  return (
    <section className="panel" aria-labelledby="daily-sync-title">
      <h2 id="daily-sync-title">Daily sync</h2>
      {settings.error && <ErrorMessage error={settings.error} retry={settings.refetch} />}
      {!settings.data && settings.loading && <Loading label="Loading settings…" />}
      {settings.data && <DailySyncForm initial={settings.data} readOnly={!isAdmin} />}
    </section>
  );
}

function DailySyncForm({ initial, readOnly }: { initial: SyncSettings; readOnly: boolean }) {
  const [time, setTime] = useState(initial.dailySyncTime);
  const [zone, setZone] = useState(initial.timeZone);
  const [saved, setSaved] = useState(false);
  const zones = useMemo(() => timeZones(initial.timeZone), [initial.timeZone]);
  // The dashboard shows the daily sync time too.
  const save = useAction(
    async () => {
      await api.put<SyncSettings>("/api/settings", { dailySyncTime: time, timeZone: zone });
    },
    { invalidates: ["/api/settings", "/api/dashboard"] },
  );
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSaved(false);
    await save.run();
    setSaved(true);
  };
  const errorFor = (field: string) => (save.error?.field === field ? save.error.message : null);
  return (
    <form className="form" onSubmit={submit}>
      <p className="hint">
        Every day at this time cspsync looks for new billing data and syncs every connection whose Seat-based
        Annual subscription sync is on.
      </p>
      <fieldset disabled={readOnly} className="row plain">
        <Field id="sync-time" label="Time of day" error={errorFor("dailySyncTime")}>
          <input
            id="sync-time"
            type="time"
            required
            value={time}
            onChange={(e) => {
              setSaved(false);
              setTime(e.target.value);
            }}
          />
        </Field>
        <Field id="sync-zone" label="Time zone" error={errorFor("timeZone")}>
          <select
            id="sync-zone"
            value={zone}
            onChange={(e) => {
              setSaved(false);
              setZone(e.target.value);
            }}
          >
            {zones.map((z) => (
              <option key={z} value={z}>
                {z}
              </option>
            ))}
          </select>
        </Field>
      </fieldset>
      {save.error && !["dailySyncTime", "timeZone"].includes(save.error.field ?? "") && (
        <ErrorMessage error={save.error} />
      )}
      {saved && !save.error && <Notice kind="success">Daily sync settings saved.</Notice>}
      {!readOnly && (
        <div className="form-actions">
          <button type="submit" className="button primary" disabled={save.busy}>
            {save.busy ? "Saving…" : "Save"}
          </button>
        </div>
      )}
    </form>
  );
}

const PASSWORD_HINT =
  "At least 12 characters, not a common password: a phrase of unrelated words works well.";

const TOKEN_LIFETIMES: Array<{ value: string; label: string }> = [
  { value: "30", label: "30 days" },
  { value: "90", label: "90 days" },
  { value: "365", label: "1 year" },
  { value: "never", label: "Never (until revoked)" },
];

const TOKEN_STATUS: Record<ApiTokenStatus, string> = {
  active: "Active",
  expired: "Expired",
  "owner-deleted": "Not working: its user was removed",
  "owner-demoted": "Not working: its user is no longer an admin",
};

const TOKENS_CHANGE = { invalidates: ["/api/tokens"] };
// A user removed or demoted changes the status of their tokens too.
const USERS_CHANGE = { invalidates: ["/api/users", "/api/tokens"] };

function ApiTokens() {
  const { isAdmin } = useSession();
  const tokens = useApiQuery<ApiToken[] | { tokens: ApiToken[] }>("/api/tokens");
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [lifetime, setLifetime] = useState("90");
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const create = useAction(async () => {
    const reply = await api.post<{ id: string; name: string; role: Role; token: string }>("/api/tokens", {
      name: name.trim(),
      role,
      expiresInDays: lifetime === "never" ? "never" : Number(lifetime),
    });
    setCreated({ name: reply.name, token: reply.token });
    setCopied(false);
    setName("");
  }, TOKENS_CHANGE);
  const revoke = useAction(async (token: ApiToken) => {
    if (!window.confirm(`Revoke the API token “${token.name}”? Scripts using it stop working.`)) return;
    await api.delete(`/api/tokens/${token.id}`);
  }, TOKENS_CHANGE);
  const list = Array.isArray(tokens.data) ? tokens.data : tokens.data?.tokens;

  const copy = async () => {
    if (!created) return;
    try {
      await navigator.clipboard.writeText(created.token);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };

  return (
    <section className="panel" aria-labelledby="tokens-title">
      <h2 id="tokens-title">API tokens</h2>
      <p className="hint">
        For scripts and automation: send <code>Authorization: Bearer &lt;token&gt;</code>. A viewer token can
        only read. A token acts for the person who created it and stops working when that person is removed or
        loses the token&apos;s role.
      </p>
      {created && (
        <div className="alert alert-success" role="status">
          <p>
            Token <strong>{created.name}</strong> created. Copy it now: it is shown only once.
          </p>
          <p className="token-row">
            <code className="token" data-testid="new-token">
              {created.token}
            </code>
            <button type="button" className="button secondary small" onClick={() => void copy()}>
              {copied ? "Copied" : "Copy"}
            </button>
          </p>
        </div>
      )}
      {tokens.error && <ErrorMessage error={tokens.error} retry={tokens.refetch} />}
      {!list && tokens.loading && <Loading label="Loading tokens…" />}
      {list && list.length === 0 && <EmptyState title="No API tokens." />}
      {list && list.length > 0 && (
        <table className="table responsive">
          <caption className="visually-hidden">API tokens</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">Owner</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Expires</th>
              <th scope="col">Status</th>
              {isAdmin && (
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {list.map((t) => (
              <tr key={t.id}>
                <th scope="row" data-label="Name">
                  {t.name}
                </th>
                <td data-label="Role">{t.role}</td>
                <td data-label="Owner" className="break">
                  {t.owner?.email ?? "—"}
                </td>
                <td data-label="Created">{formatInstant(t.createdAt)}</td>
                <td data-label="Last used">{t.lastUsedAt ? formatInstant(t.lastUsedAt) : "Never"}</td>
                <td data-label="Expires">{t.expiresAt ? formatInstant(t.expiresAt) : "Never"}</td>
                <td data-label="Status">{TOKEN_STATUS[t.status]}</td>
                {isAdmin && (
                  <td data-label="">
                    <button
                      type="button"
                      className="button danger small"
                      aria-label={`Revoke ${t.name}`}
                      onClick={() => void revoke.run(t)}
                    >
                      Revoke
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {revoke.error && <ErrorMessage error={revoke.error} />}
      {isAdmin && (
        <form
          className="form inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void create.run();
          }}
        >
          <h3>New token</h3>
          <div className="row">
            <Field
              id="token-name"
              label="Name"
              error={create.error?.field === "name" ? create.error.message : null}
            >
              <input
                id="token-name"
                type="text"
                required
                placeholder="e.g. Nightly export"
                value={name}
                onChange={(e) => setName(e.target.value)}
              />
            </Field>
            <Field id="token-role" label="Role">
              <select id="token-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
                <option value="viewer">Viewer (read-only)</option>
                <option value="admin">Admin</option>
              </select>
            </Field>
            <Field id="token-lifetime" label="Expires after">
              <select id="token-lifetime" value={lifetime} onChange={(e) => setLifetime(e.target.value)}>
                {TOKEN_LIFETIMES.map((option) => (
                  <option key={option.value} value={option.value}>
                    {option.label}
                  </option>
                ))}
              </select>
            </Field>
          </div>
          {create.error && create.error.field !== "name" && <ErrorMessage error={create.error} />}
          <div className="form-actions">
            <button type="submit" className="button primary" disabled={create.busy}>
              {create.busy ? "Creating…" : "Create token"}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

function Users() {
  const { user: me } = useSession();
  const users = useApiQuery<UserRecord[] | { users: UserRecord[] }>("/api/users");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [added, setAdded] = useState<string | null>(null);
  const add = useAction(async () => {
    await api.post("/api/users", { email: email.trim(), password, role });
    setAdded(email.trim());
    setEmail("");
    setPassword("");
  }, USERS_CHANGE);
  const remove = useAction(async (user: UserRecord) => {
    if (
      !window.confirm(`Remove ${user.email}? They can no longer sign in, and their API tokens stop working.`)
    )
      return;
    await api.delete(`/api/users/${user.id}`);
  }, USERS_CHANGE);
  const changeRole = useAction(async (user: UserRecord, newRole: Role) => {
    const warning = newRole === "viewer" ? ` Their admin API tokens stop working.` : "";
    if (!window.confirm(`Make ${user.email} ${newRole === "admin" ? "an admin" : "a viewer"}?${warning}`))
      return;
    await api.patch(`/api/users/${user.id}`, { role: newRole });
  }, USERS_CHANGE);
  const [resetting, setResetting] = useState<UserRecord | null>(null);
  const list = Array.isArray(users.data) ? users.data : users.data?.users;
  const errorFor = (field: string) => (add.error?.field === field ? add.error.message : null);

  return (
    <section className="panel" aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      {users.error && <ErrorMessage error={users.error} retry={users.refetch} />}
      {!list && users.loading && <Loading label="Loading users…" />}
      {list && (
        <table className="table responsive">
          <caption className="visually-hidden">Users</caption>
          <thead>
            <tr>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Last sign-in</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((u) => (
              <tr key={u.id}>
                <th scope="row" data-label="Email" className="break">
                  {u.email}
                  {u.id === me.id && <span className="muted"> (you)</span>}
                </th>
                <td data-label="Role">
                  {u.id === me.id ? (
                    u.role
                  ) : (
                    <select
                      aria-label={`Role of ${u.email}`}
                      value={u.role}
                      disabled={changeRole.busy}
                      onChange={(e) => void changeRole.run(u, e.target.value as Role)}
                    >
                      <option value="viewer">viewer</option>
                      <option value="admin">admin</option>
                    </select>
                  )}
                </td>
                <td data-label="Last sign-in">{u.lastLoginAt ? formatInstant(u.lastLoginAt) : "Never"}</td>
                <td data-label="">
                  {u.id !== me.id && (
                    <span className="button-group">
                      <button
                        type="button"
                        className="button secondary small"
                        aria-label={`Set a new password for ${u.email}`}
                        onClick={() => setResetting(u)}
                      >
                        Set password
                      </button>
                      <button
                        type="button"
                        className="button danger small"
                        aria-label={`Remove ${u.email}`}
                        onClick={() => void remove.run(u)}
                      >
                        Remove
                      </button>
                    </span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {remove.error && <ErrorMessage error={remove.error} />}
      {changeRole.error && <ErrorMessage error={changeRole.error} />}
      {resetting && <ResetPassword user={resetting} onDone={() => setResetting(null)} />}
      <form
        className="form inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          setAdded(null);
          void add.run();
        }}
      >
        <h3>Add a user</h3>
        <div className="row">
          <Field id="user-email" label="Email" error={errorFor("email")}>
            <input
              id="user-email"
              type="email"
              autoComplete="off"
              required
              value={email}
              onChange={(e) => setEmail(e.target.value)}
            />
          </Field>
          <Field id="user-password" label="Password" hint={PASSWORD_HINT} error={errorFor("password")}>
            <input
              id="user-password"
              type="password"
              autoComplete="new-password"
              required
              aria-describedby="user-password-hint"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </Field>
          <Field id="user-role" label="Role">
            <select id="user-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
              <option value="viewer">Viewer (read-only)</option>
              <option value="admin">Admin</option>
            </select>
          </Field>
        </div>
        {add.error && !["email", "password"].includes(add.error.field ?? "") && (
          <ErrorMessage error={add.error} />
        )}
        {added && !add.error && <Notice kind="success">{added} can now sign in.</Notice>}
        <div className="form-actions">
          <button type="submit" className="button primary" disabled={add.busy}>
            {add.busy ? "Adding…" : "Add user"}
          </button>
        </div>
      </form>
    </section>
  );
}

/** An admin sets another user's password (they forgot it); that user's sessions end. */
function ResetPassword({ user, onDone }: { user: UserRecord; onDone: () => void }) {
  const [password, setPassword] = useState("");
  const [done, setDone] = useState(false);
  const reset = useAction(async () => {
    await api.put(`/api/users/${user.id}/password`, { password });
    setDone(true);
    setPassword("");
  });
  return (
    <form
      className="form inline-form"
      aria-label={`New password for ${user.email}`}
      onSubmit={(e) => {
        e.preventDefault();
        void reset.run();
      }}
    >
      <h3>New password for {user.email}</h3>
      <Field
        id="reset-password"
        label="New password"
        hint={`${PASSWORD_HINT} Their sessions end; tell them the new password yourself.`}
        error={reset.error?.field === "password" ? reset.error.message : null}
      >
        <input
          id="reset-password"
          type="password"
          autoComplete="new-password"
          required
          aria-describedby="reset-password-hint"
          value={password}
          onChange={(e) => {
            setDone(false);
            setPassword(e.target.value);
          }}
        />
      </Field>
      {reset.error && reset.error.field !== "password" && <ErrorMessage error={reset.error} />}
      {done && !reset.error && <Notice kind="success">The password of {user.email} was changed.</Notice>}
      <div className="form-actions">
        <button type="submit" className="button primary" disabled={reset.busy}>
          {reset.busy ? "Saving…" : "Set password"}
        </button>
        <button type="button" className="button secondary" onClick={onDone}>
          Close
        </button>
      </div>
    </form>
  );
}

/** Anyone signed in changes their own password; their other sessions end. */
function OwnPassword() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [done, setDone] = useState(false);
  const change = useAction(async () => {
    await api.put("/api/session/password", { currentPassword: current, newPassword: next });
    setDone(true);
    setCurrent("");
    setNext("");
  });
  const errorFor = (field: string) => (change.error?.field === field ? change.error.message : null);
  return (
    <section className="panel" aria-labelledby="own-password-title">
      <h2 id="own-password-title">Your password</h2>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          setDone(false);
          void change.run();
        }}
      >
        <div className="row">
          <Field id="current-password" label="Current password" error={errorFor("currentPassword")}>
            <input
              id="current-password"
              type="password"
              autoComplete="current-password"
              required
              value={current}
              onChange={(e) => setCurrent(e.target.value)}
            />
          </Field>
          <Field id="new-password" label="New password" hint={PASSWORD_HINT} error={errorFor("newPassword")}>
            <input
              id="new-password"
              type="password"
              autoComplete="new-password"
              required
              aria-describedby="new-password-hint"
              value={next}
              onChange={(e) => setNext(e.target.value)}
            />
          </Field>
        </div>
        {change.error && !["currentPassword", "newPassword"].includes(change.error.field ?? "") && (
          <ErrorMessage error={change.error} />
        )}
        {done && !change.error && (
          <Notice kind="success">Password changed. Your other sessions were signed out.</Notice>
        )}
        <div className="form-actions">
          <button type="submit" className="button primary" disabled={change.busy}>
            {change.busy ? "Changing…" : "Change password"}
          </button>
        </div>
      </form>
    </section>
  );
}

export function SettingsPage() {
  useDocumentTitle("Settings");
  const { isAdmin } = useSession();
  return (
    <>
      <PageHeader title="Settings" />
      <SettingsTabs current="general" />
      <DailySync />
      <OwnPassword />
      <ApiTokens />
      {isAdmin && <Users />}
    </>
  );
}
