"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { formatDistanceToNowStrict } from "date-fns";
import { useState } from "react";
import { adminApi } from "@/components/admin/admin-api";

type Key = { id: string; name: string; prefix: string; scopes: string[]; createdAt: string; lastUsedAt: string | null; revokedAt: string | null };

/** Service keys: create (the key is shown once), see when each was last used, revoke. */
export function ServiceKeysAdmin() {
  const client = useQueryClient();
  const keys = useQuery({ queryKey: ["admin", "keys"], queryFn: () => adminApi<{ keys: Key[] }>("/service-keys") });
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>(["notify"]);
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const refresh = () => client.invalidateQueries({ queryKey: ["admin", "keys"] });

  const create = async () => {
    setError(null);
    try {
      const result = await adminApi<{ key: string; name: string }>("/service-keys", { method: "POST", body: JSON.stringify({ name, scopes }) });
      setCreated(result);
      setName("");
      void refresh();
    } catch (caught) {
      setError((caught as Error).message);
    }
  };
  const revoke = async (key: Key) => {
    if (!window.confirm(`Revoke "${key.name}"? Services using it stop working within seconds.`)) return;
    try {
      await adminApi(`/service-keys/${key.id}`, { method: "DELETE" });
      void refresh();
    } catch (caught) {
      setError((caught as Error).message);
    }
  };

  return (
    <div className="space-y-6">
      <form
        className="flex flex-wrap items-end gap-3 text-sm"
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <label className="flex flex-col gap-1">
          Name
          <input required value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. billing service" className="rounded-md border border-slate-300 bg-transparent px-2 py-1 dark:border-slate-700" />
        </label>
        <fieldset className="flex gap-3">
          <legend className="sr-only">Scopes</legend>
          {["notify", "admin"].map((scope) => (
            <label key={scope} className="flex items-center gap-1">
              <input type="checkbox" className="accent-brand-600" checked={scopes.includes(scope)} onChange={(e) => setScopes((s) => (e.target.checked ? [...s, scope] : s.filter((x) => x !== scope)))} />
              {scope}
            </label>
          ))}
        </fieldset>
        <button type="submit" disabled={!name || scopes.length === 0} className="rounded-md bg-brand-600 px-3 py-1.5 font-medium text-white disabled:opacity-50">
          Create key
        </button>
      </form>
      {error && (
        <p role="alert" className="text-sm text-red-700 dark:text-red-300">
          {error}
        </p>
      )}
      {created && (
        <div role="status" className="rounded-lg border border-amber-300 bg-amber-50 p-3 text-sm dark:border-amber-700 dark:bg-amber-950">
          <p className="font-medium">Key for “{created.name}”: copy it now, it is not shown again.</p>
          <code data-testid="new-key" className="mt-1 block break-all rounded bg-white px-2 py-1 dark:bg-slate-900">
            {created.key}
          </code>
          <button type="button" className="mt-2 text-xs underline" onClick={() => void navigator.clipboard?.writeText(created.key)}>
            Copy
          </button>
        </div>
      )}
      <table className="w-full text-sm">
        <thead>
          <tr className="text-left text-xs uppercase tracking-wide text-slate-500">
            <th className="py-2 font-medium">Name</th>
            <th className="font-medium">Key</th>
            <th className="font-medium">Scopes</th>
            <th className="font-medium">Last used</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {keys.data?.keys.map((k) => (
            <tr key={k.id} className={`border-t border-slate-200 dark:border-slate-800 ${k.revokedAt ? "text-slate-400" : ""}`}>
              <td className="py-2">{k.name}</td>
              <td className="font-mono text-xs">{k.prefix}…</td>
              <td>{k.scopes.join(", ")}</td>
              <td>{k.lastUsedAt ? formatDistanceToNowStrict(new Date(k.lastUsedAt), { addSuffix: true }) : "never"}</td>
              <td className="text-right">
                {k.revokedAt ? (
                  "revoked"
                ) : (
                  <button type="button" className="text-red-700 underline dark:text-red-300" onClick={() => void revoke(k)}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="text-xs text-slate-500">The key in the SERVICE_API_KEY environment variable is not listed: it always works, with every scope.</p>
    </div>
  );
}
