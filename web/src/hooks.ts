import {
  keepPreviousData,
  QueryClient,
  useMutation,
  useQuery,
  useQueryClient,
  type QueryKey,
} from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useState } from "react";
import { ApiError, api, type User } from "./api.ts";

function asApiError(error: unknown): ApiError {
  return error instanceof ApiError
    ? error
    : new ApiError(0, "internal", error instanceof Error ? error.message : String(error));
}

/**
 * One more try for a GET that failed on the way (network, status 0) or on the server (5xx); none for 4xx,
 * which says the request itself is wrong (or the session ended) and would fail the same way again.
 */
export function shouldRetry(failureCount: number, error: unknown): boolean {
  const status = error instanceof ApiError ? error.status : 0;
  if (status >= 400 && status < 500) return false;
  return failureCount < 1;
}

/**
 * Server state for the whole app: GET answers cached by path, refreshed when a page mounts and after the
 * changes that affect them (useAction's invalidates). No refetch on window focus: a page changes when its
 * user acts or reloads, not when they switch windows.
 */
export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { retry: shouldRetry, retryDelay: 500, refetchOnWindowFocus: false },
      mutations: { retry: false },
    },
  });
}

/**
 * An API path as a query key: its segments, then its query parameters, so "/api/connections/7" is a prefix
 * of the keys of everything under that connection and invalidating it refreshes them all.
 */
export function queryKeyOf(path: string): QueryKey {
  const [pathname = "", search = ""] = path.split("?", 2);
  const segments = pathname.split("/").filter(Boolean);
  return search ? [...segments, Object.fromEntries(new URLSearchParams(search))] : segments;
}

/** Lists read live from the PSA (companies, agreements, settings options): ["api", "connections", id, "psa", …]. */
function isPsaLookup(key: QueryKey): boolean {
  return key[3] === "psa";
}

/**
 * Marks the cached answers under each path as stale; the ones on screen are fetched again. PSA lookups
 * under a connection are left alone unless named: cspsync's own changes do not change them, and reading
 * them again costs PSA requests.
 */
export function invalidatePaths(client: QueryClient, paths: readonly string[]): Promise<void> {
  return Promise.all(
    paths.map((path) => {
      const queryKey = queryKeyOf(path);
      return client.invalidateQueries({
        queryKey,
        predicate: (query) => isPsaLookup(queryKey) || !isPsaLookup(query.queryKey),
      });
    }),
  ).then(() => undefined);
}

export function useInvalidate(): (...paths: string[]) => void {
  const client = useQueryClient();
  return useCallback((...paths: string[]) => void invalidatePaths(client, paths), [client]);
}

export type Resource<T> = {
  data: T | undefined;
  error: ApiError | null;
  /** True while the answer for the current path is on its way (the previous one may still be shown). */
  loading: boolean;
  /** Asks again now (an error's Retry button). */
  refetch: () => void;
};

/**
 * A GET resource through the query cache; null: not needed yet. While a new path loads (the next page,
 * a new search) the previous answer stays on screen, so lists do not flicker.
 */
export function useApiQuery<T>(path: string | null): Resource<T> {
  const result = useQuery<T, ApiError>({
    queryKey: path === null ? ["disabled"] : queryKeyOf(path),
    queryFn: async () => {
      try {
        return await api.get<T>(path as string);
      } catch (error) {
        throw asApiError(error);
      }
    },
    enabled: path !== null,
    placeholderData: keepPreviousData,
  });
  const { refetch } = result;
  return {
    data: path === null ? undefined : result.data,
    // An error belongs to the current path only; one still retrying is not shown yet.
    error: result.isPlaceholderData ? null : result.error,
    loading: path !== null && (result.isPending || result.isPlaceholderData),
    refetch: useCallback(() => void refetch(), [refetch]),
  };
}

export type ActionOptions = {
  /** Paths whose cached answers the action changes: refreshed once it succeeds. */
  invalidates?: readonly string[];
};

/**
 * Runs one change at a time (a button's click) as a mutation, keeping its error for the form to show, and
 * refreshes the resources it changes once it succeeds.
 */
export function useAction<A extends unknown[], R>(
  action: (...args: A) => Promise<R>,
  options: ActionOptions = {},
) {
  const invalidate = useInvalidate();
  const [localError, setLocalError] = useState<ApiError | null>(null);
  const invalidates = options.invalidates ?? [];
  const mutation = useMutation<R, ApiError, A>({
    mutationFn: async (args) => {
      try {
        return await action(...args);
      } catch (error) {
        throw asApiError(error);
      }
    },
    onSuccess: () => invalidate(...invalidates),
  });
  const { mutateAsync, reset } = mutation;
  const run = useCallback(
    async (...args: A): Promise<R | undefined> => {
      setLocalError(null);
      try {
        return await mutateAsync(args);
      } catch {
        return undefined;
      }
    },
    [mutateAsync],
  );
  const setError = useCallback(
    (error: ApiError | null) => {
      if (error === null) reset();
      setLocalError(error);
    },
    [reset],
  );
  return { run, busy: mutation.isPending, error: localError ?? mutation.error, setError };
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

/** What approving held lines changes: the holds, the customers' held counts, the runs' items, the dashboard. */
export function holdsApproved(connectionId: string): ActionOptions {
  return {
    invalidates: [
      `/api/connections/${connectionId}/holds`,
      `/api/connections/${connectionId}/customers`,
      "/api/runs",
      "/api/dashboard",
    ],
  };
}

/** What a sync that wrote (or tried to) changes: customers' statuses, runs, holds, the connection's last sync. */
export function syncRan(connectionId: string): string[] {
  return [`/api/connections/${connectionId}`, "/api/connections", "/api/runs", "/api/dashboard"];
}

/** A connection's settings changed: the connection (its pages, the menu, the dashboard) is read again. */
export function connectionSaved(connectionId: string): ActionOptions {
  return { invalidates: [`/api/connections/${connectionId}`, "/api/connections", "/api/dashboard"] };
}
