import { useEffect, useRef, useState, type FormEvent } from "react";
import {
  api,
  MOTION_LABELS,
  query,
  VENDOR_LABELS,
  type ConnectionView,
  type CustomerMapping,
  type CustomerView,
  type MappingInput,
  type PricingName,
  type PsaAgreement,
  type PsaCompany,
  type RunSummary,
  type SyncResults,
  type StartPoint,
} from "../api.ts";
import { describedBy, ErrorMessage, Field, Loading, Modal } from "../components.tsx";
import { formatDate, todayIso } from "../format.ts";
import { useAction, useDebounced, useApiQuery } from "../hooks.ts";
import { Link } from "../router.tsx";
import { SyncResult } from "../sync-views.tsx";
import { mappingInputSchema } from "../../../src/core/mapping-input.ts";

/** The form's words for what the mapping schema refuses, per field (the schema's own message otherwise). */
const MAPPING_PROBLEMS: Record<string, (vendor: ConnectionView["vendor"]) => string> = {
  psaCompanyId: () => "Choose a company.",
  agreementId: (vendor) => `Choose ${vendor === "connectwise" ? "an agreement" : "a contract"}.`,
  markupPercent: () => "Enter the markup as a number, e.g. 12.5.",
  fallbackMarkupPercent: () => "Enter the fallback markup as a number, e.g. 20, or leave it empty.",
};

const PRICING: { value: PricingName; label: string; hint: string }[] = [
  {
    value: "cost-and-retail",
    label: "Cost and retail",
    hint: "Cost from Microsoft's data; price from its list price.",
  },
  {
    value: "cost-only",
    label: "Cost only",
    hint: "Cost from Microsoft's data; the PSA keeps its own price.",
  },
  { value: "markup", label: "Markup on cost", hint: "Price = cost plus the percentage you set." },
];

/** Agreements the original only offered when running: active and not past their end date. */
function isRunning(agreement: PsaAgreement, today: string): boolean {
  if (!/^(active|in effect)$/i.test(agreement.status)) return false;
  return agreement.endDate === null || agreement.endDate >= today;
}

function agreementFacts(a: PsaAgreement): string {
  const period =
    a.startDate || a.endDate
      ? `${formatDate(a.startDate)} – ${a.endDate ? formatDate(a.endDate) : "no end date"}`
      : null;
  return [a.type, a.billingCycle ? `${a.billingCycle} billing cycle` : null, period, a.status]
    .filter(Boolean)
    .join(" · ");
}

function CompanyPicker({
  connectionId,
  vendor,
  company,
  customerName,
  onPick,
  error,
}: {
  connectionId: string;
  vendor: ConnectionView["vendor"];
  company: PsaCompany | null;
  /** An unmapped entry's search starts with the customer's name: the PSA company is usually named alike. */
  customerName: string;
  onPick: (company: PsaCompany) => void;
  error: string | null;
}) {
  const [text, setText] = useState(company?.name ?? customerName);
  const search = useDebounced(text.trim(), 300);
  const results = useApiQuery<{ companies: PsaCompany[] }>(
    search.length >= 2 ? `/api/connections/${connectionId}/psa/companies${query({ search })}` : null,
  );
  const companies = search.length >= 2 ? results.data?.companies : undefined;
  return (
    <fieldset className="picker">
      <legend>1. {VENDOR_LABELS[vendor]} company</legend>
      <Field
        id="company-search"
        label="Search company by name"
        hint="Type at least two letters of the company's name."
        error={error}
      >
        <input
          id="company-search"
          // Not type="search": Chromium's first Escape in a search box only clears it, and Escape must close
          // the dialog.
          type="text"
          enterKeyHint="search"
          autoComplete="off"
          value={text}
          aria-describedby={describedBy("company-search", true, Boolean(error))}
          onChange={(e) => setText(e.target.value)}
        />
      </Field>
      {search.length >= 2 && results.loading && <Loading label="Searching companies…" />}
      {results.error && search.length >= 2 && <ErrorMessage error={results.error} retry={results.refetch} />}
      {companies && companies.length === 0 && !results.loading && (
        <p className="muted">No company matches “{search}”.</p>
      )}
      {companies && companies.length > 0 && (
        <div className="options" role="radiogroup" aria-label="Companies">
          {companies.map((c) => (
            <label key={c.id} className={company?.id === c.id ? "option selected" : "option"}>
              <input
                type="radio"
                name="company"
                value={c.id}
                checked={company?.id === c.id}
                aria-labelledby={`company-${c.id}-name`}
                aria-describedby={c.identifier ? `company-${c.id}-identifier` : undefined}
                onChange={() => onPick(c)}
              />
              <span>
                <span className="option-title" id={`company-${c.id}-name`}>
                  {c.name}
                </span>
                {c.identifier && (
                  <span className="option-detail" id={`company-${c.id}-identifier`}>
                    {c.identifier}
                  </span>
                )}
              </span>
            </label>
          ))}
        </div>
      )}
      {company && !companies?.some((c) => c.id === company.id) && (
        <p className="selected-note">
          Selected: <strong>{company.name}</strong>
        </p>
      )}
    </fieldset>
  );
}

