import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useState } from "react";
import { ApiError, api, setCsrfToken, setUnauthorizedHandler, type User } from "./api.ts";
import { ErrorMessage, Loading } from "./components.tsx";
import { SessionContext, type Session } from "./hooks.ts";
import { Layout } from "./Layout.tsx";
import { LoginPage, SetupPage } from "./pages/Auth.tsx";

type SessionReply = { user: User; csrfToken: string };

type AuthState =
  | { kind: "checking" }
  | { kind: "unreachable"; error: ApiError }
  | { kind: "setup" }
  | { kind: "login"; notice?: string }
  | { kind: "signed-in"; user: User };

/**
 * Remembers (not the session itself: that is an HttpOnly cookie) that this browser signed in, so a fresh
 * visit only asks the server for the session when there can be one.
 */
const SIGNED_IN_HINT = "cspsync.signedIn";

function rememberSignedIn(on: boolean): void {
  try {
    if (on) window.localStorage.setItem(SIGNED_IN_HINT, "1");
    else window.localStorage.removeItem(SIGNED_IN_HINT);
  } catch {
    // Storage can be disabled; the app then simply asks the user to sign in.
  }
}

function mightBeSignedIn(): boolean {
  try {
    return window.localStorage.getItem(SIGNED_IN_HINT) === "1";
  } catch {
    return false;
  }
}

export function App() {
  const [auth, setAuth] = useState<AuthState>({ kind: "checking" });
  // Cached answers belong to the session that fetched them: none survive a sign-out.
  const queryClient = useQueryClient();

  const check = useCallback(async () => {
    setAuth({ kind: "checking" });
    try {
      const { needsSetup } = await api.get<{ needsSetup: boolean }>("/api/setup");
      if (needsSetup) return setAuth({ kind: "setup" });
      if (!mightBeSignedIn()) return setAuth({ kind: "login" });
      const session = await api.get<SessionReply>("/api/session");
      setCsrfToken(session.csrfToken);
      setAuth({ kind: "signed-in", user: session.user });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        rememberSignedIn(false);
        return setAuth({ kind: "login" });
      }
      setAuth({ kind: "unreachable", error: error as ApiError });
    }
  }, []);

  useEffect(() => {
    void check();
  }, [check]);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setCsrfToken(null);
      queryClient.clear();
      rememberSignedIn(false);
      setAuth({ kind: "login", notice: "Your session has ended. Please sign in again." });
    });
  }, [queryClient]);

  const signedIn = useCallback((reply: SessionReply) => {
    setCsrfToken(reply.csrfToken);
    rememberSignedIn(true);
    setAuth({ kind: "signed-in", user: reply.user });
  }, []);

  const logout = useCallback(async () => {
    try {
      await api.delete("/api/session");
    } finally {
      setCsrfToken(null);
      queryClient.clear();
      rememberSignedIn(false);
      setAuth({ kind: "login", notice: "You have signed out." });
    }
  }, [queryClient]);

  const session: Session | null = useMemo(
    () =>
      auth.kind === "signed-in" ? { user: auth.user, isAdmin: auth.user.role === "admin", logout } : null,
    [auth, logout],
  );

  switch (auth.kind) {
    case "checking":
      return (
        <main className="centered">
          <Loading label="Loading cspsync…" />
        </main>
      );
    case "unreachable":
      return (
        <main className="centered">
          <h1>cspsync</h1>
          <ErrorMessage error={auth.error} retry={() => void check()} />
        </main>
      );
    case "setup":
      return <SetupPage onDone={signedIn} />;
    case "login":
      return <LoginPage onDone={signedIn} notice={auth.notice} />;
    case "signed-in":
      return (
        <SessionContext.Provider value={session}>
          <Layout />
        </SessionContext.Provider>
      );
  }
}
