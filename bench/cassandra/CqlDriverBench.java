// The reference for bench/cql_bench.cc (issue 7): the same load, driven by the
// Apache Cassandra Java driver 4.19 (org.apache.cassandra:java-driver-core)
// instead of our dts_cql client. cassandra-stress, which the issue names, is
// not on Maven Central, so this is the closest reference we can build.
// Compiled and run by bench/cassandra/run.sh:
//
//   java -cp OUT:LIBS/* CqlDriverBench [--hosts 127.0.0.1:9042] [--user cassandra --password cassandra]
//        [--concurrency 32] [--seconds 10] [--keys 100000] [--op insert|select|both] [--warmup-seconds 0]
//
// What it does is cql_bench's, line for line:
// - one session (one connection to the node), N threads sharing it, each
//   making synchronous calls (session.execute) in a loop for S seconds;
//   the key is a shared counter modulo --keys;
// - keyspace cql_bench_<8 hex> (SimpleStrategy, RF 1), table
//   kv (k bigint PRIMARY KEY, v text, n bigint); prepared
//   INSERT INTO ks.kv (k, v, n) VALUES (?, ?, ?) with (k, "value-"+k, 2k), then
//   SELECT v, n FROM ks.kv WHERE k = ?; consistency ONE, idempotent;
// - latency of each successful call (µs, from before execute() to after it
//   returns); p50 = sorted[n/2], p99 = sorted[min(n-1, n*99/100)];
//   ops/s = successful calls / wall time of the phase (threads joined);
// - the insert phase always runs first; the keyspace is dropped at the end.
//
// Driver settings that make the wire traffic match ours: native protocol v4
// (the driver would negotiate v5 with Cassandra 5.0), no client timestamps
// (ServerSideTimestampGenerator; ours sends none), 12 s request timeout (ours),
// one connection (the driver's default pool size for a local node), no
// compression (default). What cannot be matched: the driver sets
// skip_metadata on EXECUTE of a prepared SELECT (ours always asks for the
// result metadata), and it sends a page size (5000) where ours sends none.
//
// --warmup-seconds W (default 0) first runs W seconds of inserts and W of
// selects at the same concurrency on a separate table kv_warmup, unmeasured,
// so that the JIT has compiled the driver's hot paths; the measured table is
// not touched by it.
//
// Output: the same lines as cql_bench ("insert  N ops/s  ok .. errors .. p50 .. us  p99 .. us").
// Exit status 1 if any call failed, 2 on bad arguments.

import com.datastax.oss.driver.api.core.ConsistencyLevel;
import com.datastax.oss.driver.api.core.CqlSession;
import com.datastax.oss.driver.api.core.config.DefaultDriverOption;
import com.datastax.oss.driver.api.core.config.DriverConfigLoader;
import com.datastax.oss.driver.api.core.cql.BoundStatement;
import com.datastax.oss.driver.api.core.cql.PreparedStatement;
import com.datastax.oss.driver.api.core.cql.SimpleStatement;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

public final class CqlDriverBench {
  static String hosts = "127.0.0.1:9042";
  static String user = "cassandra";
  static String password = "cassandra";
  static int concurrency = 32;
  static int seconds = 10;
  static int keys = 100000;
  static String op = "both";
  static int warmupSeconds = 0;

  static final class Outcome {
    double opsPerS;
    long ok;
    long errors;
    double p50Us;
    double p99Us;
  }

  /** A growable float array per thread, like cql_bench's std::vector<float>. */
  static final class FloatList {
    float[] a = new float[1 << 16];
    int n;

    void add(float v) {
      if (n == a.length) a = Arrays.copyOf(a, a.length * 2);
      a[n++] = v;
    }
  }

