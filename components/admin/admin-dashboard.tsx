"use client";

import { useState } from "react";
import { TypesAdmin } from "@/components/admin/types-admin";
import { ServiceKeysAdmin } from "@/components/admin/service-keys-admin";
import { ActivityAdmin, DeadLettersAdmin, LocalOutboxAdmin, SuppressionsAdmin } from "@/components/admin/delivery-admin";

const TABS = [
  { id: "types", label: "Types and templates" },
  { id: "keys", label: "Service keys" },
  { id: "activity", label: "Activity" },
  { id: "dead", label: "Dead letters" },
  { id: "suppressions", label: "Suppressed addresses" },
  { id: "outbox", label: "Local outbox" },
] as const;

/** The admin dashboard: notification types with their templates, and service keys. */
export function AdminDashboard() {
  const [tab, setTab] = useState<(typeof TABS)[number]["id"]>("types");
  return (
    <div className="px-4 py-4">
      <div role="tablist" aria-label="Admin" className="mb-5 flex gap-1 overflow-x-auto border-b border-slate-200 dark:border-slate-800">
        {TABS.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            aria-selected={tab === t.id}
            onClick={() => setTab(t.id)}
            className={`-mb-px border-b-2 px-3 py-2 text-sm ${tab === t.id ? "border-brand-600 font-medium" : "border-transparent text-slate-500"}`}
          >
            {t.label}
          </button>
        ))}
      </div>
      {tab === "types" && <TypesAdmin />}
      {tab === "keys" && <ServiceKeysAdmin />}
      {tab === "activity" && <ActivityAdmin />}
      {tab === "dead" && <DeadLettersAdmin />}
      {tab === "suppressions" && <SuppressionsAdmin />}
      {tab === "outbox" && <LocalOutboxAdmin />}
    </div>
  );
}
