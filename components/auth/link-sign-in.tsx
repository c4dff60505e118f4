"use client";

import { useEffect, useState } from "react";

/**
 * Finishes a one-time sign-in link: the token is in the URL fragment (never sent to the server by
 * the browser on its own); one click posts it, so link previews and scanners cannot use it up.
 */
export function LinkSignIn({ failed }: { failed: boolean }) {
  const [token, setToken] = useState<string | null>(null);
  useEffect(() => {
    const value = window.location.hash.slice(1);
    if (value) {
      setToken(value);
      // Out of the address bar and the history.
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
    }
  }, []);
  return (
    <div className="mt-6 space-y-4 text-sm">
      {failed && (
        <p role="alert" className="rounded-md bg-red-50 p-3 text-red-800 dark:bg-red-950 dark:text-red-200">
          That sign-in link was already used or has expired. Ask for a new one.
        </p>
      )}
      {token ? (
        <form method="post" action="/auth/link">
          <input type="hidden" name="token" value={token} />
          <button type="submit" className="rounded-lg bg-brand-600 px-4 py-2 font-medium text-white hover:bg-brand-700">
            Sign in
          </button>
        </form>
      ) : (
        <p className="text-slate-600 dark:text-slate-300">
          Admins sign in with a one-time link. On the server, run <code className="rounded bg-slate-100 px-1 dark:bg-slate-800">npm run admin:link -- &lt;your user id&gt;</code> and open the
          link it prints within 15 minutes.
        </p>
      )}
    </div>
  );
}
