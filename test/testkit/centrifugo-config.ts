/**
 * Test-only: a Centrifugo v6 configuration for side-by-side runs (test/testkit/centrifugo.ts
 * starts it): anonymous clients, the API key, and one namespace open to them (subscribe,
 * history, recovery), with the namespace's own options on top.
 */
export function centrifugoConfig(apiKey: string, namespace: { name: string } & Record<string, unknown>): Record<string, unknown> {
  return {
    client: { allow_anonymous_connect_without_token: true, allowed_origins: ['*'] },
    http_api: { key: apiKey },
    log: { level: 'error' },
    channel: {
      namespaces: [
        {
          allow_subscribe_for_client: true,
          allow_subscribe_for_anonymous: true,
          allow_history_for_subscriber: true,
          allow_history_for_anonymous: true,
          history_size: 100,
          history_ttl: '300s',
          force_recovery: true,
          ...namespace,
        },
      ],
    },
  };
}