  static Outcome runPhase(CqlSession session, PreparedStatement ps, boolean select, int secs)
      throws InterruptedException {
    AtomicBoolean stop = new AtomicBoolean(false);
    AtomicLong nextKey = new AtomicLong(0);
    FloatList[] lat = new FloatList[concurrency];
    long[] errors = new long[concurrency];
    List<Thread> threads = new ArrayList<>();
    long start = System.nanoTime();
    for (int t = 0; t < concurrency; ++t) {
      final int ti = t;
      lat[ti] = new FloatList();
      Thread th =
          new Thread(
              () -> {
                FloatList mine = lat[ti];
                while (!stop.get()) {
                  long k = Long.remainderUnsigned(nextKey.getAndIncrement(), keys);
                  BoundStatement st =
                      select ? ps.bind(k) : ps.bind(k, "value-" + k, k * 2);
                  st = st.setConsistencyLevel(ConsistencyLevel.ONE).setIdempotent(true);
                  long t0 = System.nanoTime();
                  boolean ok;
                  try {
                    session.execute(st);
                    ok = true;
                  } catch (RuntimeException e) {
                    ok = false;
                  }
                  double us = (System.nanoTime() - t0) / 1e3;
                  if (ok) {
                    mine.add((float) us);
                  } else {
                    ++errors[ti];
                  }
                }
              });
      th.start();
      threads.add(th);
    }
    Thread.sleep(secs * 1000L);
    stop.set(true);
    for (Thread th : threads) th.join();
    double elapsed = (System.nanoTime() - start) / 1e9;
    Outcome o = new Outcome();
    int total = 0;
    for (int i = 0; i < concurrency; ++i) {
      total += lat[i].n;
      o.errors += errors[i];
    }
    float[] all = new float[total];
    int pos = 0;
    for (int i = 0; i < concurrency; ++i) {
      System.arraycopy(lat[i].a, 0, all, pos, lat[i].n);
      pos += lat[i].n;
    }
    o.ok = total;
    o.opsPerS = total / elapsed;
    if (total > 0) {
      Arrays.sort(all);
      o.p50Us = all[total / 2];
      o.p99Us = all[(int) Math.min(total - 1, (long) total * 99 / 100)];
    }
    return o;
  }

  static int usage() {
    System.err.println(
        "usage: CqlDriverBench [--hosts H:P,...] [--user U] [--password P] [--concurrency N]\n"
            + "                      [--seconds S] [--keys N] [--op insert|select|both] [--warmup-seconds W]");
    return 2;
  }

  static int positive(String v) {
    int x = Integer.parseInt(v);
    if (x < 1) throw new NumberFormatException(v);
    return x;
  }

