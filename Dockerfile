# Streamgate gateway image: build with dev dependencies, run with production ones only.
# `npm install` rather than `npm ci`: the lockfile may lack optional binaries for other platforms.

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json .swcrc ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# Embedded PGlite (no DATABASE_URL) keeps its files under .data/, which the node user must own.
RUN mkdir -p .data && chown node:node .data
USER node
EXPOSE 4000
# A larger young generation: GraphQL execution allocates many short-lived objects, and with the
# default 16 MB semi-space the scavenger took a third of the CPU under load (bench/README.md).
CMD ["node", "--max-semi-space-size=64", "dist/main.js"]
