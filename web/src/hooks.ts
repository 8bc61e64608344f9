import { createContext, useCallback, useContext, useEffect, useState } from "react";
import { ApiError, api, type User } from "./api.ts";

export type Resource<T> = {
  data: T | undefined;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
};

function asApiError(error: unknown): ApiError {
  return error instanceof ApiError
    ? error
    : new ApiError(0, "internal", error instanceof Error ? error.message : String(error));
}

/** Loads a GET resource; a newer path or a reload wins over an answer still on its way. */
export function useResource<T>(path: string | null): Resource<T> {
  const [state, setState] = useState<{ path: string | null; data?: T; error: ApiError | null }>({
    path: null,
    error: null,
  });
  const [version, setVersion] = useState(0);
  useEffect(() => {
    if (path === null) return;
    let current = true;
    api.get<T>(path).then(
      (data) => current && setState({ path, data, error: null }),
      (error: unknown) => current && setState({ path, error: asApiError(error) }),
    );
    return () => {
      current = false;
    };
  }, [path, version]);
  const reload = useCallback(() => setVersion((v) => v + 1), []);
  const settled = state.path === path;
  return {
    // Keep showing the previous answer while a new one loads, so lists do not flicker on search.
    data: state.data,
    error: settled ? state.error : null,
    loading: path !== null && !settled,
    reload,
  };
}

/** Runs one action at a time (a button's click), keeping its error for the form to show. */
export function useAction<A extends unknown[], R>(action: (...args: A) => Promise<R>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const run = useCallback(
    async (...args: A): Promise<R | undefined> => {
      setBusy(true);
      setError(null);
      try {
        return await action(...args);
      } catch (caught) {
        setError(asApiError(caught));
        return undefined;
      } finally {
        setBusy(false);
      }
    },
    [action],
  );
  return { run, busy, error, setError };
}

export type Session = {
  user: User;
  isAdmin: boolean;
  logout: () => Promise<void>;
};

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in page");
  return session;
}

/** Debounces a changing value (search boxes ask the server only once typing pauses). */
export function useDebounced<T>(value: T, ms = 300): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

export function useDocumentTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · cspsync`;
  }, [title]);
}
