// Quartz 2 (Debian's libquartz2-java) with the in-memory RAMJobStore, a
// SimpleThreadPool of 2 threads and no-op jobs: the baseline for DTS's
// firing figures (issue 4, "Against Quartz"). Compiled and run by
// scripts/bench.sh:
//
//   javac -cp /usr/share/java/quartz2.jar -d OUT bench/quartz/QuartzBench.java
//   java -cp OUT:/usr/share/java/quartz2.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-nop.jar \
//        QuartzBench steady 10000 20     # N jobs "* * * * * ?": fires/s, lateness
//   java ... QuartzBench drain 1000000   # N jobs all due at once: fires/s until all fired
//
// steady: like e2e_bench. N jobs fire every second; over the window of
//   S seconds it counts executions (fires/s) and the lateness from the
//   scheduled fire time to the start of execute() (p50/p99/max).
// drain: like engine_bench's Engine/FireDue. N jobs (repeating every second)
//   are all due when the scheduler starts; the time until every one of them
//   has run gives fires/s.
//
// Last line: RESULT quartz_<mode> jobs=.. fires_per_s=.. [p50_ms=.. p99_ms=.. max_ms=..]

import java.time.Instant;
import java.util.Arrays;
import java.util.Date;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.quartz.CronScheduleBuilder;
import org.quartz.Job;
import org.quartz.JobBuilder;
import org.quartz.JobDetail;
import org.quartz.JobExecutionContext;
import org.quartz.Scheduler;
import org.quartz.SimpleScheduleBuilder;
import org.quartz.Trigger;
import org.quartz.TriggerBuilder;
import org.quartz.impl.StdSchedulerFactory;

public final class QuartzBench {
  // Shared with the job instances (Quartz creates one per execution).
  static volatile long windowStartMicros = Long.MAX_VALUE;
  static volatile long windowEndMicros = Long.MAX_VALUE;
  static final AtomicLong executedInWindow = new AtomicLong();
  static long[] lateness = new long[0];
  static final AtomicInteger latenessCount = new AtomicInteger();

  static volatile long drainDueMillis = -1;
  static final AtomicInteger drained = new AtomicInteger();
  static volatile int drainTarget = Integer.MAX_VALUE;
  static final CountDownLatch drainDone = new CountDownLatch(1);
  static volatile long drainDoneNanos;

  static long nowMicros() {
    Instant i = Instant.now();
    return i.getEpochSecond() * 1_000_000L + i.getNano() / 1000;
  }

  public static final class NoopJob implements Job {
    @Override
    public void execute(JobExecutionContext context) {
      long start = nowMicros();
      long scheduled = context.getScheduledFireTime().getTime();
      if (scheduled == drainDueMillis) {
        if (drained.incrementAndGet() == drainTarget) {
          drainDoneNanos = System.nanoTime();
          drainDone.countDown();
        }
        return;
      }
      if (start >= windowStartMicros && start < windowEndMicros) executedInWindow.incrementAndGet();
      long scheduledMicros = scheduled * 1000;
      if (scheduledMicros >= windowStartMicros && scheduledMicros < windowEndMicros) {
        int k = latenessCount.getAndIncrement();
        if (k < lateness.length) lateness[k] = start - scheduledMicros;
      }
    }
  }

  static Scheduler newScheduler(int threads, long misfireThresholdMillis) throws Exception {
    Properties p = new Properties();
    p.setProperty("org.quartz.scheduler.instanceName", "bench");
    p.setProperty("org.quartz.scheduler.skipUpdateCheck", "true");
    p.setProperty("org.quartz.threadPool.class", "org.quartz.simpl.SimpleThreadPool");
    p.setProperty("org.quartz.threadPool.threadCount", Integer.toString(threads));
    p.setProperty("org.quartz.jobStore.class", "org.quartz.simpl.RAMJobStore");
    p.setProperty("org.quartz.jobStore.misfireThreshold", Long.toString(misfireThresholdMillis));
    String batch = System.getProperty("quartz.batch");  // batchTriggerAcquisitionMaxCount, default 1
    if (batch != null) p.setProperty("org.quartz.scheduler.batchTriggerAcquisitionMaxCount", batch);
    return new StdSchedulerFactory(p).getScheduler();
  }