  static int run(String[] argv) throws Exception {
    try {
      for (int i = 0; i < argv.length; ++i) {
        String flag = argv[i];
        if (i + 1 >= argv.length) return usage();
        String val = argv[++i];
        switch (flag) {
          case "--hosts": hosts = val; break;
          case "--user": user = val; break;
          case "--password": password = val; break;
          case "--op": op = val; break;
          case "--concurrency": concurrency = positive(val); break;
          case "--seconds": seconds = positive(val); break;
          case "--keys": keys = positive(val); break;
          case "--warmup-seconds":
            warmupSeconds = Integer.parseInt(val);
            if (warmupSeconds < 0) return usage();
            break;
          default: return usage();
        }
      }
    } catch (NumberFormatException e) {
      return usage();
    }
    List<InetSocketAddress> contact = new ArrayList<>();
    for (String h : hosts.split(",")) {
      String s = h.trim();
      int colon = s.lastIndexOf(':');
      if (colon < 0) {
        contact.add(new InetSocketAddress(s, 9042));
      } else {
        contact.add(new InetSocketAddress(s.substring(0, colon), Integer.parseInt(s.substring(colon + 1))));
      }
    }
    DriverConfigLoader config =
        DriverConfigLoader.programmaticBuilder()
            .withString(DefaultDriverOption.PROTOCOL_VERSION, "V4")
            .withString(DefaultDriverOption.TIMESTAMP_GENERATOR_CLASS, "ServerSideTimestampGenerator")
            .withDuration(DefaultDriverOption.REQUEST_TIMEOUT, Duration.ofSeconds(12))
            .withDuration(DefaultDriverOption.CONNECTION_CONNECT_TIMEOUT, Duration.ofSeconds(5))
            .withDuration(DefaultDriverOption.CONNECTION_INIT_QUERY_TIMEOUT, Duration.ofSeconds(5))
            .withString(DefaultDriverOption.REQUEST_CONSISTENCY, "ONE")
            .withInt(DefaultDriverOption.CONNECTION_POOL_LOCAL_SIZE, 1)
            .withInt(DefaultDriverOption.CONNECTION_MAX_REQUESTS, 2048)
            .withDuration(DefaultDriverOption.METADATA_SCHEMA_REQUEST_TIMEOUT, Duration.ofSeconds(60))
            .build();
    int rc = 0;
    try (CqlSession session =
        CqlSession.builder()
            .addContactPoints(contact)
            .withLocalDatacenter("datacenter1")
            .withAuthCredentials(user, password)
            .withConfigLoader(config)
            .build()) {
      String ks = "cql_bench_" + UUID.randomUUID().toString().substring(0, 8);
      List<String> ddl = new ArrayList<>();
      ddl.add("CREATE KEYSPACE " + ks
          + " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
      ddl.add("CREATE TABLE " + ks + ".kv (k bigint PRIMARY KEY, v text, n bigint)");
      if (warmupSeconds > 0) {
        ddl.add("CREATE TABLE " + ks + ".kv_warmup (k bigint PRIMARY KEY, v text, n bigint)");
      }
      for (String q : ddl) {
        session.execute(SimpleStatement.newInstance(q).setTimeout(Duration.ofSeconds(60)));
      }
      try {
        if (warmupSeconds > 0) {
          PreparedStatement wi =
              session.prepare("INSERT INTO " + ks + ".kv_warmup (k, v, n) VALUES (?, ?, ?)");
          PreparedStatement ws = session.prepare("SELECT v, n FROM " + ks + ".kv_warmup WHERE k = ?");
          runPhase(session, wi, false, warmupSeconds);
          runPhase(session, ws, true, warmupSeconds);
        }
        PreparedStatement insert = session.prepare("INSERT INTO " + ks + ".kv (k, v, n) VALUES (?, ?, ?)");
        PreparedStatement select = session.prepare("SELECT v, n FROM " + ks + ".kv WHERE k = ?");
        System.out.printf(
            "CqlDriverBench (java-driver-core %s, protocol v4): %s, concurrency %d, %d s per phase, %d keys%s%n",
            com.datastax.oss.driver.api.core.session.Session.OSS_DRIVER_COORDINATES.getVersion(),
            hosts, concurrency, seconds, keys,
            warmupSeconds > 0 ? ", after " + warmupSeconds + " s warm-up per op" : "");
        List<Object[]> phases = new ArrayList<>();
        if (op.equals("insert") || op.equals("both") || op.equals("select")) {
          phases.add(new Object[] {"insert", insert, false});
        }
        if (op.equals("select") || op.equals("both")) phases.add(new Object[] {"select", select, true});
        for (Object[] p : phases) {
          Outcome out = runPhase(session, (PreparedStatement) p[1], (Boolean) p[2], seconds);
          System.out.printf(
              "%-7s %10.0f ops/s  ok %-9d errors %-6d p50 %8.0f us  p99 %8.0f us%n",
              p[0], out.opsPerS, out.ok, out.errors, out.p50Us, out.p99Us);
          System.out.flush();
          if (out.errors > 0) rc = 1;
        }
      } finally {
        try {
          session.execute(SimpleStatement.newInstance("DROP KEYSPACE " + ks).setTimeout(Duration.ofSeconds(60)));
        } catch (RuntimeException e) {
          // like cql_bench: the drop's outcome does not matter
        }
      }
    }
    return rc;
  }

  public static void main(String[] argv) throws Exception {
    int rc;
    try {
      rc = run(argv);
    } catch (Exception e) {
      System.err.println("CqlDriverBench: " + e);
      rc = 1;
    }
    System.exit(rc);
  }
}
