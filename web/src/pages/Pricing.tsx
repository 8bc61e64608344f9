import { useState, type FormEvent } from "react";
import { isDecimalText } from "../../../src/core/money.ts";
import { PRODUCT_KEY, priceRuleInputSchema } from "../../../src/core/price-rule-input.ts";
import {
  api,
  MOTION_LABELS,
  query,
  uploadPriceList,
  type ApiError,
  type BelowCostAction,
  type BillingProduct,
  type PlannedLineDetails,
  type PriceListEntry,
  type PriceListImport,
  type PriceSource,
  type SyncPlans,
  type ConnectionView,
  type CustomerNames,
  type HeldLine,
  type Motion,
  type PriceRule,
  type PriceRuleInput,
  type PriceRuleKind,
} from "../api.ts";
import {
  Badge,
  ConnectionTabs,
  describedBy,
  EmptyState,
  ErrorMessage,
  Field,
  Loading,
  Notice,
  PageHeader,
} from "../components.tsx";
import { formatDate, formatInstant, formatMoney, plural } from "../format.ts";
import {
  holdsApproved,
  useAction,
  useApiQuery,
  useDocumentTitle,
  useInvalidate,
  useSession,
  type Resource,
} from "../hooks.ts";
import { PRICE_SOURCE_LABELS, PricedByNote, useFallbackCurrency } from "../lines.tsx";

/**
 * Pricing of one connection: the price rules that set sell prices ahead of each mapping's strategy, what a
 * sell price below cost does (warn, or hold the line for approval), and the lines held for approval.
 * Viewers see everything; only admins change it (the API refuses them anyway).
 */
type Customers = Map<string, string>;

const KIND_LABELS: Record<PriceRuleKind, string> = {
  markup: "Markup % on cost",
  fixed: "Fixed sell price per unit",
};

const BELOW_COST: { value: BelowCostAction; label: string; hint: string }[] = [
  {
    value: "warn",
    label: "Warn",
    hint: "The line is written at its price and the run shows a warning.",
  },
  {
    value: "hold",
    label: "Hold for approval",
    hint: "The line is not written until someone approves it here; the next sync then writes it.",
  },
];

function priceLabel(rule: PriceRule, currency: string | null): string {
  return rule.kind === "markup"
    ? `Cost + ${rule.value} %`
    : `${formatMoney(rule.value, currency, { unit: true })} per unit`;
}

function effectiveLabel(rule: PriceRule): string {
  return rule.effectiveTo
    ? `${formatDate(rule.effectiveFrom)} – ${formatDate(rule.effectiveTo)}`
    : `From ${formatDate(rule.effectiveFrom)}`;
}

function scopeLabel(rule: PriceRule, customers: Customers): { product: string; customer: string } {
  return {
    product: rule.productKey
      ? rule.productName
        ? `${rule.productName} (${rule.productKey})`
        : rule.productKey
      : "Any product",
    customer: rule.customerTenantId
      ? (customers.get(rule.customerTenantId) ?? rule.customerTenantId)
      : "Any customer",
  };
}

/** The API's message for a field, without the field name it starts with ("value: value must …"). */
function fieldMessage(error: ApiError | null, field: string): string | null {
  if (!error || error.field !== field) return null;
  return error.message.startsWith(`${field}: `) ? error.message.slice(field.length + 2) : error.message;
}

