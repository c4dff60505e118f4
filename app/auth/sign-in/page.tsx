// /auth/sign-in – where a one-time admin sign-in link lands (`npm run admin:link`)
import { LinkSignIn } from "@/components/auth/link-sign-in";

export default async function SignInPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { error } = await searchParams;
  return (
    <main className="mx-auto max-w-md px-6 py-16">
      <h1 className="text-2xl font-semibold tracking-tight">Sign in to Notify</h1>
      <LinkSignIn failed={error === "link"} />
    </main>
  );
}
