"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";

const LINKS = [
  { href: "/admin", label: "Dashboard" },
  { href: "/admin/overview", label: "Overview" },
] as const;

/** The admin sections: the dashboard (types, keys, deliveries) and the live overview. */
export function AdminNav() {
  const pathname = usePathname();
  return (
    <nav aria-label="Admin sections" className="flex gap-1 px-4 pt-2 text-sm">
      {LINKS.map((link) => {
        const current = pathname === link.href;
        return (
          <Link
            key={link.href}
            href={link.href}
            aria-current={current ? "page" : undefined}
            className={`rounded-md px-2 py-1 ${current ? "bg-slate-100 font-medium dark:bg-slate-800" : "text-slate-500 hover:text-slate-900 dark:hover:text-white"}`}
          >
            {link.label}
          </Link>
        );
      })}
    </nav>
  );
}
