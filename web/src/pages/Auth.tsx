import { useState, type FormEvent } from "react";
import { api, type User } from "../api.ts";
import { ErrorMessage, Field, Notice } from "../components.tsx";
import { useAction, useDocumentTitle } from "../hooks.ts";

type SessionReply = { user: User; csrfToken: string };

/** The server also refuses common passwords and easy variations of them (it says why). */
const MIN_PASSWORD = 12;

/** First start: nobody can sign in yet, so the first person creates the admin account. */
export function SetupPage({ onDone }: { onDone: (reply: SessionReply) => void }) {
  useDocumentTitle("Set up");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [mismatch, setMismatch] = useState(false);
  const setup = useAction((body: { email: string; password: string }) =>
    api.post<SessionReply>("/api/setup", body),
  );

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (password !== confirm) return setMismatch(true);
    setMismatch(false);
    const reply = await setup.run({ email: email.trim(), password });
    if (reply) onDone(reply);
  };

  return (
    <main className="auth">
      <form className="auth-card" onSubmit={submit} noValidate={false}>
        <p className="brand">cspsync</p>
        <h1 tabIndex={-1}>Welcome — create the admin account</h1>
        <p className="muted">
          This is the first start of cspsync. The account you create here administers connections, mappings,
          users and API tokens.
        </p>
        <Field
          id="setup-email"
          label="Email"
          error={setup.error?.field === "email" ? setup.error.message : null}
        >
          <input
            id="setup-email"
            type="email"
            autoComplete="username"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
        </Field>
        <Field
          id="setup-password"
          label="Password"
          hint={`At least ${MIN_PASSWORD} characters, not a common password: a phrase of unrelated words works well.`}
          error={setup.error?.field === "password" ? setup.error.message : null}
        >
          <input
            id="setup-password"
            type="password"
            autoComplete="new-password"
            required
            minLength={MIN_PASSWORD}
            aria-describedby="setup-password-hint"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </Field>
        <Field
          id="setup-confirm"
          label="Repeat the password"
          error={mismatch ? "The passwords differ." : null}
        >
          <input
            id="setup-confirm"
            type="password"
            autoComplete="new-password"
            required
            value={confirm}
            onChange={(e) => setConfirm(e.target.value)}
          />
        </Field>
        {setup.error && !["email", "password"].includes(setup.error.field ?? "") && (
          <ErrorMessage error={setup.error} />
        )}
        <button type="submit" className="button primary wide" disabled={setup.busy}>
          {setup.busy ? "Creating…" : "Create admin account"}
        </button>
      </form>
    </main>
  );
}

export function LoginPage({ onDone, notice }: { onDone: (reply: SessionReply) => void; notice?: string }) {
  useDocumentTitle("Sign in");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const login = useAction((body: { email: string; password: string }) =>
    api.post<SessionReply>("/api/session", body),
  );

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const reply = await login.run({ email: email.trim(), password });
    if (reply) onDone(reply);
  };

  return (
    <main className="auth">
      <form className="auth-card" onSubmit={submit}>
        <p className="brand">cspsync</p>
        <h1 tabIndex={-1}>Sign in</h1>
        {notice && !login.error && <Notice>{notice}</Notice>}
        <Field id="login-email" label="Email">
          <input
            id="login-email"
            type="email"
            autoComplete="username"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
        </Field>
        <Field id="login-password" label="Password">
          <input
            id="login-password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </Field>
        {login.error && <ErrorMessage error={login.error} />}
        <button type="submit" className="button primary wide" disabled={login.busy}>
          {login.busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
