import { useState, type FormEvent } from "react";
import { api, VENDOR_LABELS, type ConnectionView } from "../api.ts";
import { describedBy, ErrorMessage, Field, Loading, Notice, PageHeader } from "../components.tsx";
import { connectionSaved, useAction, useApiQuery, useDocumentTitle, useSession } from "../hooks.ts";
import { PsaPicker } from "../psa-picker.tsx";
import { Link } from "../router.tsx";

const CATALOG_MATCH = [
  { value: "either", label: "Identifier or vendor SKU" },
  { value: "identifier", label: "Identifier (the SKU)" },
  { value: "vendor-sku", label: "Vendor SKU" },
] as const;

type Values = {
  seatAnnualEnabled: boolean;
  catalogMatch: string;
  fallbackCatalogItem: string;
  chargeProductId: string;
  chargeBillingCodeId: string;
};

function valuesOf(c: ConnectionView): Values {
  const text = (value: unknown) => (value === undefined || value === null ? "" : String(value));
  return {
    seatAnnualEnabled: c.seatAnnualEnabled,
    catalogMatch: text(c.settings.catalogMatch) || "either",
    fallbackCatalogItem: text(c.settings.fallbackCatalogItem),
    chargeProductId: text(c.settings.chargeProductId),
    chargeBillingCodeId: text(c.settings.chargeBillingCodeId),
  };
}

function settingsBody(connection: ConnectionView, values: Values) {
  const before = valuesOf(connection);
  const settings: Record<string, string | null> = {};
  // Optional settings are sent when set; one that was set and is now empty is sent as null to clear it.
  const put = (key: "fallbackCatalogItem" | "chargeProductId" | "chargeBillingCodeId") => {
    const value = values[key].trim();
    if (value !== "") settings[key] = value;
    else if (before[key] !== "") settings[key] = null;
  };
  if (connection.vendor === "connectwise") {
    settings.catalogMatch = values.catalogMatch;
    put("fallbackCatalogItem");
  } else {
    put("chargeProductId");
    put("chargeBillingCodeId");
  }
  return { seatAnnualEnabled: values.seatAnnualEnabled, settings };
}

function SettingsForm({ connection }: { connection: ConnectionView }) {
  const { isAdmin } = useSession();
  const [values, setValues] = useState(() => valuesOf(connection));
  const [saved, setSaved] = useState(false);
  const save = useAction(async () => {
    await api.patch<{ connection: ConnectionView }>(
      `/api/connections/${connection.id}`,
      settingsBody(connection, values),
    );
  }, connectionSaved(connection.id));
  const set = <K extends keyof Values>(key: K, value: Values[K]) => {
    setSaved(false);
    setValues((v) => ({ ...v, [key]: value }));
  };
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSaved(false);
    await save.run();
    setSaved(true);
  };
  const errorFor = (key: string) => (save.error?.field === `settings.${key}` ? save.error.message : null);
  const readOnly = !isAdmin;

  return (
    <form className="form panel" onSubmit={submit}>
      <fieldset disabled={readOnly}>
        <legend>Billing motions</legend>
        <div className="checkbox">
          <input
            id="seat-annual"
            type="checkbox"
            checked={values.seatAnnualEnabled}
            aria-describedby="seat-annual-hint"
            onChange={(e) => set("seatAnnualEnabled", e.target.checked)}
          />
          <label htmlFor="seat-annual">Seat-based Annual subscription sync</label>
        </div>
        <p className="hint" id="seat-annual-hint">
          Writes annual (and one-time) Microsoft charges to each customer's{" "}
          {connection.vendor === "connectwise" ? "One-Time agreement" : "Fixed Price contract"}, once a day
          and on "Sync now". Customers still need a mapping.
        </p>
      </fieldset>
      {connection.vendor === "connectwise" ? (
        <fieldset disabled={readOnly}>
          <legend>ConnectWise products</legend>
          <Field
            id="catalog-match"
            label="Catalog match"
            hint="How a Microsoft product finds its ConnectWise catalog item."
            error={errorFor("catalogMatch")}
          >
            <select
              id="catalog-match"
              value={values.catalogMatch}
              aria-describedby="catalog-match-hint"
              onChange={(e) => set("catalogMatch", e.target.value)}
            >
              {CATALOG_MATCH.map((option) => (
                <option key={option.value} value={option.value}>
                  {option.label}
                </option>
              ))}
            </select>
          </Field>
          <Field
            id="fallback-item"
            label={
              <>
                Fallback catalog item <span className="muted">(optional)</span>
              </>
            }
            hint="Catalog item identifier used when no item matches a product (for example CSP-LICENSE)."
            error={errorFor("fallbackCatalogItem")}
          >
            <input
              id="fallback-item"
              type="text"
              spellCheck={false}
              value={values.fallbackCatalogItem}
              aria-describedby={describedBy("fallback-item", true, Boolean(errorFor("fallbackCatalogItem")))}
              onChange={(e) => set("fallbackCatalogItem", e.target.value)}
            />
          </Field>
        </fieldset>
      ) : (
        <fieldset disabled={readOnly}>
          <legend>Autotask charges</legend>
          <p className="hint">
            Used when no active Autotask product carries the Microsoft SKU: charges are billed as this
            product, or else under this billing code.
          </p>
          <Field
            id="charge-product"
            label={
              <>
                Charge product <span className="muted">(optional)</span>
              </>
            }
            error={errorFor("chargeProductId")}
          >
            <PsaPicker
              connectionId={connection.id}
              kind="products"
              id="charge-product"
              label="Products"
              value={values.chargeProductId}
              disabled={readOnly}
              onChange={(id) => set("chargeProductId", id)}
            />
          </Field>
          <Field
            id="charge-billing-code"
            label={
              <>
                Billing code <span className="muted">(optional)</span>
              </>
            }
            error={errorFor("chargeBillingCodeId")}
          >
            <PsaPicker
              connectionId={connection.id}
              kind="billing-codes"
              id="charge-billing-code"
              label="Billing codes"
              value={values.chargeBillingCodeId}
              disabled={readOnly}
              onChange={(id) => set("chargeBillingCodeId", id)}
            />
          </Field>
        </fieldset>
      )}
      {save.error && !save.error.field?.startsWith("settings.") && <ErrorMessage error={save.error} />}
      {saved && !save.error && <Notice kind="success">Settings saved.</Notice>}
      {isAdmin && (
        <div className="form-actions">
          <button type="submit" className="button primary" disabled={save.busy}>
            {save.busy ? "Saving…" : "Save"}
          </button>
        </div>
      )}
    </form>
  );
}

export function PsaSettingsPage({ id }: { id: string }) {
  const connection = useApiQuery<{ connection: ConnectionView }>(`/api/connections/${id}`);
  const c = connection.data?.connection;
  useDocumentTitle(c ? `${c.name} settings` : "PSA settings");
  return (
    <>
      <PageHeader title={c ? `${c.name} — PSA settings` : "PSA settings"}>
        {c && (
          <Link to={`/psa/${c.id}/csp`} className="button secondary">
            Microsoft CSP customers
          </Link>
        )}
      </PageHeader>
      {connection.error && <ErrorMessage error={connection.error} retry={connection.refetch} />}
      {!c && connection.loading && <Loading label="Loading settings…" />}
      {c && (
        <>
          <p className="lead">
            Microsoft CSP program settings for this {VENDOR_LABELS[c.vendor]} connection.
          </p>
          <SettingsForm connection={c} />
        </>
      )}
    </>
  );
}
