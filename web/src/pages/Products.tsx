import { useState, type FormEvent } from "react";
import {
  api,
  ApiError,
  VENDOR_LABELS,
  type ConnectionView,
  type PriceConfirmation,
  type ProductAction,
  type ProductPreview,
  type ProductPreviewItem,
  type ProductRun,
  type ProductRunDetail,
  type ProductRunItem,
  type PsaOptionKind,
} from "../api.ts";
import {
  Badge,
  ConnectionTabs,
  EmptyState,
  ErrorMessage,
  Field,
  Loading,
  Modal,
  Notice,
  PageHeader,
  RunStatusBadge,
} from "../components.tsx";
import { formatDuration, formatInstant, formatMoney, formatNumber, UNIT_MONEY_TITLE } from "../format.ts";
import {
  connectionSaved,
  useAction,
  useApiQuery,
  useDocumentTitle,
  useInvalidate,
  useSession,
} from "../hooks.ts";
import { PsaPicker } from "../psa-picker.tsx";
import { useFallbackCurrency } from "../lines.tsx";

const MODES = [
  { value: "off", label: "Off" },
  { value: "all", label: "All products in the billing data" },
  { value: "in-use", label: "In-use products only (customers with an enabled entry)" },
] as const;

const ACTION_TONES: Record<ProductAction, "ok" | "info" | "neutral" | "bad"> = {
  create: "ok",
  link: "info",
  update: "info",
  skip: "neutral",
  conflict: "bad",
};
const ACTION_LABELS: Record<ProductAction, string> = {
  create: "Create",
  link: "Link",
  update: "Update",
  skip: "Skip",
  conflict: "Conflict",
};
const STATUS_TONES = { written: "ok", unchanged: "neutral", conflict: "warn", failed: "bad" } as const;

const LINKED_PRICE_OPTIONS = [
  { value: "never", label: "Never change them (cost still follows the billing data)" },
  { value: "confirm", label: "Change them only after I confirm the changes at each sync" },
] as const;

const ORIGIN_LABELS = { cspsync: "Created by cspsync", linked: "Linked — yours" } as const;

/**
 * The product settings of each vendor (empty means not set). Those naming a PSA record are picked by name from
 * the PSA's list (`picker`), with the stored id shown; the others are typed.
 */
const FIELDS: Record<
  ConnectionView["vendor"],
  { key: string; label: string; hint: string; picker?: PsaOptionKind }[]
> = {
  connectwise: [
    {
      key: "productSubcategory",
      label: "Subcategory",
      hint: "New catalog items' subcategory, picked by name; none: the one named Microsoft 365.",
      picker: "subcategories",
    },
    {
      key: "productType",
      label: "Product type",
      hint: "New catalog items' product type, picked by name; none: the one named Software Licensing.",
      picker: "product-types",
    },
    {
      key: "productCategoryId",
      label: "Category id",
      hint: "Optional; the subcategory's category by default.",
    },
  ],
  autotask: [
    {
      key: "serviceBillingCodeId",
      label: "Billing code",
      hint: "Required: an active Recurring Contract Service billing code for new PC_<SKU> services.",
      picker: "billing-codes",
    },
    {
      key: "serviceVendorCompanyId",
      label: "Vendor",
      hint: "Optional: the vendor company set on new services (reporting).",
      picker: "vendors",
    },
    {
      key: "productBillingCodeId",
      label: "Product billing code",
      hint: "Optional: an active, non-system billing code for new Products that annual contract charges use; without it such Products are only linked.",
      picker: "billing-codes",
    },
  ],
};

const text = (value: unknown) => (value === undefined || value === null ? "" : String(value));

