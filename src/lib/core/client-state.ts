/**
 * A connection's states (`Client.state`): numbers, compared on every command. Their own file so
 * the modules that act for a client (subscribe-access.ts, subscription-recovery.ts) read them
 * without importing the client.
 */
export const STATE_CONNECTING = 0;
export const STATE_CONNECTED = 1;
export const STATE_CLOSED = 2;
