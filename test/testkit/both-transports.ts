/**
 * Test-only: one in-process gateway per transport (`ws` and `uws`) with the same options, for
 * suites that assert the same answers over both HTTP servers. Registers the file's `before`
 * (start both) and `after` (close both) hooks; read the map inside tests.
 */
import { before, after } from 'node:test';
import { startGateway, type RunningGateway, type StartGatewayDeps, type TransportName } from '../../src/lib/server/server.js';
import type { GatewayServerOptionsInput } from '../../src/lib/server/config.js';

export function gatewaysOnBothTransports(
  input: GatewayServerOptionsInput,
  deps: Omit<StartGatewayDeps, 'transport'> = {},
): ReadonlyMap<TransportName, RunningGateway> {
  const gateways = new Map<TransportName, RunningGateway>();
  before(async () => {
    for (const t of ['ws', 'uws'] as const) gateways.set(t, await startGateway(input, { ...deps, transport: t }));
  });
  after(async () => {
    for (const gw of gateways.values()) await gw.close();
  });
  return gateways;
}
