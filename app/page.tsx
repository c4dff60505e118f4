export default function HomePage() {
  return (
    <main className="mx-auto max-w-2xl px-6 py-16">
      <h1 className="text-3xl font-semibold tracking-tight">Notify</h1>
      <p className="mt-4 text-slate-600 dark:text-slate-300">
        A self-hosted notification system on PostgreSQL and Redis. Services send triggers to{" "}
        <code className="rounded bg-slate-100 px-1 dark:bg-slate-800">POST /api/v1/notifications</code>; each user gets a real-time inbox
        over Socket.IO. The inbox UI arrives next; the API is live.
      </p>
      <p className="mt-4">
        <a className="text-brand-600 underline" href="/api/health">
          Health
        </a>
      </p>
    </main>
  );
}
