# The application image: every part (web node, relay, fan-out and channel workers, the proxy) runs
# from it with a different command (see docker-compose.yml). CI has no Docker: `npm run test:compose`
# carries out these steps without it and runs the compose services from the result
# (tests/compose/docker-emulation.ts), so only the instructions used here are supported there.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NEXT_TELEMETRY_DISABLED=1 NODE_ENV=production
# npm ci runs the postinstall `prisma generate`, which needs the schema and the CLI's configuration.
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma ./prisma
RUN npm ci --include=dev
COPY . .
RUN npm run build
EXPOSE 3000
CMD ["npx", "tsx", "server.ts"]