function SettingsForm({ connection }: { connection: ConnectionView }) {
  const { isAdmin } = useSession();
  const fields = FIELDS[connection.vendor];
  const [mode, setMode] = useState(text(connection.settings.productSyncMode) || "off");
  const [values, setValues] = useState(() =>
    Object.fromEntries(fields.map((f) => [f.key, text(connection.settings[f.key])])),
  );
  const [taxable, setTaxable] = useState(connection.settings.productTaxable === true);
  const [linkedPrices, setLinkedPrices] = useState(text(connection.settings.linkedPriceUpdates) || "never");
  const [saved, setSaved] = useState(false);
  const save = useAction(async () => {
    const settings: Record<string, unknown> = { productSyncMode: mode, linkedPriceUpdates: linkedPrices };
    for (const f of fields) {
      const value = values[f.key]!.trim();
      if (value !== "") settings[f.key] = value;
      else if (text(connection.settings[f.key]) !== "") settings[f.key] = null;
    }
    if (connection.vendor === "connectwise") settings.productTaxable = taxable;
    await api.patch(`/api/connections/${connection.id}`, { settings });
  }, connectionSaved(connection.id));
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSaved(false);
    await save.run();
    setSaved(true);
  };
  const errorFor = (key: string) => (save.error?.field === `settings.${key}` ? save.error.message : null);
  return (
    <form className="form panel" onSubmit={submit} aria-label="Product sync settings">
      <fieldset disabled={!isAdmin}>
        <legend>Product sync settings</legend>
        <Field
          id="product-mode"
          label="Product sync mode"
          hint="Which products become ConnectWise catalog items / Autotask services. Preview before switching it on."
          error={errorFor("productSyncMode")}
        >
          <select
            id="product-mode"
            value={mode}
            aria-describedby="product-mode-hint"
            onChange={(e) => {
              setSaved(false);
              setMode(e.target.value);
            }}
          >
            {MODES.map((m) => (
              <option key={m.value} value={m.value}>
                {m.label}
              </option>
            ))}
          </select>
        </Field>
        <Field
          id="product-linked-prices"
          label="Sell prices of linked records"
          hint={`${connection.vendor === "connectwise" ? "Catalog items" : "Products"} that existed before and that cspsync only linked are yours: their sell price changes only if you allow it here, and then only after you confirm the changes.`}
          error={errorFor("linkedPriceUpdates")}
        >
          <select
            id="product-linked-prices"
            value={linkedPrices}
            aria-describedby="product-linked-prices-hint"
            onChange={(e) => {
              setSaved(false);
              setLinkedPrices(e.target.value);
            }}
          >
            {LINKED_PRICE_OPTIONS.map((o) => (
              <option key={o.value} value={o.value}>
                {o.label}
              </option>
            ))}
          </select>
        </Field>
        <div className="row">
          {fields.map((f) => (
            <Field key={f.key} id={`product-${f.key}`} label={f.label} hint={f.hint} error={errorFor(f.key)}>
              {f.picker ? (
                <PsaPicker
                  connectionId={connection.id}
                  kind={f.picker}
                  id={`product-${f.key}`}
                  label={f.label}
                  value={values[f.key]!}
                  describedBy={`product-${f.key}-hint`}
                  disabled={!isAdmin}
                  onChange={(id) => {
                    setSaved(false);
                    setValues((v) => ({ ...v, [f.key]: id }));
                  }}
                />
              ) : (
                <input
                  id={`product-${f.key}`}
                  type="text"
                  spellCheck={false}
                  value={values[f.key]}
                  aria-describedby={`product-${f.key}-hint`}
                  onChange={(e) => {
                    setSaved(false);
                    setValues((v) => ({ ...v, [f.key]: e.target.value }));
                  }}
                />
              )}
            </Field>
          ))}
        </div>
        {connection.vendor === "connectwise" && (
          <div className="checkbox">
            <input
              id="product-taxable"
              type="checkbox"
              checked={taxable}
              onChange={(e) => setTaxable(e.target.checked)}
            />
            <label htmlFor="product-taxable">Set new products to taxable</label>
          </div>
        )}
      </fieldset>
      {save.error && !save.error.field?.startsWith("settings.") && <ErrorMessage error={save.error} />}
      {saved && !save.error && <Notice kind="success">Product settings saved.</Notice>}
      {isAdmin && (
        <div className="form-actions">
          <button type="submit" className="button secondary" disabled={save.busy}>
            {save.busy ? "Saving…" : "Save settings"}
          </button>
        </div>
      )}
    </form>
  );
}