  static void scheduleAll(Scheduler s, int n, boolean cron, Date startAt) throws Exception {
    final int chunk = 10_000;
    for (int base = 0; base < n; base += chunk) {
      Map<JobDetail, Set<? extends Trigger>> batch = new HashMap<>();
      for (int i = base; i < Math.min(n, base + chunk); i++) {
        JobDetail job = JobBuilder.newJob(NoopJob.class).withIdentity("job-" + i).build();
        TriggerBuilder<Trigger> tb = TriggerBuilder.newTrigger().withIdentity("trigger-" + i);
        Trigger trigger;
        if (cron) {
          trigger = tb.withSchedule(CronScheduleBuilder.cronSchedule("* * * * * ?"))
              .startAt(startAt == null ? new Date() : startAt).build();
        } else {
          trigger = tb.withSchedule(SimpleScheduleBuilder.repeatSecondlyForever())
              .startAt(startAt).build();
        }
        Set<Trigger> triggers = new HashSet<>();
        triggers.add(trigger);
        batch.put(job, triggers);
      }
      s.scheduleJobs(batch, false);
    }
  }

  static double pct(long[] sorted, int n, double q) {
    if (n == 0) return 0;
    return sorted[Math.min(n - 1, (int) (q * n))] / 1000.0;
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: QuartzBench steady N SECONDS [WARMUP] | drain N [cron|simple]");
      System.exit(2);
    }
    String mode = args[0];
    int n = Integer.parseInt(args[1]);
    int threads = Integer.getInteger("quartz.threads", 2);
    if (mode.equals("steady")) {
      int seconds = Integer.parseInt(args[2]);
      int warmup = args.length > 3 ? Integer.parseInt(args[3]) : 3;
      lateness = new long[(int) Math.min(Integer.MAX_VALUE - 8, (long) n * seconds + 1000)];
      Scheduler s = newScheduler(threads, 60_000);
      long t = System.nanoTime();
      scheduleAll(s, n, true, null);
      double scheduling = (System.nanoTime() - t) / 1e9;
      s.start();
      long now = nowMicros();
      long t0 = (now / 1_000_000 + 1 + warmup) * 1_000_000;
      windowStartMicros = t0;
      windowEndMicros = t0 + seconds * 1_000_000L;
      System.out.printf("quartz steady: %d jobs '* * * * * ?' scheduled in %.2f s, %d threads; measuring %d s%n",
          n, scheduling, threads, seconds);
      Thread.sleep((windowEndMicros - nowMicros()) / 1000 + 3000);
      s.shutdown(false);
      double rate = executedInWindow.get() / (double) seconds;
      int m = Math.min(latenessCount.get(), lateness.length);
      long[] sorted = Arrays.copyOf(lateness, m);
      Arrays.sort(sorted);
      System.out.printf("executed: %d in %d s = %.0f fires/s; scheduled in the window and run: %d of %d due%n",
          executedInWindow.get(), seconds, rate, m, (long) n * seconds);
      System.out.printf("lateness start-scheduled: p50 %.2f ms, p99 %.2f ms, max %.2f ms%n",
          pct(sorted, m, 0.5), pct(sorted, m, 0.99), m == 0 ? 0 : sorted[m - 1] / 1000.0);
      System.out.printf("RESULT quartz_steady jobs=%d fires_per_s=%.0f run=%d expected=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f%n",
          n, rate, m, (long) n * seconds, pct(sorted, m, 0.5), pct(sorted, m, 0.99),
          m == 0 ? 0 : sorted[m - 1] / 1000.0);
    } else if (mode.equals("drain")) {
      boolean cron = args.length > 2 && args[2].equals("cron");
      // Every trigger's first fire is this instant, already past when the
      // scheduler starts; a large misfire threshold keeps them all normal fires.
      long due = (System.currentTimeMillis() / 1000) * 1000;
      drainDueMillis = due;
      drainTarget = n;
      Scheduler s = newScheduler(threads, 3_600_000);
      long t = System.nanoTime();
      scheduleAll(s, n, cron, new Date(due));
      double scheduling = (System.nanoTime() - t) / 1e9;
      System.out.printf("quartz drain: %d jobs (%s, every second) scheduled in %.2f s, %d threads%n",
          n, cron ? "cron" : "simple", scheduling, threads);
      long start = System.nanoTime();
      s.start();
      if (!drainDone.await(600, TimeUnit.SECONDS)) {
        System.out.printf("drain did not finish: %d of %d fired%n", drained.get(), n);
      }
      double elapsed = (drainDoneNanos - start) / 1e9;
      s.shutdown(false);
      double rate = n / elapsed;
      System.out.printf("fired %d due jobs in %.3f s = %.0f fires/s%n", n, elapsed, rate);
      System.out.printf("RESULT quartz_drain jobs=%d fires_per_s=%.0f seconds=%.3f%n", n, rate, elapsed);
    } else {
      System.err.println("unknown mode " + mode);
      System.exit(2);
    }
    System.exit(0);
  }
}
