import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApiError } from "../../web/src/api.ts";
import { createQueryClient, invalidatePaths, queryKeyOf, shouldRetry } from "../../web/src/hooks.ts";

describe("web app query cache", () => {
  it("keys a path by its segments, then its query parameters", () => {
    assert.deepEqual(queryKeyOf("/api/dashboard"), ["api", "dashboard"]);
    assert.deepEqual(queryKeyOf("/api/connections/7/customers?status=held&page=2"), [
      "api",
      "connections",
      "7",
      "customers",
      { status: "held", page: "2" },
    ]);
  });

  it("retries a GET once after a network failure or a 5xx, never after a 4xx", () => {
    const network = new ApiError(0, "network", "unreachable");
    const server = new ApiError(502, "psa_error", "the PSA failed");
    assert.equal(shouldRetry(0, network), true);
    assert.equal(shouldRetry(1, network), false);
    assert.equal(shouldRetry(0, server), true);
    assert.equal(shouldRetry(1, server), false);
    for (const status of [400, 401, 403, 404, 409, 422, 429])
      assert.equal(shouldRetry(0, new ApiError(status, "x", "refused")), false, `status ${status}`);
    const client = createQueryClient();
    assert.equal(client.getDefaultOptions().queries?.refetchOnWindowFocus, false);
    assert.equal(client.getDefaultOptions().mutations?.retry, false);
  });

  it("invalidates everything under a path except live PSA lookups, which only their own path refreshes", async () => {
    const client = createQueryClient();
    const paths = [
      "/api/connections",
      "/api/connections/7",
      "/api/connections/7/customers?page=2",
      "/api/connections/7/holds",
      "/api/connections/7/psa/companies?search=con",
      "/api/connections/8/customers",
      "/api/dashboard",
    ];
    for (const path of paths) client.setQueryData(queryKeyOf(path), { path });
    const stale = () =>
      paths.filter((path) => client.getQueryState(queryKeyOf(path))?.isInvalidated === true);

    await invalidatePaths(client, ["/api/connections/7"]);
    assert.deepEqual(stale(), [
      "/api/connections/7",
      "/api/connections/7/customers?page=2",
      "/api/connections/7/holds",
    ]);

    await invalidatePaths(client, ["/api/connections/7/psa/companies", "/api/dashboard"]);
    assert.deepEqual(stale(), [
      "/api/connections/7",
      "/api/connections/7/customers?page=2",
      "/api/connections/7/holds",
      "/api/connections/7/psa/companies?search=con",
      "/api/dashboard",
    ]);
    client.clear();
  });
});