/** The record an item writes, and whose it is: created by cspsync or linked (the MSP's own). */
function RecordCell({ item, currency }: { item: ProductPreviewItem; currency: string | null }) {
  const linked = item.linkedPrice;
  return (
    <>
      {item.recordLabel ?? "—"}
      {item.recordOrigin && (
        <span className="block small muted" data-origin={item.recordOrigin}>
          {ORIGIN_LABELS[item.recordOrigin]}
        </span>
      )}
      {linked && (
        <span className="block small" data-linked-price={linked.handling}>
          {linked.handling === "kept"
            ? `Price ${unitMoney(linked.from, currency)} kept (billing data: ${unitMoney(linked.to, currency)})`
            : `Price ${unitMoney(linked.from, currency)} → ${unitMoney(linked.to, currency)}: needs your confirmation`}
        </span>
      )}
    </>
  );
}

/** A catalog price or cost: a per-unit amount, written to the PSA with up to four decimals; "none" when unset. */
function unitMoney(value: string | null, currency: string | null): string {
  return value === null ? "none" : formatMoney(value, currency, { unit: true });
}

/**
 * What a preview item writes, from its structured fields (never the server's reason sentence, which is for the
 * command line): a new record's price and cost, or each amount that changes on an existing record, from → to.
 */
function PlannedChanges({ item, currency }: { item: ProductPreviewItem; currency: string | null }) {
  const { changes, current } = item;
  if (item.action === "create")
    return (
      <span className="block" data-changes="create">
        New at price {unitMoney(changes.price ?? null, currency)}, cost{" "}
        {unitMoney(changes.cost ?? null, currency)}
      </span>
    );
  const rows: { what: string; from: string | null; to: string; note?: string }[] = [];
  if (changes.price !== undefined)
    rows.push({
      what: "Price",
      from: current?.price ?? null,
      to: changes.price,
      ...(item.linkedPrice?.handling === "needs-confirmation" ? { note: " (needs confirmation)" } : {}),
    });
  if (changes.cost !== undefined) rows.push({ what: "Cost", from: current?.cost ?? null, to: changes.cost });
  if (rows.length === 0) return <span className="block">{item.reason}</span>;
  return (
    <>
      {item.action === "link" && item.recordLabel && (
        <span className="block">Links the existing record {item.recordLabel}</span>
      )}
      {rows.map((r) => (
        <span key={r.what} className="block" data-change={r.what.toLowerCase()}>
          {r.what} {unitMoney(r.from, currency)} → {unitMoney(r.to, currency)}
          {r.note}
        </span>
      ))}
    </>
  );
}

/** The sell-price changes on linked records, as a list people can read before they confirm. */
function PriceChangeList({
  confirmation,
  currency,
}: {
  confirmation: PriceConfirmation;
  currency: string | null;
}) {
  return (
    <ul className="price-changes">
      {confirmation.changes.map((c) => (
        <li key={`${c.kind}:${c.key}`} data-product={c.key}>
          <strong>{c.recordLabel ?? c.recordId}</strong> ({c.name}): price {unitMoney(c.from, currency)} →{" "}
          {unitMoney(c.to, currency)}, {c.direction === "increase" ? "an increase" : "a decrease"}
        </li>
      ))}
    </ul>
  );
}

