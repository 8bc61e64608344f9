import type { ConfidentialClientApplication, Configuration } from "@azure/msal-node";
import { microsoftFetch, SourceError, type MicrosoftHttpOptions } from "./http.ts";

/**
 * App-only tokens from Microsoft Entra ID (client credentials, docs/partner-center.md §2) through Microsoft's
 * own @azure/msal-node, which also builds the signed assertion of a certificate credential.
 *
 * How msal is pointed at the emulator: msal insists on an https authority and would otherwise look the
 * authority up on the internet (instance discovery). cspsync therefore always gives it the real authority
 * (https://login.microsoftonline.com/{tenant}) together with its discovery and OpenID metadata, and a network
 * client of its own (INetworkModule) built on the allow-listed fetch. The metadata's token endpoint is the
 * configured sign-in base: Microsoft's in production, the emulator's (plain http on an allow-listed host) in
 * tests and demos. So msal does no discovery, and every byte it sends passes the same host check as the rest.
 */
export const LOGIN_BASE = "https://login.microsoftonline.com";
export const GRAPH_SCOPE = "https://graph.microsoft.com/.default";
export const PARTNER_CENTER_SCOPE = "https://api.partnercenter.microsoft.com/.default";

export type AppCredential =
  | { kind: "secret"; clientSecret: string }
  | { kind: "certificate"; privateKeyPem: string; thumbprintSha256: string };

export type TokenSettings = {
  tenantId: string;
  clientId: string;
  credential: AppCredential;
  /** Where the token endpoint lives; Microsoft's sign-in host unless pointed at an emulator. */
  loginBase?: string;
  http: MicrosoftHttpOptions;
};

export type TokenProvider = { token(scope: string): Promise<string> };

export function createTokenProvider(settings: TokenSettings): TokenProvider {
  const base = (settings.loginBase ?? LOGIN_BASE).replace(/\/$/, "");
  const tenant = settings.tenantId;
  const authority = `${LOGIN_BASE}/${tenant}`;
  const auth: Configuration["auth"] = {
    clientId: settings.clientId,
    authority,
    knownAuthorities: [new URL(LOGIN_BASE).host],
    cloudDiscoveryMetadata: JSON.stringify({
      tenant_discovery_endpoint: `${authority}/v2.0/.well-known/openid-configuration`,
      "api-version": "1.1",
      metadata: [
        {
          preferred_network: "login.microsoftonline.com",
          preferred_cache: "login.windows.net",
          aliases: ["login.microsoftonline.com", "login.windows.net"],
        },
      ],
    }),
    authorityMetadata: JSON.stringify(openIdMetadata(base, tenant)),
    ...(settings.credential.kind === "secret"
      ? { clientSecret: settings.credential.clientSecret }
      : {
          clientCertificate: {
            privateKey: settings.credential.privateKeyPem,
            thumbprintSha256: settings.credential.thumbprintSha256,
          },
        }),
  };
  // msal is loaded with the first token: ~30 MB that a server with no Partner Center source never needs
  // (BENCHMARKS.md, serve).
  let client: Promise<ConfidentialClientApplication> | undefined;
  const clientOf = () =>
    (client ??= import("@azure/msal-node").then(
      (msal) =>
        new msal.ConfidentialClientApplication({
          auth,
          system: { networkClient: networkClient(settings.http) },
        }),
    ));
  const cache = new Map<string, { token: string; until: number }>();
  return {
    async token(scope) {
      const cached = cache.get(scope);
      if (cached && cached.until > Date.now()) return cached.token;
      const app = await clientOf();
      let result;
      try {
        result = await app.acquireTokenByClientCredential({ scopes: [scope] });
      } catch (error) {
        throw tokenError(error, scope);
      }
      if (!result?.accessToken) throw new SourceError("protocol", `no token for ${scope} came back`);
      // Renewed five minutes before it ends, so no request goes out with a token about to expire.
      const until = (result.expiresOn?.getTime() ?? Date.now() + 600_000) - 300_000;
      cache.set(scope, { token: result.accessToken, until });
      return result.accessToken;
    },
  };
}