function AgreementPicker({
  connectionId,
  vendor,
  company,
  motion,
  agreementId,
  onPick,
  error,
}: {
  connectionId: string;
  vendor: ConnectionView["vendor"];
  company: PsaCompany | null;
  motion: CustomerMapping["motion"];
  agreementId: string | null;
  onPick: (id: string) => void;
  error: string | null;
}) {
  const agreements = useApiQuery<{ agreements: PsaAgreement[] }>(
    company
      ? `/api/connections/${connectionId}/psa/companies/${encodeURIComponent(company.id)}/agreements`
      : null,
  );
  const noun = vendor === "connectwise" ? "agreement" : "contract";
  const today = todayIso();
  // While another company's list loads, the previous one must not stay pickable.
  const all = company && !agreements.loading ? agreements.data?.agreements : undefined;
  const running = all?.filter((a) => isRunning(a, today));
  const hidden = all && running ? all.length - running.length : 0;
  return (
    <fieldset className="picker" aria-describedby={error ? "agreement-error" : undefined}>
      <legend>
        2. {vendor === "connectwise" ? "Agreement" : "Contract"}
        {company && <span className="muted"> of {company.name}</span>}
      </legend>
      {!company && <p className="muted">Choose a company first.</p>}
      {company && agreements.loading && <Loading label={`Loading ${noun}s…`} />}
      {company && agreements.error && <ErrorMessage error={agreements.error} retry={agreements.refetch} />}
      {running && running.length === 0 && !agreements.loading && (
        <p className="muted">
          {company?.name} has no active, unexpired {noun}. Create one in {VENDOR_LABELS[vendor]} first.
        </p>
      )}
      {running && running.length > 0 && (
        <div className="options" role="radiogroup" aria-label={`${noun}s`}>
          {running.map((a) => {
            const validity = a.validFor[motion];
            const reasonId = `agreement-${a.id}-reason`;
            return (
              <label
                key={a.id}
                className={[
                  "option",
                  validity.ok ? "" : "disabled",
                  agreementId === a.id ? "selected" : "",
                ].join(" ")}
                data-agreement={a.name}
              >
                <input
                  type="radio"
                  name="agreement"
                  value={a.id}
                  disabled={!validity.ok}
                  checked={agreementId === a.id}
                  aria-labelledby={`agreement-${a.id}-name`}
                  aria-describedby={[`agreement-${a.id}-facts`, validity.ok ? "" : reasonId].join(" ").trim()}
                  onChange={() => onPick(a.id)}
                />
                <span>
                  <span className="option-title" id={`agreement-${a.id}-name`}>
                    {a.name}
                  </span>
                  <span className="option-detail" id={`agreement-${a.id}-facts`}>
                    {agreementFacts(a)}
                  </span>
                  {!validity.ok && (
                    <span className="option-reason" id={reasonId}>
                      Not available for {MOTION_LABELS[motion]}: {validity.reason}
                    </span>
                  )}
                </span>
              </label>
            );
          })}
        </div>
      )}
      {hidden > 0 && (
        <p className="muted small">
          {hidden === 1 ? `1 inactive or expired ${noun} is` : `${hidden} inactive or expired ${noun}s are`}{" "}
          not shown.
        </p>
      )}
      {error && (
        <p className="field-error" id="agreement-error" role="alert">
          {error}
        </p>
      )}
    </fieldset>
  );
}

/**
 * The pencil form of one customer entry: company, then one of its agreements/contracts, sync date and
 * pricing. The API checks the agreement again on save; the form only explains up front what will fail.
 */
