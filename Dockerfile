# sshd-exporter's container image. Build: docker build -t sshd-exporter . (docs/install.md,
# "Container image", says how to run it: the host's /proc and / mounted at /host/proc and /host/root).
ARG NODE_IMAGE=node:24-bookworm-slim

# npm ci, in both stages below. Optional build secrets, for a registry that needs them: `npmrc`
# (an .npmrc: registry, token) and `ca` (PEM certificates that its TLS chain needs, e.g. a
# proxy's): docker build --secret id=ca,src=FILE.
FROM ${NODE_IMAGE} AS npm
WORKDIR /src
COPY package.json package-lock.json ./

# Build: every dependency, then tsc.
FROM npm AS build
RUN --mount=type=cache,target=/root/.npm \
    --mount=type=secret,id=npmrc,target=/root/.npmrc,required=false \
    --mount=type=secret,id=ca,required=false \
    if [ -f /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi; \
    npm ci --prefer-offline --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src/ src/
RUN npm run build

# The production dependencies alone.
FROM npm AS deps
RUN --mount=type=cache,target=/root/.npm \
    --mount=type=secret,id=npmrc,target=/root/.npmrc,required=false \
    --mount=type=secret,id=ca,required=false \
    if [ -f /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi; \
    npm ci --omit=dev --prefer-offline --no-audit --no-fund

# Runtime: node, the compiled exporter and its production dependencies, owned by root and
# read-only to the exporter's user. The exporter writes no file: it runs with a read-only root.
FROM ${NODE_IMAGE}
ARG VERSION=unknown
ARG REVISION=unknown
LABEL org.opencontainers.image.title="sshd-exporter" \
      org.opencontainers.image.description="Prometheus exporter for OpenSSH servers: sessions per connection and user, MaxSessions, MaxStartups, stale sessions and refusals" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/sshd-exporter/sshd-exporter" \
      org.opencontainers.image.url="https://github.com/sshd-exporter/sshd-exporter" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/node:24-bookworm-slim"
# Nothing runs npm, yarn or corepack here: gone, so that image scanners do not report their
# bundled dependencies (the base layer still holds them: this saves no bytes).
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx \
      /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-v*
ENV NODE_ENV=production
# src/runtime.ts says why.
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY package.json ./
COPY --from=deps /src/node_modules/ node_modules/
COPY --from=build /src/dist/ dist/
# nobody:nogroup, numeric so that Kubernetes' runAsNonRoot can check it (as node_exporter's
# image). Matching each connection's socket reads /proc/<pid>/fd of sshd's root processes, which
# needs more than this user: see docs/privileges.md.
USER 65534:65534
EXPOSE 9922
# No HEALTHCHECK: Kubernetes ignores it, OCI-format images (podman's default) cannot hold it,
# and a probe of /-/healthy would have to know the listen address, TLS and basic auth flags.
ENTRYPOINT ["node", "--optimize-for-size", "/app/dist/cli.js"]
CMD ["--path.procfs=/host/proc", "--path.rootfs=/host/root"]
