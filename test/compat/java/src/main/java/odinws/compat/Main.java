package odinws.compat;

import io.github.centrifugal.centrifuge.Client;
import io.github.centrifugal.centrifuge.ConnectedEvent;
import io.github.centrifugal.centrifuge.DisconnectedEvent;
import io.github.centrifugal.centrifuge.EventListener;
import io.github.centrifugal.centrifuge.HistoryOptions;
import io.github.centrifugal.centrifuge.Options;
import io.github.centrifugal.centrifuge.PublicationEvent;
import io.github.centrifugal.centrifuge.SubscribedEvent;
import io.github.centrifugal.centrifuge.Subscription;
import io.github.centrifugal.centrifuge.SubscriptionEventListener;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * centrifuge-java (protobuf) against a server: connect, subscribe, publications from the server
 * API and from the client, history, and recovery after a reconnect. Prints one JSON report line.
 *
 * Args: ws-endpoint api-base-url api-key channel payload... (each payload is published through
 * the server API as the JSON text given; the report has every publication's bytes in base64).
 */
public final class Main {
  private static final long WAIT_S = 10;

  private static final class Pub {
    final long offset;
    final byte[] data;

    Pub(long offset, byte[] data) {
      this.offset = offset;
      this.data = data;
    }
  }

  private static final class Sub {
    final boolean wasRecovering;
    final boolean recovered;

    Sub(boolean wasRecovering, boolean recovered) {
      this.wasRecovering = wasRecovering;
      this.recovered = recovered;
    }
  }

  public static void main(String[] args) throws Exception {
    String ws = args[0];
    String api = args[1];
    String key = args[2];
    String channel = args[3];
    List<String> payloads = new ArrayList<>();
    for (int i = 4; i < args.length; i++) payloads.add(args[i]);

    List<Pub> pubs = new ArrayList<>();
    List<Sub> subscribed = new ArrayList<>();
    Semaphore pubEvents = new Semaphore(0);
    Semaphore subEvents = new Semaphore(0);
    Semaphore connected = new Semaphore(0);
    Semaphore disconnected = new Semaphore(0);

    Options opts = new Options();
    opts.setMinReconnectDelay(50);
    opts.setMaxReconnectDelay(200);
    Client client =
        new Client(
            ws,
            opts,
            new EventListener() {
              @Override
              public void onConnected(Client c, ConnectedEvent e) {
                connected.release();
              }

              @Override
              public void onDisconnected(Client c, DisconnectedEvent e) {
                disconnected.release();
              }
            });
    Subscription sub =
        client.newSubscription(
            channel,
            new SubscriptionEventListener() {
              @Override
              public void onPublication(Subscription s, PublicationEvent e) {
                synchronized (pubs) {
                  pubs.add(new Pub(e.getOffset(), e.getData()));
                }
                pubEvents.release();
              }

              @Override
              public void onSubscribed(Subscription s, SubscribedEvent e) {
                synchronized (subscribed) {
                  subscribed.add(new Sub(Boolean.TRUE.equals(e.wasRecovering()), Boolean.TRUE.equals(e.getRecovered())));
                }
                subEvents.release();
              }
            });
    // HTTP/1.1: the JDK client's default HTTP/2 attempt sends `Upgrade: h2c`, which the gateway
    // reads as a WebSocket upgrade of the API path (answered 404).
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    String history = "null";
    try {
      client.connect();
      need(connected.tryAcquire(WAIT_S, TimeUnit.SECONDS), "connected");
      sub.subscribe();
      need(subEvents.tryAcquire(WAIT_S, TimeUnit.SECONDS), "subscribed");

      // From the server API, as given: the bytes must arrive as published.
      for (String p : payloads) publish(http, api, key, channel, p);
      need(pubEvents.tryAcquire(payloads.size(), WAIT_S, TimeUnit.SECONDS), "server API publications");

      // From the client.
      CompletableFuture<Throwable> published = new CompletableFuture<>();
      sub.publish("{\"from\":\"java\",\"n\":1.50}".getBytes(StandardCharsets.UTF_8), (err, res) -> published.complete(err));
      Throwable perr = published.get(WAIT_S, TimeUnit.SECONDS);
      need(perr == null, "client publish: " + perr);
      need(pubEvents.tryAcquire(1, WAIT_S, TimeUnit.SECONDS), "client publication");

      // Gone while two more are published; back with both recovered.
      client.disconnect();
      need(disconnected.tryAcquire(WAIT_S, TimeUnit.SECONDS), "disconnected");
      publish(http, api, key, channel, "{\"missed\":1}");
      publish(http, api, key, channel, "{\"missed\":2}");
      client.connect();
      need(subEvents.tryAcquire(WAIT_S, TimeUnit.SECONDS), "resubscribed");
      need(pubEvents.tryAcquire(2, WAIT_S, TimeUnit.SECONDS), "recovered publications");

      CompletableFuture<Integer> h = new CompletableFuture<>();
      HistoryOptions ho = new HistoryOptions.Builder().withLimit(100).build();
      sub.history(ho, (err, res) -> h.complete(err != null ? -1 : res.getPublications().size()));
      history = String.valueOf(h.get(WAIT_S, TimeUnit.SECONDS));
    } finally {
      client.disconnect();
      client.close(2000);
    }

    StringBuilder out = new StringBuilder("{\"publications\":[");
    synchronized (pubs) {
      for (int i = 0; i < pubs.size(); i++) {
        Pub p = pubs.get(i);
        if (i > 0) out.append(',');
        out.append("{\"offset\":").append(p.offset).append(",\"data_b64\":\"").append(Base64.getEncoder().encodeToString(p.data)).append("\"}");
      }
    }
    out.append("],\"subscribed\":[");
    synchronized (subscribed) {
      for (int i = 0; i < subscribed.size(); i++) {
        Sub s = subscribed.get(i);
        if (i > 0) out.append(',');
        out.append("{\"was_recovering\":").append(s.wasRecovering).append(",\"recovered\":").append(s.recovered).append('}');
      }
    }
    out.append("],\"history\":").append(history).append('}');
    System.out.println(out);
    System.exit(0);
  }

  private static void need(boolean ok, String what) {
    if (!ok) throw new IllegalStateException("timed out or failed: " + what);
  }

  private static void publish(HttpClient http, String api, String key, String channel, String json) throws Exception {
    String body = "{\"channel\":\"" + channel + "\",\"data\":" + json + "}";
    HttpRequest req =
        HttpRequest.newBuilder(URI.create(api + "/api/publish"))
            .header("X-API-Key", key)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
            .build();
    HttpResponse<String> res = http.send(req, HttpResponse.BodyHandlers.ofString());
    if (res.statusCode() != 200 || res.body().contains("\"error\"")) {
      throw new IllegalStateException("publish failed: " + res.statusCode() + " " + res.body());
    }
  }
}
