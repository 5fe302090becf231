# The StreamHouse agent image: docker compose builds it from this directory.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
COPY tsconfig.json ./
COPY protocol ./protocol
COPY storage ./storage
COPY metadata ./metadata
COPY drizzle ./drizzle
COPY src ./src
COPY scripts ./scripts
COPY bench ./bench
COPY test ./test
RUN npm ci && npm prune --omit=dev
ENV STREAMHOUSE_DATA_DIR=/data
# /metrics, /healthz, /readyz reachable from outside the container (the embedded default binds loopback).
ENV STREAMHOUSE_HTTP_HOST=0.0.0.0
VOLUME /data
EXPOSE 9092 9094 9644
ENTRYPOINT ["node", "dist/src/cli.js", "start"]
