# One image for facewatch's three scale-profile services; docker-compose.yml picks the command:
#   node services/ingest/dist/main.js | node services/matcher/dist/main.js | node services/api/dist/main.js
#
#   docker build -t facewatch:local .
#   docker build --build-arg MODELS_MIRROR=models-mirror -t facewatch:local .
#       (models copied from ./models-mirror in the build context instead of downloaded)
#
# Works with the classic builder as well as BuildKit (docker-compose 1.29 uses the classic one).
ARG NODE_IMAGE=node:22-bookworm-slim

# ---------------------------------------------------------------- build
FROM ${NODE_IMAGE} AS build

# better-sqlite3 downloads a prebuilt binary; these let it compile instead when none fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# onnxruntime-node's install script would download CUDA binaries (the CPU build ships in the
# package); both spellings, as .npmrc does for npm itself.
ENV ONNXRUNTIME_NODE_INSTALL=skip \
    npm_config_onnxruntime_node_install=skip \
    SCARF_ANALYTICS=false \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

COPY . .
# npm ci also runs the root "prepare" script (tsc -b), which is why the sources come first.
RUN npm ci
RUN npm run build

# Downloads each model from its canonical source and checks its sha256, or copies it from
# MODELS_MIRROR (a folder in the build context, relative to it); model files already in ./models
# are checked and kept.
ARG MODELS_MIRROR=
RUN npm run models:fetch

RUN npm prune --omit=dev

# What runs: the workspace manifests (the root one marks the project root), compiled code, the
# pruned node_modules (its @facewatch/* links point into libs/ and services/) and the models.
RUN set -eux; \
    mkdir -p /out/models /out/scripts/services; \
    cp -a package.json package-lock.json node_modules /out/; \
    cp -a models/manifest.json models/*.onnx /out/models/; \
    cp -a scripts/services/healthcheck.mjs /out/scripts/services/; \
    for p in libs/* services/*; do \
      mkdir -p "/out/$p"; \
      cp -a "$p/package.json" "$p/dist" "/out/$p/"; \
      if [ -d "$p/bin" ]; then cp -a "$p/bin" "/out/$p/"; fi; \
    done; \
    find /out/libs /out/services -name '*.tsbuildinfo' -delete

# ---------------------------------------------------------------- runtime
FROM ${NODE_IMAGE}

ENV NODE_ENV=production \
    MODELS_DIR=/app/models \
    MODELS_AUTO_FETCH=false \
    PORT=8000

WORKDIR /app
COPY --from=build /out/ ./

# Folders the services write to (mount volumes here); everything else stays root-owned, read-only.
RUN mkdir -p inbox blacklist_db processed_images_output data \
 && chown node:node inbox blacklist_db processed_images_output data

USER node
EXPOSE 8000
CMD ["node", "services/api/dist/main.js"]
