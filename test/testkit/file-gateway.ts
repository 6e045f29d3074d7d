/**
 * Test-only: one in-process gateway shared by every test of a file. Registers the file's
 * `before` (start) and `after` (close) hooks; call the returned function inside tests.
 */
import { before, after } from 'node:test';
import { startGateway, type RunningGateway, type GatewayParts as StartGatewayDeps } from '../../src/apps/gateway/compose.js';
import type { GatewayServerOptionsInput } from '../../src/apps/gateway/options.js';

export function gatewayForFile(input: GatewayServerOptionsInput, deps: StartGatewayDeps = {}): () => RunningGateway {
  let gw: RunningGateway | null = null;
  before(async () => {
    gw = await startGateway(input, deps);
  });
  after(async () => {
    await gw?.close();
  });
  return () => {
    if (!gw) throw new Error('gatewayForFile: the gateway starts in the before hook; read it inside tests');
    return gw;
  };
}