function PreviewTable({ preview, currency }: { preview: ProductPreview; currency: string | null }) {
  const counts = (Object.keys(ACTION_LABELS) as ProductAction[])
    .map((a) => `${formatNumber(preview.counts[a])} ${ACTION_LABELS[a].toLowerCase()}`)
    .join(" · ");
  const pending = preview.priceConfirmation.changes.length;
  return (
    <section className="panel" aria-labelledby="preview-title">
      <h2 id="preview-title">Preview ({preview.mode === "all" ? "all products" : "in-use products"})</h2>
      <p className="muted">Nothing has been written. {counts}</p>
      {pending > 0 && (
        <Notice kind="warning">
          <p>
            {pending === 1 ? "One sell price" : `${formatNumber(pending)} sell prices`} of linked records
            (yours, not created by cspsync) would change. Sync asks you to confirm{" "}
            {pending === 1 ? "it" : "them"} first:
          </p>
          <PriceChangeList confirmation={preview.priceConfirmation} currency={currency} />
        </Notice>
      )}
      {preview.items.length === 0 ? (
        <EmptyState title="No products to sync.">
          <p>Import billing data{preview.mode === "in-use" ? " and map customers" : ""} first.</p>
        </EmptyState>
      ) : (
        <table className="table responsive products">
          <caption className="visually-hidden">Planned action per product</caption>
          <thead>
            <tr>
              <th scope="col">Product</th>
              <th scope="col">Action</th>
              <th scope="col">PSA record</th>
              <th scope="col" title={`Prices and costs: ${UNIT_MONEY_TITLE}`}>
                Details (per unit)
              </th>
            </tr>
          </thead>
          <tbody>
            {preview.items.map((item) => (
              <tr key={item.key} data-product={item.key}>
                <th scope="row" data-label="Product">
                  {item.name}
                  <span className="block small muted">{item.key}</span>
                  <span className="block small muted" data-kind={item.kind}>
                    {item.kindLabel}
                  </span>
                </th>
                <td data-label="Action">
                  <Badge tone={ACTION_TONES[item.action]}>{ACTION_LABELS[item.action]}</Badge>
                </td>
                <td data-label="PSA record">
                  <RecordCell item={item} currency={currency} />
                </td>
                <td data-label="Details">
                  <PlannedChanges item={item} currency={currency} />
                  {item.notes.map((note) => (
                    <span key={note} className="block small muted">
                      {note}
                    </span>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/**
 * A run item's result: the written price and cost as formatted amounts from its structured fields; the server's
 * message (meant for the command line) only where there are no amounts, such as a conflict or a failure.
 */
function WrittenAmounts({ item, currency }: { item: ProductRunItem; currency: string | null }) {
  const { amounts } = item;
  if (!amounts) return <>{[item.message, ...item.notes].filter(Boolean).join("; ")}</>;
  return (
    <>
      {amounts.created && <span className="block">Created</span>}
      {amounts.price && (
        <span className="block" data-change="price">
          Price {amounts.created ? "" : `${unitMoney(amounts.price.from, currency)} → `}
          {unitMoney(amounts.price.to, currency)}
          {amounts.price.confirmed ? " (confirmed)" : ""}
        </span>
      )}
      {amounts.cost && (
        <span className="block" data-change="cost">
          Cost {amounts.created ? "" : `${unitMoney(amounts.cost.from, currency)} → `}
          {unitMoney(amounts.cost.to, currency)}
        </span>
      )}
      {/* The linked sell-price sentence repeats the price above with raw numbers. */}
      {item.notes
        .filter((note) => !note.startsWith("sell price "))
        .map((note) => (
          <span key={note} className="block small muted">
            {note}
          </span>
        ))}
    </>
  );
}

function RunItems({ detail, currency }: { detail: ProductRunDetail; currency: string | null }) {
  const { run, items } = detail;
  return (
    <section className="panel" aria-labelledby={`product-run-${run.id}`} role="status">
      <h2 id={`product-run-${run.id}`}>
        Product sync of {formatInstant(run.startedAt)}: <RunStatusBadge status={run.status} />
      </h2>
      <p className="muted">
        {formatNumber(run.written)} written · {formatNumber(run.unchanged)} unchanged ·{" "}
        {formatNumber(run.conflicts)} conflicts · {formatNumber(run.failed)} failed
      </p>
      {run.message && <ErrorMessage error={run.message} />}
      {items.length > 0 && (
        <table className="table responsive products">
          <caption className="visually-hidden">Result per product</caption>
          <thead>
            <tr>
              <th scope="col">Product</th>
              <th scope="col">Action</th>
              <th scope="col">Result</th>
              <th scope="col">PSA id</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {items.map((item) => (
              <tr key={item.sequence} data-product={item.key}>
                <th scope="row" data-label="Product">
                  {item.name}
                  <span className="block small muted">{item.key}</span>
                  {item.kind === "charge-product" && (
                    <span className="block small muted" data-kind={item.kind}>
                      Product (for contract charges)
                    </span>
                  )}
                </th>
                <td data-label="Action">{ACTION_LABELS[item.action]}</td>
                <td data-label="Result">
                  <Badge tone={STATUS_TONES[item.status]}>{item.status}</Badge>
                </td>
                <td data-label="PSA id">{item.recordId ?? "—"}</td>
                <td data-label="Details">
                  <WrittenAmounts item={item} currency={currency} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function History({ runs, onOpen }: { runs: ProductRun[] | undefined; onOpen: (id: string) => void }) {
  if (!runs) return <Loading label="Loading product sync history…" />;
  if (runs.length === 0)
    return (
      <EmptyState title="No product sync has run yet.">
        <p>Runs appear here after “Sync products” or the daily check.</p>
      </EmptyState>
    );
  return (
    <table className="table responsive runs">
      <caption className="visually-hidden">Product sync runs, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Started</th>
          <th scope="col">Trigger</th>
          <th scope="col">Mode</th>
          <th scope="col">Status</th>
          <th scope="col" className="num">
            Written
          </th>
          <th scope="col" className="num">
            Unchanged
          </th>
          <th scope="col" className="num">
            Conflicts
          </th>
          <th scope="col" className="num">
            Failed
          </th>
          <th scope="col">Duration</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((run) => (
          <tr key={run.id}>
            <th scope="row" data-label="Started">
              <button type="button" className="link-button" onClick={() => onOpen(run.id)}>
                {formatInstant(run.startedAt)}
              </button>
            </th>
            <td data-label="Trigger">{run.trigger}</td>
            <td data-label="Mode">{run.mode}</td>
            <td data-label="Status">
              <RunStatusBadge status={run.status} />
            </td>
            <td data-label="Written" className="num">
              {formatNumber(run.written)}
            </td>
            <td data-label="Unchanged" className="num">
              {formatNumber(run.unchanged)}
            </td>
            <td data-label="Conflicts" className="num">
              {formatNumber(run.conflicts)}
            </td>
            <td data-label="Failed" className="num">
              {formatNumber(run.failed)}
            </td>
            <td data-label="Duration">{formatDuration(run.startedAt, run.finishedAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The price changes a Sync would write on linked records; Sync goes ahead only when a person confirms them. */
function ConfirmPriceChanges({
  confirmation,
  currency,
  stale,
  onConfirm,
  onCancel,
}: {
  confirmation: PriceConfirmation;
  stale: boolean;
  onConfirm: () => void;
  onCancel: () => void;
  currency: string | null;
}) {
  const count = confirmation.changes.length;
  const decreases = confirmation.changes.filter((c) => c.direction === "decrease").length;
  return (
    <Modal title="Change sell prices of linked records?" onClose={onCancel} wide>
      {stale && (
        <Notice kind="warning">
          The price changes are not the ones shown before (the billing data or the PSA changed). Check them
          again.
        </Notice>
      )}
      <p>
        These {count === 1 ? "record was" : `${formatNumber(count)} records were`} in the PSA before cspsync
        linked {count === 1 ? "it" : "them"}: the sell {count === 1 ? "price is" : "prices are"} yours.
        {decreases > 0 &&
          ` ${decreases === 1 ? "One price goes" : `${formatNumber(decreases)} prices go`} down to the billing data's.`}
      </p>
      <PriceChangeList confirmation={confirmation} currency={currency} />
      <p className="muted">Cancel leaves every price as it is and writes nothing.</p>
      <div className="form-actions">
        <button type="button" className="button secondary" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" className="button primary" onClick={onConfirm}>
          Change {count === 1 ? "the price" : `${formatNumber(count)} prices`} and sync
        </button>
      </div>
    </Modal>
  );
}

/** The price changes a refused sync (409) lists, if that is why it was refused. */
function priceConfirmationOf(error: unknown): PriceConfirmation | null {
  if (!(error instanceof ApiError) || error.status !== 409) return null;
  const body = error.body as { priceConfirmation?: PriceConfirmation } | null;
  return body?.priceConfirmation ?? null;
}

/** Product catalog sync of one connection: settings, preview, Sync products, and the history. */
export function ProductsPage({ id }: { id: string }) {
  const { isAdmin } = useSession();
  const connection = useApiQuery<{ connection: ConnectionView }>(`/api/connections/${id}`);
  const runs = useApiQuery<{ runs: ProductRun[] }>(`/api/connections/${id}/products/runs`);
  const [preview, setPreview] = useState<ProductPreview | null>(null);
  const [detail, setDetail] = useState<ProductRunDetail | null>(null);
  const c = connection.data?.connection;
  useDocumentTitle(c ? `${c.name} · Products` : "Products");
  const base = `/api/connections/${id}/products`;
  const invalidate = useInvalidate();
  const load = useAction(async () => {
    setDetail(null);
    setPreview((await api.get<{ preview: ProductPreview }>(`${base}/preview`)).preview);
  });
  const [confirming, setConfirming] = useState<{ confirmation: PriceConfirmation; stale: boolean } | null>(
    null,
  );
  const syncNow = async (fingerprint?: string) => {
    try {
      const body = fingerprint ? { confirmPriceChanges: fingerprint } : {};
      const done = await api.post<ProductRunDetail>(`${base}/sync`, body);
      setPreview(null);
      setDetail(done);
      invalidate(`${base}/runs`, "/api/dashboard");
    } catch (error) {
      // Sell-price changes on linked records nobody confirmed (or that changed since): ask, write nothing.
      const confirmation = priceConfirmationOf(error);
      if (!confirmation) throw error;
      setConfirming({ confirmation, stale: fingerprint !== undefined });
    }
  };
  const sync = useAction(async () => {
    setDetail(null);
    if (c?.settings.linkedPriceUpdates === "confirm") {
      // Show what would change first; the sync then carries the confirmation of exactly these changes.
      const fresh = (await api.get<{ preview: ProductPreview }>(`${base}/preview`)).preview;
      setPreview(fresh);
      if (fresh.priceConfirmation.changes.length > 0) {
        setConfirming({ confirmation: fresh.priceConfirmation, stale: false });
        return;
      }
    }
    await syncNow();
  });
  const confirm = useAction(async (fingerprint: string) => {
    setConfirming(null);
    await syncNow(fingerprint);
  });
  const open = useAction(async (runId: string) => {
    setPreview(null);
    setDetail(await api.get<ProductRunDetail>(`${base}/runs/${encodeURIComponent(runId)}`));
  });
  // Catalog prices are in the billing data's currency (the one currency of the imported invoices).
  const currency = useFallbackCurrency(preview !== null || confirming !== null || detail !== null);
  const on = c && c.settings.productSyncMode !== undefined && c.settings.productSyncMode !== "off";
  const busy = load.busy || sync.busy || confirm.busy;
  const error = load.error ?? sync.error ?? confirm.error ?? open.error;

  return (
    <>
      <PageHeader title={c ? `${c.name} — Products` : "Products"} />
      <ConnectionTabs id={id} current="products" />
      {connection.error && <ErrorMessage error={connection.error} retry={connection.refetch} />}
      {!c && connection.loading && <Loading label="Loading…" />}
      {c && (
        <>
          <p className="lead">
            The Microsoft products of the billing data as{" "}
            {c.vendor === "connectwise" ? "ConnectWise catalog items" : "Autotask PC_<SKU> services"} on{" "}
            {VENDOR_LABELS[c.vendor]}. Nothing is ever deleted.
          </p>
          <SettingsForm connection={c} />
          <div className="form-actions">
            {!on && <p className="hint grow">Choose a product sync mode and save to preview or sync.</p>}
            <button
              type="button"
              className="button secondary"
              disabled={!on || busy}
              onClick={() => void load.run()}
            >
              {load.busy ? "Previewing…" : "Preview"}
            </button>
            {isAdmin && (
              <button
                type="button"
                className="button primary"
                disabled={!on || busy}
                onClick={() => void sync.run()}
              >
                {sync.busy || confirm.busy ? "Syncing…" : "Sync products"}
              </button>
            )}
          </div>
          {error && <ErrorMessage error={error} />}
          {confirming && (
            <ConfirmPriceChanges
              currency={currency}
              confirmation={confirming.confirmation}
              stale={confirming.stale}
              onConfirm={() => void confirm.run(confirming.confirmation.fingerprint)}
              onCancel={() => setConfirming(null)}
            />
          )}
          {preview && <PreviewTable preview={preview} currency={currency} />}
          {detail && <RunItems detail={detail} currency={currency} />}
          <section aria-labelledby="product-history">
            <h2 id="product-history">Product sync history</h2>
            {runs.error && <ErrorMessage error={runs.error} retry={runs.refetch} />}
            <History runs={runs.data?.runs} onOpen={(runId) => void open.run(runId)} />
          </section>
        </>
      )}
    </>
  );
}
