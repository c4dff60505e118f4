// / – what Notify is; with DEMO_MODE, sign in as a demo user
import { env } from "@/server/env";
import { DEMO_USERS } from "@/server/users/demo-users";

export const dynamic = "force-dynamic";

export default function HomePage() {
  return (
    <main className="mx-auto max-w-2xl px-6 py-16">
      <h1 className="text-3xl font-semibold tracking-tight">Notify</h1>
      <p className="mt-4 text-slate-600 dark:text-slate-300">
        A self-hosted notification system on PostgreSQL and Redis. Services send triggers to{" "}
        <code className="rounded bg-slate-100 px-1 dark:bg-slate-800">POST /api/v1/notifications</code>; every user gets a real-time inbox
        that stays in sync on all their devices.
      </p>
      {env.DEMO_MODE ? (
        <section className="mt-10">
          <h2 className="text-lg font-semibold">Try it: sign in as a demo user</h2>
          <p className="mt-1 text-sm text-slate-500">Open two windows as the same or different users and watch notifications arrive live.</p>
          <div className="mt-4 flex flex-wrap gap-3">
            {DEMO_USERS.map((user) => (
              <form key={user.id} method="post" action="/auth/demo">
                <input type="hidden" name="userId" value={user.id} />
                <button type="submit" className="rounded-lg bg-brand-600 px-4 py-2 text-sm font-medium text-white hover:bg-brand-700">
                  Sign in as {user.name}
                </button>
              </form>
            ))}
          </div>
        </section>
      ) : (
        <p className="mt-6 text-sm text-slate-500">
          Sign in from your application: it mints a user token and posts it to <code>/auth/session</code>.
        </p>
      )}
      <p className="mt-10 text-sm">
        <a className="text-brand-600 underline" href="/api/health">
          Health
        </a>
      </p>
    </main>
  );
}
