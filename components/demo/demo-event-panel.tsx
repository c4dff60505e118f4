"use client";

import { useState } from "react";
import { DEMO_USERS as users } from "@/server/users/demo-users";


const types = ["like", "comment", "follow", "mention", "system"] as const;

/** DEMO_MODE: fire sample events at any demo user, to watch them arrive live in another window. */
export function DemoEventPanel({ userId }: { userId: string }) {
  const [to, setTo] = useState<string>(users.find((u) => u.id !== userId)?.id ?? "bob");
  const [status, setStatus] = useState<string | null>(null);
  const send = async (type: (typeof types)[number]) => {
    setStatus(null);
    const response = await fetch("/api/demo/events", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ type, to }) });
    setStatus(response.ok ? `Sent a ${type} to ${to}.` : "Could not send the event.");
  };
  return (
    <aside aria-label="Demo events" className="mx-4 mb-4 rounded-xl border border-dashed border-brand-500/50 p-3 text-sm">
      <p className="font-medium">Demo: send an event</p>
      <div className="mt-2 flex flex-wrap items-center gap-2">
        <label className="flex items-center gap-1">
          to
          <select value={to} onChange={(e) => setTo(e.target.value)} className="rounded border border-slate-300 bg-transparent px-1 py-0.5 dark:border-slate-700">
            {users.map((u) => (
              <option key={u.id} value={u.id}>
                {u.name}
                {u.id === userId ? " (you)" : ""}
              </option>
            ))}
          </select>
        </label>
        {types.map((type) => (
          <button key={type} type="button" onClick={() => void send(type)} className="rounded-md bg-slate-100 px-2.5 py-1 capitalize hover:bg-slate-200 dark:bg-slate-800 dark:hover:bg-slate-700">
            {type}
          </button>
        ))}
        {status && <span className="text-slate-500">{status}</span>}
      </div>
    </aside>
  );
}
