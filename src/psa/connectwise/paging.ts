/**
 * RFC 5988 `Link` headers as ConnectWise sends them (docs/connectwise.md §5.3):
 * `<https://host/...?page=2>; rel="next", <https://host/...?page=4>; rel="last"`.
 */
export type LinkEntry = { url: string; rel: string | undefined };

export function parseLinkHeader(header: string | null): LinkEntry[] {
  if (header === null || header.trim() === "") return [];
  const entries: LinkEntry[] = [];
  const pattern = /<([^>]*)>((?:\s*;\s*[^;,]+)*)/g;
  for (const match of header.matchAll(pattern)) {
    const url = match[1]?.trim() ?? "";
    if (url === "") continue;
    const rel = /;\s*rel\s*=\s*"?([^";,]+)"?/i
      .exec(match[2] ?? "")?.[1]
      ?.trim()
      .toLowerCase();
    entries.push({ url, rel });
  }
  return entries;
}

/** Navigable paging: the `next` relation; absent on the last page. */
export function nextLink(header: string | null): string | undefined {
  return parseLinkHeader(header).find((entry) => entry.rel === "next")?.url;
}

/**
 * Forward-only paging: the first link, whatever its relation, as christaylorcodes' Invoke-CWMAllResult does;
 * an empty or missing header means there is nothing more.
 */
export function firstLink(header: string | null): string | undefined {
  return parseLinkHeader(header)[0]?.url;
}
