import { useState } from "react";
import { query, type PsaOption, type PsaOptionKind } from "./api.ts";
import { ErrorMessage } from "./components.tsx";
import { useDebounced, useApiQuery } from "./hooks.ts";

function optionLabel(option: PsaOption): string {
  return `${option.name} (${option.id})${option.detail ? ` — ${option.detail}` : ""}`;
}

/**
 * Picks a PSA record (billing code, product, vendor, subcategory, product type) by name instead of typing its
 * id: a filter box narrows the PSA's list, the list shows "Name (id)", and the stored id stays visible. When
 * the PSA cannot be listed the id can still be typed.
 */
export function PsaPicker({
  connectionId,
  kind,
  id,
  label,
  value,
  onChange,
  describedBy,
  disabled,
}: {
  connectionId: string;
  kind: PsaOptionKind;
  /** The select's id (a Field's label points at it); the filter box is `${id}-filter`. */
  id: string;
  label: string;
  /** The stored id, "" when not set. */
  value: string;
  onChange: (id: string) => void;
  describedBy?: string | undefined;
  disabled?: boolean;
}) {
  const [filter, setFilter] = useState("");
  const q = useDebounced(filter.trim(), 250);
  const list = useApiQuery<{ options: PsaOption[] }>(
    `/api/connections/${connectionId}/psa/options/${kind}${query({ q })}`,
  );
  const options = list.data?.options ?? [];
  const stored = value !== "" && !options.some((o) => o.id === value);
  if (list.error && !list.data)
    return (
      <>
        <ErrorMessage error={list.error} retry={list.refetch} />
        <input
          id={id}
          type="text"
          inputMode="numeric"
          value={value}
          aria-describedby={describedBy}
          disabled={disabled}
          onChange={(e) => onChange(e.target.value.trim())}
        />
      </>
    );
  return (
    <div className="psa-picker">
      <input
        id={`${id}-filter`}
        type="search"
        autoComplete="off"
        placeholder={`Filter ${label.toLowerCase()} by name`}
        aria-label={`Filter ${label.toLowerCase()} by name`}
        aria-controls={id}
        value={filter}
        disabled={disabled}
        onChange={(e) => setFilter(e.target.value)}
      />
      <select
        id={id}
        value={value}
        aria-describedby={describedBy}
        aria-busy={list.loading}
        disabled={disabled}
        onChange={(e) => onChange(e.target.value)}
      >
        <option value="">— None —</option>
        {stored && <option value={value}>#{value} (stored; not in the list shown)</option>}
        {options.map((o) => (
          <option key={o.id} value={o.id}>
            {optionLabel(o)}
          </option>
        ))}
      </select>
      <p className="hint small">
        {list.loading && !list.data
          ? "Loading the list from the PSA…"
          : `${options.length === 1 ? "1 choice" : `${options.length} choices`}${q ? ` matching “${q}”` : ""}`}
        {value !== "" && (
          <>
            {" "}
            · Stored id: <code data-testid={`${id}-stored`}>{value}</code>
          </>
        )}
      </p>
    </div>
  );
}