function BelowCostForm({ connectionId }: { connectionId: string }) {
  const { isAdmin } = useSession();
  const current = useApiQuery<{ belowCost: BelowCostAction }>(`/api/connections/${connectionId}/pricing`);
  const [choice, setChoice] = useState<BelowCostAction | null>(null);
  const [saved, setSaved] = useState(false);
  const value = choice ?? current.data?.belowCost ?? "warn";
  // Holding (or not) changes which lines wait for approval.
  const save = useAction(
    async () => {
      await api.put(`/api/connections/${connectionId}/pricing`, { belowCost: value });
      return true;
    },
    { invalidates: [`/api/connections/${connectionId}/pricing`, `/api/connections/${connectionId}/holds`] },
  );
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSaved(false);
    if (await save.run()) setSaved(true);
  };
  if (current.error) return <ErrorMessage error={current.error} retry={current.refetch} />;
  if (!current.data) return <Loading label="Loading the below-cost setting…" />;
  return (
    <form className="form panel" onSubmit={(e) => void submit(e)} aria-labelledby="below-cost-title">
      <fieldset disabled={!isAdmin}>
        <legend id="below-cost-title">When a sell price is below cost</legend>
        {BELOW_COST.map((option) => (
          <label key={option.value} className={value === option.value ? "option selected" : "option"}>
            <input
              type="radio"
              name="below-cost"
              value={option.value}
              checked={value === option.value}
              aria-describedby={`below-cost-${option.value}-hint`}
              onChange={() => {
                setSaved(false);
                setChoice(option.value);
              }}
            />
            <span>
              <span className="option-title">{option.label}</span>
              <span className="option-detail" id={`below-cost-${option.value}-hint`}>
                {option.hint}
              </span>
            </span>
          </label>
        ))}
      </fieldset>
      {save.error && <ErrorMessage error={save.error} />}
      {saved && !save.error && (
        <Notice kind="success">
          Saved: below-cost lines are {value === "hold" ? "held for approval" : "written with a warning"}.
        </Notice>
      )}
      {isAdmin && (
        <div className="form-actions">
          <button type="submit" className="button secondary" disabled={save.busy}>
            {save.busy ? "Saving…" : "Save"}
          </button>
        </div>
      )}
    </form>
  );
}

type RuleDraft = {
  name: string;
  productKey: string;
  customerTenantId: string;
  kind: PriceRuleKind;
  value: string;
  effectiveFrom: string;
  effectiveTo: string;
};

const EMPTY_DRAFT: RuleDraft = {
  name: "",
  productKey: "",
  customerTenantId: "",
  kind: "markup",
  value: "",
  effectiveFrom: "",
  effectiveTo: "",
};

/**
 * The draft checked by the server's own rule schema (src/core/price-rule-input.ts, what the API parses a rule
 * with), so the form refuses exactly what the API would; the words are the form's, per field.
 */
function validateRule(draft: RuleDraft): Record<string, string> {
  const parsed = priceRuleInputSchema.safeParse(toInput(draft));
  const found: Record<string, string> = {};
  for (const issue of parsed.error?.issues ?? []) {
    const field = String(issue.path[0] ?? "rule");
    found[field] ??= ruleProblem(field, draft, issue.message);
  }
  return found;
}

function ruleProblem(field: string, draft: RuleDraft, message: string): string {
  switch (field) {
    case "productKey":
      return draft.productKey.trim()
        ? "Choose a product from the list, or enter ProductId:SkuId or AZURE-PLAN, e.g. CFQ7TTC0LCHC:0002."
        : "Enter a product, choose a customer, or both.";
    case "value":
      if (!isDecimalText(draft.value.trim()))
        return draft.kind === "markup"
          ? "Enter the markup as a number, e.g. 15."
          : "Enter the price, e.g. 19.50.";
      return draft.kind === "fixed"
        ? "A fixed price must not be negative."
        : "A markup must not be below -100 % (that would be a negative price).";
    case "effectiveFrom":
      return draft.effectiveFrom
        ? "Enter the first day as a date."
        : "Choose the first day the rule applies.";
    case "effectiveTo":
      return draft.effectiveTo && draft.effectiveFrom && draft.effectiveTo < draft.effectiveFrom
        ? "The last day must be on or after the first day."
        : "Enter the last day as a date.";
    default:
      return message;
  }
}

function toInput(draft: RuleDraft): PriceRuleInput {
  return {
    ...(draft.name.trim() ? { name: draft.name.trim() } : {}),
    productKey: draft.productKey.trim() || null,
    customerTenantId: draft.customerTenantId || null,
    kind: draft.kind,
    value: draft.value.trim(),
    effectiveFrom: draft.effectiveFrom,
    effectiveTo: draft.effectiveTo || null,
  };
}

/**
 * The billing data's products whose name holds the typed text, as "Product name — SKU name (ProductId:SkuId)";
 * choosing one puts its key in the product field. A typed key that names a product shows that product.
 */
