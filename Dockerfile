# odin-ws: one image for every command (gateway, publisher, loadtest, bench, health, stats).
# Node 24 LTS, the target runtime (the suite also runs on Node 20 and 22 while machines have them).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json eslint.config.js ./
COPY bin ./bin
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
# In a container every interface is the container's own: listen on all of them (the defaults outside
# are 127.0.0.1). The publisher then requires PUBLISHER_CONTROL_KEY for its control API.
ENV GATEWAY_HOST=0.0.0.0 PUBLISHER_HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3002 3003
# Liveness for plain docker; Kubernetes and compose use /health and /ready directly.
HEALTHCHECK --interval=10s --timeout=2s CMD node -e "fetch('http://127.0.0.1:'+(process.env.GATEWAY_PORT||3002)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/odin-ws.js"]
CMD ["gateway"]