export function MappingForm({
  connection,
  customer,
  mapping,
  onClose,
  onSaved,
}: {
  connection: ConnectionView;
  customer: CustomerView;
  mapping: CustomerMapping;
  onClose: () => void;
  onSaved: (message: string | null) => void;
}) {
  const [company, setCompany] = useState<PsaCompany | null>(
    mapping.psaCompanyId
      ? { id: mapping.psaCompanyId, name: mapping.psaCompanyName ?? `#${mapping.psaCompanyId}` }
      : null,
  );
  const [agreementId, setAgreementId] = useState<string | null>(mapping.agreementId);
  const [syncDate, setSyncDate] = useState(mapping.syncDate ?? "");
  const [pricing, setPricing] = useState<PricingName>(mapping.pricing.strategy);
  const [markup, setMarkup] = useState(mapping.pricing.markupPercent ?? "");
  // Cost and retail: the markup for lines Microsoft's price list has no entry for (docs/price-lists.md).
  const [fallback, setFallback] = useState(mapping.pricing.fallbackMarkupPercent ?? "");
  const [enabled, setEnabled] = useState(mapping.psaCompanyId ? mapping.enabled : true);
  const [startPoint, setStartPoint] = useState<StartPoint>(mapping.startPoint);
  const monthly = mapping.motion === "seat-monthly";
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [result, setResult] = useState<RunSummary | null>(null);
  const annual = mapping.motion === "seat-annual";
  // Saving enables a Monthly or Azure Plan entry, which is all its sync needs; annual also needs the
  // connection's switch.
  const canSyncNow = !annual || connection.seatAnnualEnabled;
  const base = `/api/connections/${connection.id}`;

  /**
   * The draft checked by the server's own mapping schema (src/core/mapping-input.ts, what the API parses an
   * entry with), so the form refuses exactly what the API would; the words are the form's, per field.
   */
  const validate = (): MappingInput | null => {
    const body: MappingInput = {
      psaCompanyId: company?.id ?? "",
      agreementId: agreementId ?? "",
      syncDate: syncDate || null,
      pricing,
      ...(pricing === "markup" ? { markupPercent: markup.trim() } : {}),
      ...(pricing === "cost-and-retail" && fallback.trim() ? { fallbackMarkupPercent: fallback.trim() } : {}),
      ...(monthly ? { startPoint } : {}),
      enabled,
    };
    const found: Record<string, string> = {};
    for (const issue of mappingInputSchema.safeParse(body).error?.issues ?? []) {
      const field = String(issue.path[0] ?? "mapping");
      found[field] ??= MAPPING_PROBLEMS[field]?.(connection.vendor) ?? issue.message;
    }
    setProblems(found);
    return Object.keys(found).length > 0 ? null : body;
  };

  const save = useAction(async (andSync: boolean) => {
    const body = validate();
    if (!body) return null;
    setResult(null);
    await api.put(
      `${base}/customers/${encodeURIComponent(customer.tenantId)}/mappings/${mapping.motion}`,
      body,
    );
    if (!andSync) {
      onSaved(`Saved ${MOTION_LABELS[mapping.motion]} for ${customer.name}.`);
      return null;
    }
    onSaved(null);
    const results = await api.post<SyncResults>(`${base}/sync`, {
      customerTenantId: customer.tenantId,
      motion: mapping.motion,
    });
    onSaved(null);
    return results.runs[0] ?? null;
  });

  const resultHeading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    // The result appears at the top of the dialog, however far down Sync now was: scroll it into view and
    // move focus to it, inside the dialog, so keyboard and screen-reader users land on what happened.
    if (!result) return;
    resultHeading.current?.scrollIntoView({ block: "start" });
    resultHeading.current?.focus();
  }, [result]);
  useEffect(() => {
    // The dialog focuses its first control (Close) when it opens; start in the company search instead,
    // after that has happened.
    const frame = window.requestAnimationFrame(() => {
      const search = document.getElementById("company-search") as HTMLInputElement | null;
      search?.focus();
      search?.select();
    });
    return () => window.cancelAnimationFrame(frame);
  }, []);

  const submit = async (event: FormEvent, andSync: boolean) => {
    event.preventDefault();
    const summary = await save.run(andSync);
    if (summary) setResult(summary);
  };

  const apiField = save.error?.field;
  const fieldError = (name: string) =>
    problems[name] ?? (apiField === name ? (save.error?.message ?? null) : null);
  const generalError =
    save.error &&
    !["psaCompanyId", "agreementId", "markupPercent", "fallbackMarkupPercent", "syncDate"].includes(
      apiField ?? "",
    );

  return (
    <Modal title={`${MOTION_LABELS[mapping.motion]} — ${customer.name}`} onClose={onClose} wide>
      <form className="form mapping-form" onSubmit={(e) => void submit(e, false)}>
        {result && (
          <section className="sync-now-result" aria-labelledby="sync-now-title">
            <h3 id="sync-now-title" ref={resultHeading} tabIndex={-1}>
              Sync now result
            </h3>
            <SyncResult result={result} />
          </section>
        )}
        <CompanyPicker
          connectionId={connection.id}
          vendor={connection.vendor}
          company={company}
          customerName={customer.name}
          onPick={(picked) => {
            if (picked.id !== company?.id) setAgreementId(null);
            setCompany(picked);
          }}
          error={fieldError("psaCompanyId")}
        />
        <AgreementPicker
          connectionId={connection.id}
          vendor={connection.vendor}
          company={company}
          motion={mapping.motion}
          agreementId={agreementId}
          onPick={setAgreementId}
          error={fieldError("agreementId")}
        />
        <fieldset>
          <legend>3. {monthly ? "Start point" : "Sync date"} and pricing</legend>
          <div className="row">
            {monthly ? (
              <Field
                id="start-point"
                label="Start from"
                hint={
                  mapping.startInvoice
                    ? `Fixed when the entry was enabled: invoice ${mapping.startInvoice}.`
                    : "Fixed when the entry is enabled; earlier invoices are left alone."
                }
              >
                <select
                  id="start-point"
                  value={startPoint}
                  aria-describedby="start-point-hint"
                  onChange={(e) => setStartPoint(e.target.value as StartPoint)}
                >
                  <option value="most-recent">The most recent invoice</option>
                  <option value="next">The next invoice</option>
                </select>
              </Field>
            ) : (
              <Field
                id="sync-date"
                label={
                  <>
                    Sync charges from <span className="muted">(optional)</span>
                  </>
                }
                hint="Charges dated before this day are left alone. Empty: every charge in the data."
                error={fieldError("syncDate")}
              >
                <input
                  id="sync-date"
                  type="date"
                  value={syncDate}
                  aria-describedby={describedBy("sync-date", true, Boolean(fieldError("syncDate")))}
                  onChange={(e) => setSyncDate(e.target.value)}
                />
              </Field>
            )}
            <Field
              id="pricing"
              label="Pricing strategy"
              hint={PRICING.find((p) => p.value === pricing)?.hint}
            >
              <select
                id="pricing"
                value={pricing}
                aria-describedby="pricing-hint"
                onChange={(e) => setPricing(e.target.value as PricingName)}
              >
                {PRICING.map((p) => (
                  <option key={p.value} value={p.value}>
                    {p.label}
                  </option>
                ))}
              </select>
            </Field>
            {pricing === "markup" && (
              <Field id="markup" label="Markup %" error={fieldError("markupPercent")}>
                <input
                  id="markup"
                  type="text"
                  inputMode="decimal"
                  value={markup}
                  aria-invalid={fieldError("markupPercent") ? true : undefined}
                  aria-describedby={describedBy("markup", false, Boolean(fieldError("markupPercent")))}
                  onChange={(e) => setMarkup(e.target.value)}
                />
              </Field>
            )}
            {pricing === "cost-and-retail" && (
              <Field
                id="fallback-markup"
                label="Fallback markup % (optional)"
                hint="For lines the price list has no retail price for. Empty: the billing data's list price, flagged when at cost."
                error={fieldError("fallbackMarkupPercent")}
              >
                <input
                  id="fallback-markup"
                  type="text"
                  inputMode="decimal"
                  value={fallback}
                  aria-invalid={fieldError("fallbackMarkupPercent") ? true : undefined}
                  aria-describedby={describedBy(
                    "fallback-markup",
                    true,
                    Boolean(fieldError("fallbackMarkupPercent")),
                  )}
                  onChange={(e) => setFallback(e.target.value)}
                />
              </Field>
            )}
          </div>
          <div className="checkbox">
            <input
              id="mapping-enabled"
              type="checkbox"
              checked={enabled}
              onChange={(e) => setEnabled(e.target.checked)}
            />
            <label htmlFor="mapping-enabled">Sync this entry</label>
          </div>
        </fieldset>
        {generalError && save.error && <ErrorMessage error={save.error} />}
        <div className="form-actions">
          {annual && !connection.seatAnnualEnabled && (
            <p className="hint grow">
              Sync now needs Seat-based Annual subscription sync, which is off in{" "}
              <Link to={`/psa/${connection.id}/settings`}>PSA settings</Link>.
            </p>
          )}
          <button type="button" className="button secondary" onClick={onClose}>
            {result ? "Close" : "Cancel"}
          </button>
          <button type="submit" className="button secondary" disabled={save.busy}>
            Save
          </button>
          {canSyncNow && (
            <button
              type="button"
              className="button primary"
              disabled={save.busy}
              onClick={(e) => void submit(e, true)}
            >
              {save.busy ? "Working…" : "Sync now"}
            </button>
          )}
        </div>
      </form>
    </Modal>
  );
}
