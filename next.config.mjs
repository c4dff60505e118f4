/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // `npm run typecheck` (tsc over the whole project) runs before every build in CI.
  typescript: { ignoreBuildErrors: true },
  // Server-only packages that must not be bundled (native bits, wasm, worker threads).
  serverExternalPackages: ["pino", "bullmq", "ioredis", "pg", "@prisma/adapter-pg", "@socket.io/redis-emitter"],
};

export default nextConfig;
