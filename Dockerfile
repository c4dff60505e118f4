# The application image: every part (web node, relay, fan-out and channel workers, the proxy) runs
# from it with a different command (see docker-compose.yml). Not built by CI here (no registry access
# for base images on the build machines); `npm run start:cluster` is the tested way to run the same
# layout on one machine.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NEXT_TELEMETRY_DISABLED=1 NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --include=dev
COPY . .
RUN npm run build
EXPOSE 3000
CMD ["npx", "tsx", "server.ts"]