function openIdMetadata(base: string, tenant: string) {
  return {
    token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt"],
    jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
    response_modes_supported: ["query"],
    subject_types_supported: ["pairwise"],
    id_token_signing_alg_values_supported: ["RS256"],
    response_types_supported: ["code"],
    scopes_supported: ["openid"],
    issuer: `${LOGIN_BASE}/${tenant}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${base}/oidc/userinfo`,
    authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/${tenant}/oauth2/v2.0/logout`,
    claims_parameter_supported: true,
    tenant_region_scope: "WW",
    cloud_instance_name: "microsoftonline.com",
    cloud_graph_host_name: "graph.windows.net",
    msgraph_host: "graph.microsoft.com",
    rbac_url: "https://pas.windows.net",
  };
}

/** msal's INetworkModule on the allow-listed fetch. */
function networkClient(http: MicrosoftHttpOptions) {
  const send = async <T>(
    method: "GET" | "POST",
    url: string,
    options?: { headers?: Record<string, string>; body?: string },
  ) => {
    const response = await microsoftFetch(
      url,
      {
        method,
        headers: options?.headers ?? {},
        ...(options?.body === undefined ? {} : { body: options.body }),
      },
      http,
    );
    const text = await response.text();
    const headers: Record<string, string> = {};
    response.headers.forEach((value, key) => (headers[key] = value));
    let body: unknown = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = { error: "invalid_response", error_description: text.slice(0, 200) };
    }
    return { status: response.status, headers, body: body as T };
  };
  return {
    sendGetRequestAsync: <T>(url: string, options?: { headers?: Record<string, string>; body?: string }) =>
      send<T>("GET", url, options),
    sendPostRequestAsync: <T>(url: string, options?: { headers?: Record<string, string>; body?: string }) =>
      send<T>("POST", url, options),
  };
}

/**
 * Entra ID's AADSTS codes, in words a person can act on (docs/partner-center.md §2): the tenant is wrong, the
 * app or its secret is wrong or expired, or an administrator has not consented.
 */
export function tokenError(error: unknown, scope: string): SourceError {
  if (error instanceof SourceError) return error;
  const text =
    error instanceof Error
      ? `${(error as { errorMessage?: string }).errorMessage ?? ""} ${error.message}`
      : String(error);
  const code = /AADSTS(\d+)/.exec(text)?.[1];
  const resource = scope.includes("graph") ? "Microsoft Graph" : "the Partner Center API";
  switch (code) {
    case "90002":
    case "900023":
    case "90013":
      return new SourceError(
        "wrong-tenant",
        `the partner tenant id is not a Microsoft Entra tenant (AADSTS${code}); check the tenant id`,
      );
    case "700016":
      return new SourceError(
        "bad-credentials",
        `the app (client) id is not registered in this tenant (AADSTS${code})`,
      );
    case "7000222":
      return new SourceError(
        "secret-expired",
        `the app's client secret has expired (AADSTS${code}); create a new one in Entra ID and update the source`,
      );
    case "7000215":
    case "700027":
      return new SourceError(
        "bad-credentials",
        `the client secret or certificate is not valid for this app (AADSTS${code})`,
      );
    case "65001":
      return new SourceError(
        "consent-missing",
        `an administrator has not consented to the app's permissions for ${resource} (AADSTS${code})`,
      );
    case "500011":
      return new SourceError(
        "consent-missing",
        `${resource} is not enabled for this tenant or app (AADSTS${code}); register the app for Partner Center API access`,
      );
    default: {
      const message = text.trim().split("\n")[0]?.slice(0, 300) ?? "unknown error";
      if (/timed out|did not answer/i.test(message))
        return new SourceError("timeout", `getting a token for ${resource}: ${message}`);
      if (/could not be reached|ECONNREFUSED|network/i.test(message))
        return new SourceError("unavailable", `getting a token for ${resource}: ${message}`);
      return new SourceError("bad-credentials", `getting a token for ${resource} failed: ${message}`, {
        cause: error,
      });
    }
  }
}