function ProductMatches({ text, onChoose }: { text: string; onChoose: (key: string) => void }) {
  const q = text.trim();
  const found = useApiQuery<{ products: BillingProduct[] }>(
    q.length >= 2 ? `/api/billing-products${query({ q: PRODUCT_KEY.test(q) ? q.split(":")[0] : q })}` : null,
  );
  const products = q.length >= 2 ? (found.data?.products ?? []) : [];
  const exact = products.find((p) => p.productKey.toUpperCase() === q.toUpperCase());
  if (exact)
    return (
      <p className="muted" aria-live="polite">
        {exact.label}
      </p>
    );
  if (products.length === 0) return null;
  return (
    <div className="panel" aria-label="Matching products">
      <p className="muted">Products in the billing data:</p>
      <ul>
        {products.map((p) => (
          <li key={p.productKey}>
            <button type="button" className="button link" onClick={() => onChoose(p.productKey)}>
              {p.label}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

function AddRuleForm({
  connectionId,
  customers,
  onAdded,
}: {
  connectionId: string;
  customers: CustomerNames["customers"];
  onAdded: (rule: PriceRule) => void;
}) {
  const [draft, setDraft] = useState<RuleDraft>(EMPTY_DRAFT);
  const [problems, setProblems] = useState<Record<string, string>>({});
  const add = useAction(async (input: PriceRuleInput) => {
    const { rule } = await api.post<{ rule: PriceRule }>(
      `/api/connections/${connectionId}/price-rules`,
      input,
    );
    return rule;
  });
  const set = (key: keyof RuleDraft) => (value: string) => setDraft((d) => ({ ...d, [key]: value }));
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found = validateRule(draft);
    setProblems(found);
    add.setError(null);
    if (Object.keys(found).length > 0) return;
    const rule = await add.run(toInput(draft));
    if (rule) {
      setDraft(EMPTY_DRAFT);
      onAdded(rule);
    }
  };
  const error = (field: string) => problems[field] ?? fieldMessage(add.error, field);
  const fields = ["name", "productKey", "customerTenantId", "kind", "value", "effectiveFrom", "effectiveTo"];
  const general = add.error && !fields.includes(add.error.field ?? "") ? add.error : null;
  const input = (id: string, field: keyof RuleDraft, props: { hint?: boolean; type?: string } = {}) => (
    <input
      id={id}
      type={props.type ?? "text"}
      spellCheck={false}
      value={draft[field]}
      aria-invalid={error(field) ? true : undefined}
      aria-describedby={describedBy(id, props.hint ?? false, Boolean(error(field)))}
      onChange={(e) => set(field)(e.target.value)}
    />
  );
  return (
    <form className="form panel" onSubmit={(e) => void submit(e)} aria-labelledby="add-rule-title" noValidate>
      <h3 id="add-rule-title">Add a price rule</h3>
      <div className="row">
        <Field
          id="rule-product"
          label="Product"
          hint="Type a product name to search the billing data, or a ProductId, ProductId:SkuId or AZURE-PLAN. Empty: any product."
          error={error("productKey")}
        >
          {input("rule-product", "productKey", { hint: true })}
        </Field>
        <Field id="rule-customer" label="Customer" error={error("customerTenantId")}>
          <select
            id="rule-customer"
            value={draft.customerTenantId}
            aria-describedby={describedBy("rule-customer", false, Boolean(error("customerTenantId")))}
            onChange={(e) => set("customerTenantId")(e.target.value)}
          >
            <option value="">Any customer</option>
            {customers.map((c) => (
              <option key={c.tenantId} value={c.tenantId}>
                {c.name}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <ProductMatches text={draft.productKey} onChoose={set("productKey")} />
      <div className="row">
        <Field id="rule-kind" label="Price" error={error("kind")}>
          <select
            id="rule-kind"
            value={draft.kind}
            onChange={(e) => set("kind")(e.target.value as PriceRuleKind)}
          >
            {(Object.keys(KIND_LABELS) as PriceRuleKind[]).map((kind) => (
              <option key={kind} value={kind}>
                {KIND_LABELS[kind]}
              </option>
            ))}
          </select>
        </Field>
        <Field
          id="rule-value"
          label={draft.kind === "markup" ? "Markup %" : "Sell price per unit"}
          hint={
            draft.kind === "markup"
              ? "Percent on the distributor's cost, e.g. 15."
              : "Per seat for the term; prorated like the cost."
          }
          error={error("value")}
        >
          {input("rule-value", "value", { hint: true })}
        </Field>
      </div>
      <div className="row">
        <Field id="rule-from" label="Effective from" error={error("effectiveFrom")}>
          {input("rule-from", "effectiveFrom", { type: "date" })}
        </Field>
        <Field
          id="rule-to"
          label={
            <>
              Until <span className="muted">(optional)</span>
            </>
          }
          hint="The last day the rule applies. Empty: open-ended."
          error={error("effectiveTo")}
        >
          {input("rule-to", "effectiveTo", { hint: true, type: "date" })}
        </Field>
        <Field
          id="rule-name"
          label={
            <>
              Name <span className="muted">(optional)</span>
            </>
          }
          hint="Shown as “priced by rule …”. Empty: made from the scope and price."
          error={error("name")}
        >
          {input("rule-name", "name", { hint: true })}
        </Field>
      </div>
      {general && <ErrorMessage error={general} />}
      <div className="form-actions">
        <button type="submit" className="button primary" disabled={add.busy}>
          {add.busy ? "Adding…" : "Add rule"}
        </button>
      </div>
    </form>
  );
}

function RuleRow({
  rule,
  customers,
  currency,
  canEdit,
  onRemove,
}: {
  rule: PriceRule;
  customers: Customers;
  currency: string | null;
  canEdit: boolean;
  onRemove: (rule: PriceRule) => Promise<unknown>;
}) {
  const [confirming, setConfirming] = useState(false);
  const scope = scopeLabel(rule, customers);
  return (
    <tr data-rule={rule.name}>
      <th scope="row" data-label="Rule">
        {rule.name}
      </th>
      <td data-label="Product">
        <span className={rule.productKey ? "mono" : undefined}>{scope.product}</span>
      </td>
      <td data-label="Customer">{scope.customer}</td>
      <td data-label="Price">{priceLabel(rule, currency)}</td>
      <td data-label="Effective">{effectiveLabel(rule)}</td>
      {canEdit && (
        <td data-label="" className="actions">
          {confirming ? (
            <span className="confirm">
              <button
                type="button"
                className="button danger small"
                aria-label={`Confirm removing ${rule.name}`}
                onClick={() => void onRemove(rule)}
              >
                Remove
              </button>
              <button type="button" className="button secondary small" onClick={() => setConfirming(false)}>
                Keep
              </button>
            </span>
          ) : (
            <button
              type="button"
              className="button secondary small"
              aria-label={`Remove ${rule.name}`}
              onClick={() => setConfirming(true)}
            >
              Remove
            </button>
          )}
        </td>
      )}
    </tr>
  );
}

function RulesTable(props: {
  rules: PriceRule[];
  customers: Customers;
  currency: string | null;
  canEdit: boolean;
  onRemove: (rule: PriceRule) => Promise<unknown>;
}) {
  if (props.rules.length === 0)
    return (
      <EmptyState title="No price rules yet.">
        <p>Without a rule, each customer entry’s pricing strategy sets the sell price.</p>
      </EmptyState>
    );
  return (
    <table className="table responsive price-rules">
      <caption className="visually-hidden">Price rules of this connection</caption>
      <thead>
        <tr>
          <th scope="col">Rule</th>
          <th scope="col">Product</th>
          <th scope="col">Customer</th>
          <th scope="col">Price</th>
          <th scope="col">Effective</th>
          {props.canEdit && (
            <th scope="col">
              <span className="visually-hidden">Remove</span>
            </th>
          )}
        </tr>
      </thead>
      <tbody>
        {props.rules.map((rule) => (
          <RuleRow key={rule.id} rule={rule} {...props} />
        ))}
      </tbody>
    </table>
  );
}

function HoldStatus({ hold }: { hold: HeldLine }) {
  if (hold.status === "held") return <Badge tone="warn">Held</Badge>;
  return (
    <>
      <Badge tone="ok">Approved</Badge>
      <span className="block small">
        by {hold.approvedBy ?? "—"} on {formatInstant(hold.approvedAt)}
      </span>
      <span className="block small muted">The next sync writes it.</span>
    </>
  );
}

function HoldsTable({
  holds,
  currency,
  canEdit,
  busy,
  onApprove,
}: {
  holds: HeldLine[];
  currency: string | null;
  canEdit: boolean;
  busy: boolean;
  onApprove: (keys: string[]) => void;
}) {
  return (
    <table className="table responsive holds">
      <caption className="visually-hidden">Lines held for approval</caption>
      <thead>
        <tr>
          <th scope="col">Line</th>
          <th scope="col">Customer</th>
          <th scope="col" className="num">
            Unit cost
          </th>
          <th scope="col" className="num">
            Sell price
          </th>
          <th scope="col">Held</th>
          <th scope="col">Status</th>
          {canEdit && (
            <th scope="col">
              <span className="visually-hidden">Approve</span>
            </th>
          )}
        </tr>
      </thead>
      <tbody>
        {holds.map((hold) => (
          <tr key={hold.writeKey} data-write-key={hold.writeKey} data-status={hold.status}>
            <th scope="row" data-label="Line">
              {hold.description}
              <span className="block small muted">{MOTION_LABELS[hold.motion as Motion] ?? hold.motion}</span>
            </th>
            <td data-label="Customer">{hold.customerName ?? hold.customerTenantId}</td>
            <td data-label="Unit cost" className="num">
              {formatMoney(hold.unitCost, currency, { unit: true })}
            </td>
            <td data-label="Sell price" className="num">
              {formatMoney(hold.unitPrice, currency, { unit: true })}
              <PricedByNote pricedBy={hold.pricedBy} />
            </td>
            <td data-label="Held">{formatInstant(hold.heldAt)}</td>
            <td data-label="Status">
              <HoldStatus hold={hold} />
            </td>
            {canEdit && (
              <td data-label="" className="actions">
                {hold.status === "held" && (
                  <button
                    type="button"
                    className="button secondary small"
                    disabled={busy}
                    aria-label={`Approve ${hold.description}`}
                    onClick={() => onApprove([hold.writeKey])}
                  >
                    Approve
                  </button>
                )}
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Holds({
  connectionId,
  holds,
  currency,
}: {
  connectionId: string;
  holds: Resource<{ holds: HeldLine[] }>;
  currency: string | null;
}) {
  const { isAdmin } = useSession();
  const [notice, setNotice] = useState<string | null>(null);
  const approve = useAction(async (which: { writeKeys: string[] } | { all: true }) => {
    setNotice(null);
    const { approved } = await api.post<{ approved: HeldLine[] }>(
      `/api/connections/${connectionId}/holds/approve`,
      which,
    );
    setNotice(
      `${plural(approved.length, "line")} approved; the next sync writes ${approved.length === 1 ? "it" : "them"}.`,
    );
  }, holdsApproved(connectionId));
  const list = holds.data?.holds;
  const waiting = list?.filter((h) => h.status === "held").length ?? 0;
  return (
    <section aria-labelledby="holds-title">
      <div className="section-header">
        <h2 id="holds-title">Held for approval</h2>
        {isAdmin && waiting > 1 && (
          <button
            type="button"
            className="button secondary"
            disabled={approve.busy}
            onClick={() => void approve.run({ all: true })}
          >
            Approve all ({waiting})
          </button>
        )}
      </div>
      {holds.error && <ErrorMessage error={holds.error} retry={holds.refetch} />}
      {approve.error && <ErrorMessage error={approve.error} />}
      {notice && <Notice kind="success">{notice}</Notice>}
      {!list && holds.loading && <Loading label="Loading held lines…" />}
      {list && list.length === 0 && (
        <EmptyState title="No line is waiting for approval.">
          <p>With “Hold for approval”, lines that would sell below cost wait here until approved.</p>
        </EmptyState>
      )}
      {list && list.length > 0 && (
        <HoldsTable
          holds={list}
          currency={currency}
          canEdit={isAdmin}
          busy={approve.busy}
          onApprove={(keys) => void approve.run({ writeKeys: keys })}
        />
      )}
    </section>
  );
}

/** Microsoft's NCE price lists: upload one, see what is imported, search entries (docs/price-lists.md). */
/** A price list sets prices of lines not written yet, and the products it names can be priced by rules. */
const PRICE_LISTS_CHANGE = { invalidates: ["/api/price-lists", "/api/billing-products"] };

function PriceLists({ isAdmin, onImported }: { isAdmin: boolean; onImported: () => void }) {
  const imports = useApiQuery<{ imports: PriceListImport[] }>("/api/price-lists");
  const [file, setFile] = useState<File | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const [search, setSearch] = useState("");
  const [searched, setSearched] = useState<string | null>(null);
  const entries = useApiQuery<{ entries: PriceListEntry[] }>(
    searched ? `/api/price-lists/entries${query({ q: searched })}` : null,
  );
  const upload = useAction(async (chosen: File) => {
    setResult(null);
    const done = await uploadPriceList(chosen);
    const i = done.import;
    setResult(
      done.duplicate
        ? `${i.fileName} was already imported: nothing added.`
        : `Imported ${i.fileName}: ${i.market} ${i.currency}, ${plural(i.entryCount, "price")} (${done.added} new, ${done.replaced} replaced).`,
    );
    onImported();
  }, PRICE_LISTS_CHANGE);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (file) void upload.run(file);
  };
  const list = imports.data?.imports ?? [];
  return (
    <section aria-labelledby="price-lists-title">
      <h2 id="price-lists-title">Price lists</h2>
      <p className="lead">
        “Cost and retail” sells at the estimated retail price (ERP) of Microsoft’s new commerce license-based
        price list (Partner Center: Pricing → New commerce license-based → market → export; extract the .csv).
        Each month you import is kept; a charge takes the price in effect on its term start.
      </p>
      {imports.error && <ErrorMessage error={imports.error} retry={imports.refetch} />}
      {result && <Notice kind="success">{result}</Notice>}
      {upload.error && <ErrorMessage error={upload.error} />}
      {isAdmin && (
        <form className="form panel" onSubmit={submit} aria-label="Upload a price list">
          <Field id="price-list-file" label="Price list CSV">
            <input
              id="price-list-file"
              type="file"
              accept=".csv,text/csv"
              onChange={(e) => setFile(e.target.files?.[0] ?? null)}
            />
          </Field>
          <div className="form-actions">
            <button type="submit" className="button primary" disabled={!file || upload.busy}>
              {upload.busy ? "Importing…" : "Upload price list"}
            </button>
          </div>
        </form>
      )}
      {imports.data && list.length === 0 && (
        <EmptyState title="No price list imported">
          Cost and retail sells at the billing data’s list price, which is usually your cost.
        </EmptyState>
      )}
      {list.length > 0 && (
        <table className="table" aria-label="Imported price lists">
          <thead>
            <tr>
              <th scope="col">File</th>
              <th scope="col">Market</th>
              <th scope="col">Currency</th>
              <th scope="col">Prices effective</th>
              <th scope="col">Prices</th>
              <th scope="col">Imported</th>
            </tr>
          </thead>
          <tbody>
            {list.map((i) => (
              <tr key={i.id}>
                <td>{i.fileName}</td>
                <td>{i.market}</td>
                <td>{i.currency}</td>
                <td>
                  {formatDate(i.firstEffective)} – {formatDate(i.lastEffective)}
                </td>
                <td>{i.entryCount}</td>
                <td>{formatInstant(i.importedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form
        className="form"
        role="search"
        aria-label="Search the price lists"
        onSubmit={(e) => {
          e.preventDefault();
          setSearched(search.trim() || null);
        }}
      >
        <Field
          id="price-list-search"
          label="Find a price"
          hint="A product name, ProductId or ProductId:SkuId."
        >
          <input
            id="price-list-search"
            type="search"
            value={search}
            aria-describedby="price-list-search-hint"
            onChange={(e) => setSearch(e.target.value)}
          />
        </Field>
        <div className="form-actions">
          <button type="submit" className="button">
            Search
          </button>
        </div>
      </form>
      {entries.error && <ErrorMessage error={entries.error} />}
      {searched && entries.data && entries.data.entries.length === 0 && <p>No price list entry matches.</p>}
      {entries.data && entries.data.entries.length > 0 && (
        <table className="table" aria-label="Price list entries">
          <thead>
            <tr>
              <th scope="col">Product</th>
              <th scope="col">Term</th>
              <th scope="col">Billing plan</th>
              <th scope="col">Partner price</th>
              <th scope="col">ERP</th>
              <th scope="col">Seats</th>
              <th scope="col">Effective</th>
            </tr>
          </thead>
          <tbody>
            {entries.data.entries.map((e) => (
              <tr
                key={`${e.productId}:${e.skuId}:${e.termDuration}:${e.billingPlan}:${e.tierMin ?? ""}:${e.effectiveStart}`}
              >
                <td>
                  {e.skuTitle || e.productTitle} ({e.productId}:{e.skuId})
                </td>
                <td>{e.termDuration}</td>
                <td>{e.billingPlan}</td>
                <td>{formatMoney(e.unitPrice, e.currency, { unit: true })}</td>
                <td>{formatMoney(e.erpPrice, e.currency, { unit: true })}</td>
                <td>
                  {e.tierMin === null && e.tierMax === null ? "Any" : `${e.tierMin ?? ""}–${e.tierMax ?? ""}`}
                </td>
                <td>
                  {formatDate(e.effectiveStart)}
                  {e.effectiveEnd ? ` – ${formatDate(e.effectiveEnd)}` : " on"}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

type CheckedLine = PlannedLineDetails & { customerName: string; motion: Motion; source?: PriceSource };

/**
 * The lines the next sync would write, with where each price comes from, and those sold at or below cost
 * counted: a dry run, so it is what the sync would do now (nothing is written).
 */
function MarginCheck({
  connectionId,
  canRun,
  version,
  currency,
}: {
  connectionId: string;
  canRun: boolean;
  version: number;
  currency: string | null;
}) {
  const [lines, setLines] = useState<CheckedLine[] | null>(null);
  const [checkedAt, setCheckedAt] = useState<number | null>(null);
  const check = useAction(async () => {
    const plans = await api.post<SyncPlans>(`/api/connections/${connectionId}/sync`, { dryRun: true });
    setLines(
      plans.plans.flatMap((p) =>
        p.mappings.flatMap((m) =>
          m.plan.lines
            .map((l) => {
              const segment = l.segment as
                (PlannedLineDetails & { priceSource?: PriceSource }) | null | undefined;
              const priced =
                l.unitPrice !== undefined
                  ? l
                  : segment
                    ? { ...l, ...segment, description: l.description }
                    : l;
              return {
                ...priced,
                customerName: m.customerName,
                motion: p.motion,
                source: priced.priceSource,
                atOrBelowCost: priced.atOrBelowCost ?? false,
              } as CheckedLine;
            })
            .filter((l) => l.unitCost !== undefined),
        ),
      ),
    );
    setCheckedAt(version);
  });
  const flagged = lines?.filter((l) => l.atOrBelowCost) ?? [];
  const stale = lines !== null && checkedAt !== version;
  return (
    <section aria-labelledby="margin-title">
      <div className="section-header">
        <h2 id="margin-title">Lines at or below cost</h2>
        {canRun && (
          <button type="button" className="button" disabled={check.busy} onClick={() => void check.run()}>
            {check.busy ? "Checking…" : "Check the next sync’s prices"}
          </button>
        )}
      </div>
      <p className="muted">
        A dry run of every enabled customer entry: each line the next sync would write, its price and where
        the price comes from. Lines sold at or below cost are flagged; they are written, not held.
      </p>
      {check.error && <ErrorMessage error={check.error} />}
      {stale && <Notice kind="warning">The price lists changed since this check; check again.</Notice>}
      {lines && (
        <p aria-live="polite">
          {plural(flagged.length, "line")} of {lines.length} at or below cost.
        </p>
      )}
      {lines && lines.length > 0 && (
        <table className="table" aria-label="Prices of the next sync">
          <thead>
            <tr>
              <th scope="col">Customer</th>
              <th scope="col">Line</th>
              <th scope="col">Unit cost</th>
              <th scope="col">Unit price</th>
              <th scope="col">Price from</th>
              <th scope="col">Margin</th>
            </tr>
          </thead>
          <tbody>
            {lines.map((l, index) => (
              <tr key={`${l.writeKey ?? index}`}>
                <td>{l.customerName}</td>
                <td>
                  {l.description} <span className="muted">({MOTION_LABELS[l.motion]})</span>
                </td>
                <td>{formatMoney(l.unitCost, l.currency ?? currency, { unit: true })}</td>
                <td>
                  {l.unitPrice === null
                    ? "PSA price"
                    : formatMoney(l.unitPrice, l.currency ?? currency, { unit: true })}
                </td>
                <td>{l.source ? PRICE_SOURCE_LABELS[l.source] : "—"}</td>
                <td>
                  {l.atOrBelowCost ? (
                    <Badge tone="warn">At or below cost</Badge>
                  ) : (
                    <Badge tone="ok">Above cost</Badge>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** The Customer picker lists at most this many names (the API's largest page). */
const CUSTOMER_PICKER_LIMIT = 5000;

export function PricingPage({ id }: { id: string }) {
  const { isAdmin } = useSession();
  const connection = useApiQuery<{ connection: ConnectionView }>(`/api/connections/${id}`);
  const rules = useApiQuery<{ rules: PriceRule[] }>(`/api/connections/${id}/price-rules`);
  // Names only, like the other Customer pickers: the unpaged list of customers with their mapping entries was
  // 2 MB and 69 MB of the server's peak at 2,000 customers (BENCHMARKS.md, serve).
  const customerList = useApiQuery<CustomerNames>(`/api/customers${query({ limit: CUSTOMER_PICKER_LIMIT })}`);
  const [notice, setNotice] = useState<string | null>(null);
  const [priceListVersion, setPriceListVersion] = useState(0);
  const holds = useApiQuery<{ holds: HeldLine[] }>(`/api/connections/${id}/holds`);
  const currency = useFallbackCurrency(true);
  const c = connection.data?.connection;
  useDocumentTitle(c ? `${c.name} · Pricing` : "Pricing");
  const invalidate = useInvalidate();
  const rulesChange = { invalidates: [`/api/connections/${id}/price-rules`] };
  const customers: Customers = new Map(customerList.data?.customers.map((x) => [x.tenantId, x.name]));
  const remove = useAction(async (rule: PriceRule) => {
    setNotice(null);
    await api.delete(`/api/connections/${id}/price-rules/${encodeURIComponent(rule.id)}`);
    setNotice(`Removed the rule ${rule.name}.`);
  }, rulesChange);

  return (
    <>
      <PageHeader title={c ? `${c.name} — Pricing` : "Pricing"} />
      <ConnectionTabs id={id} current="pricing" />
      {connection.error && <ErrorMessage error={connection.error} retry={connection.refetch} />}
      <p className="lead">
        Price rules set the sell price of matching lines on every billing motion, ahead of each customer
        entry’s pricing strategy: the most specific rule wins (customer and product, then product, then
        customer), then the latest start. Lines already written keep their price.
      </p>
      {!isAdmin && <Notice>You can view pricing; changing it needs an admin.</Notice>}
      <BelowCostForm connectionId={id} />
      <section aria-labelledby="rules-title">
        <h2 id="rules-title">Price rules</h2>
        {rules.error && <ErrorMessage error={rules.error} retry={rules.refetch} />}
        {remove.error && <ErrorMessage error={remove.error} />}
        {notice && <Notice kind="success">{notice}</Notice>}
        {!rules.data && rules.loading && <Loading label="Loading price rules…" />}
        {rules.data && (
          <RulesTable
            rules={rules.data.rules}
            customers={customers}
            currency={currency}
            canEdit={isAdmin}
            onRemove={(rule) => remove.run(rule)}
          />
        )}
        {isAdmin && (
          <AddRuleForm
            connectionId={id}
            customers={customerList.data?.customers ?? []}
            onAdded={(rule) => {
              setNotice(`Added the rule ${rule.name}.`);
              invalidate(...rulesChange.invalidates);
            }}
          />
        )}
      </section>
      <Holds connectionId={id} holds={holds} currency={currency} />
      <PriceLists isAdmin={isAdmin} onImported={() => setPriceListVersion((v) => v + 1)} />
      <MarginCheck connectionId={id} canRun={isAdmin} version={priceListVersion} currency={currency} />
    </>
  );
}
