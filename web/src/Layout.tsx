import { useEffect, useState, type ReactNode } from "react";
import { VENDOR_LABELS, type ApiError, type ConnectionView } from "./api.ts";
import { EmptyState, PageHeader } from "./components.tsx";
import { useApiQuery, useSession } from "./hooks.ts";
import { Link, match, useLocation } from "./router.tsx";
import { ConnectionsPage } from "./pages/Connections.tsx";
import { CustomersPage } from "./pages/Customers.tsx";
import { DashboardPage } from "./pages/Dashboard.tsx";
import { ImportPage } from "./pages/Import.tsx";
import { PricingPage } from "./pages/Pricing.tsx";
import { ProductsPage } from "./pages/Products.tsx";
import { PsaSettingsPage } from "./pages/PsaSettings.tsx";
import { RenewalsPage } from "./pages/Renewals.tsx";
import { ReportsPage } from "./pages/Reports.tsx";
import { RunDetailPage, RunsPage } from "./pages/Runs.tsx";
import { SourcesPage } from "./pages/Sources.tsx";
import { SettingsPage } from "./pages/Settings.tsx";
import { NotificationsPage } from "./pages/Notifications.tsx";

/**
 * The connections, shared by the navigation and the pages through the query cache (one request): a change
 * that invalidates "/api/connections" (connecting a PSA) updates the menu and the pages together.
 */
export type ConnectionsState = {
  connections: ConnectionView[] | undefined;
  error: ApiError | null;
  refetch: () => void;
};

export function useConnections(): ConnectionsState {
  const list = useApiQuery<{ connections: ConnectionView[] }>("/api/connections");
  return { connections: list.data?.connections, error: list.error, refetch: list.refetch };
}

function NavLink({ to, children, exact }: { to: string; children: ReactNode; exact?: boolean }) {
  const { path } = useLocation();
  const active = exact ? path === to : path === to || path.startsWith(`${to}/`);
  return (
    <Link
      to={to}
      className={active ? "nav-link active" : "nav-link"}
      aria-current={active ? "page" : undefined}
    >
      {children}
    </Link>
  );
}

function Navigation({ connections }: { connections: ConnectionView[] | undefined }) {
  return (
    <nav aria-label="Main" className="nav">
      <ul>
        <li>
          <NavLink to="/" exact>
            Dashboard
          </NavLink>
        </li>
        <li>
          <NavLink to="/connections">Connections</NavLink>
        </li>
        {connections?.map((c) => (
          <li key={c.id} className="nav-group">
            <span className="nav-group-title" title={VENDOR_LABELS[c.vendor]}>
              {c.name}
            </span>
            <ul>
              <li>
                <NavLink to={`/psa/${c.id}/csp`}>
                  Microsoft CSP<span className="visually-hidden"> — {c.name}</span>
                </NavLink>
              </li>
              <li>
                <NavLink to={`/psa/${c.id}/products`}>
                  Products<span className="visually-hidden"> — {c.name}</span>
                </NavLink>
              </li>
              <li>
                <NavLink to={`/psa/${c.id}/pricing`}>
                  Pricing<span className="visually-hidden"> — {c.name}</span>
                </NavLink>
              </li>
              <li>
                <NavLink to={`/psa/${c.id}/settings`}>
                  PSA settings<span className="visually-hidden"> — {c.name}</span>
                </NavLink>
              </li>
            </ul>
          </li>
        ))}
        <li>
          <NavLink to="/reports">Reports</NavLink>
        </li>
        <li>
          <NavLink to="/renewals">Renewals</NavLink>
        </li>
        <li>
          <NavLink to="/runs">Sync history</NavLink>
        </li>
        <li>
          <NavLink to="/import">Import</NavLink>
        </li>
        <li>
          <NavLink to="/sources">Billing sources</NavLink>
        </li>
        <li>
          <NavLink to="/settings">Settings</NavLink>
        </li>
      </ul>
    </nav>
  );
}

function Routes() {
  const { path } = useLocation();
  let params: Record<string, string> | null;
  if (path === "/") return <DashboardPage />;
  if (path === "/connections") return <ConnectionsPage />;
  if ((params = match("/psa/:id/settings", path))) return <PsaSettingsPage key={params.id} id={params.id!} />;
  if ((params = match("/psa/:id/csp", path))) return <CustomersPage key={params.id} id={params.id!} />;
  if ((params = match("/psa/:id/products", path))) return <ProductsPage key={params.id} id={params.id!} />;
  if ((params = match("/psa/:id/pricing", path))) return <PricingPage key={params.id} id={params.id!} />;
  if (path === "/reports") return <ReportsPage />;
  if (path === "/renewals") return <RenewalsPage />;
  if (path === "/runs") return <RunsPage />;
  if ((params = match("/runs/:id", path))) return <RunDetailPage key={params.id} id={params.id!} />;
  if (path === "/import") return <ImportPage />;
  if (path === "/sources") return <SourcesPage />;
  if (path === "/settings") return <SettingsPage />;
  if (path === "/settings/notifications") return <NotificationsPage />;
  return (
    <>
      <PageHeader title="Page not found" />
      <EmptyState title={`There is no page at ${path}.`}>
        <Link to="/">Go to the dashboard</Link>
      </EmptyState>
    </>
  );
}

export function Layout() {
  const session = useSession();
  const { path } = useLocation();
  const connections = useConnections();
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => setMenuOpen(false), [path]);

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          cspsync
        </Link>
        <button
          type="button"
          className="menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="sidebar"
          onClick={() => setMenuOpen((open) => !open)}
        >
          Menu
        </button>
        <div className="user">
          <span className="user-email">{session.user.email}</span>
          <span className="badge badge-neutral">{session.user.role}</span>
          <button type="button" className="button secondary small" onClick={() => void session.logout()}>
            Log out
          </button>
        </div>
      </header>
      <div className="shell">
        <aside id="sidebar" className={menuOpen ? "sidebar open" : "sidebar"}>
          <Navigation connections={connections.connections} />
        </aside>
        <main id="main" className="content">
          <Routes />
        </main>
      </div>
    </>
  );
}
