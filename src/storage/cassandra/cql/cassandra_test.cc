// dts_cql against the real Cassandra started by scripts/services.sh (label
// `cassandra`). Each test works in its own keyspace.
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "dts/cql/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/cassandra/cql/test_env.h"
#include "storage/cassandra/cql/tls_test_util.h"

namespace dts::cql {
namespace {

using ::dts::cql::testing::CreateKeyspace;
using ::dts::cql::testing::DevTlsDir;
using ::dts::cql::testing::DropKeyspace;
using ::dts::cql::testing::KeyspaceFor;
using ::dts::cql::testing::Options;
using ::testing::HasSubstr;

class CassandraTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Client::Create(Options());
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = *std::move(c);
    ks_ = KeyspaceFor(::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(CreateKeyspace(*client_, ks_).ok());
  }
  void TearDown() override {
    if (client_) DropKeyspace(*client_, ks_);
  }
  std::string T(absl::string_view table) const { return absl::StrCat(ks_, ".", table); }
  void Q(const std::string& cql) {
    auto r = client_->Query(Statement(cql));
    ASSERT_TRUE(r.ok()) << cql << ": " << r.status();
  }

  std::unique_ptr<Client> client_;
  std::string ks_;
};

TEST_F(CassandraTest, OptionsAndErrorsKeepTheirCqlCodes) {
  auto supported = client_->Supported();
  ASSERT_TRUE(supported.ok()) << supported.status();
  EXPECT_TRUE(supported->contains("CQL_VERSION"));

  auto syntax = client_->Query(Statement("SELEKT nothing"));
  EXPECT_EQ(syntax.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CqlErrorCode(syntax.status()), 0x2000);

  auto invalid = client_->Query(Statement(absl::StrCat("SELECT * FROM ", ks_, ".no_such_table")));
  EXPECT_EQ(invalid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CqlErrorCode(invalid.status()), 0x2200);

  auto exists = client_->Query(Statement(absl::StrCat(
      "CREATE KEYSPACE ", ks_, " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")));
  EXPECT_EQ(exists.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(HasCqlError(exists.status(), ErrorCode::kAlreadyExists));

  auto schema = client_->Query(Statement(absl::StrCat("CREATE TABLE ", T("t"), " (k int PRIMARY KEY)")));
  ASSERT_TRUE(schema.ok()) << schema.status();
  EXPECT_EQ(schema->kind, ResultKind::kSchemaChange);
  EXPECT_EQ(schema->schema_change.target, "TABLE");
  EXPECT_EQ(schema->schema_change.name, "t");

  // Binding a wrong type to a prepared marker is caught before sending.
  auto mismatch = client_->Execute(Statement(absl::StrCat("INSERT INTO ", T("t"), " (k) VALUES (?)"), {Value("x")}));
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mismatch.status().message(), HasSubstr("int"));
}

TEST_F(CassandraTest, TypesRoundTripThroughPreparedStatements) {
  Q(absl::StrCat("CREATE TABLE ", T("types"),
                 " (k text PRIMARY KEY, a ascii, vc varchar, u uuid, tu timeuuid, i int, b bigint,"
                 " flag boolean, ts timestamp, data blob, d double, m map<text, bigint>,"
                 " l list<int>, s set<uuid>)"));
  const Uuid u = Uuid::Random();
  auto tu = Uuid::Parse("e7a5c2a0-1d2b-11ef-8b1a-0242ac120002");
  ASSERT_TRUE(tu.ok());
  const absl::Time ts = absl::FromUnixMillis(1700000000123);
  Statement insert(absl::StrCat("INSERT INTO ", T("types"), " (k, a, vc, u, tu, i, b, flag, ts, data, d, m, l, s)"
                                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                   {Value("row1"), Value("ascii"), Value("vårchar"), Value(u), Value(*tu),
                    Value(int32_t{-7}), Value(int64_t{1} << 40), Value(true), Value::Timestamp(ts),
                    Value::Blob(std::string("\0\1\2", 3)), Value(2.5),
                    Value::Map({{Value("a"), Value(int64_t{1})}, {Value("b"), Value(int64_t{2})}}),
                    Value::List({Value(int32_t{3}), Value(int32_t{1})}), Value::Set({Value(u)})});
  ASSERT_TRUE(client_->Execute(insert).ok());

  auto rows = client_->ExecuteAll(Statement(absl::StrCat("SELECT * FROM ", T("types"), " WHERE k = ?"), {Value("row1")}));
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  const Row& r = (*rows)[0];
  EXPECT_EQ(*r.GetText("a"), "ascii");
  EXPECT_EQ(*r.GetText("vc"), "vårchar");
  EXPECT_EQ(*r.GetUuid("u"), u);
  EXPECT_EQ(*r.GetUuid("tu"), *tu);
  EXPECT_EQ(*r.GetInt32("i"), -7);
  EXPECT_EQ(*r.GetInt64("b"), int64_t{1} << 40);
  EXPECT_EQ(*r.GetBool("flag"), true);
  EXPECT_EQ(*r.GetTimestamp("ts"), ts);
  EXPECT_EQ(*r.GetBlob("data"), std::string("\0\1\2", 3));
  EXPECT_EQ(*r.GetDouble("d"), 2.5);
  EXPECT_EQ(*r.Get("m"), Value::Map({{Value("a"), Value(int64_t{1})}, {Value("b"), Value(int64_t{2})}}));
  EXPECT_EQ(*r.Get("l"), Value::List({Value(int32_t{3}), Value(int32_t{1})}));
  EXPECT_EQ(*r.Get("s"), Value::Set({Value(u)}));
  // Clear errors on a type mismatch.
  EXPECT_THAT(r.GetInt64("i").status().message(), HasSubstr("'i' is int, not bigint"));
  EXPECT_EQ(r.GetText("missing").status().code(), absl::StatusCode::kNotFound);

  // An unprepared QUERY with values typed by their kind, and null cells.
  Statement q(absl::StrCat("INSERT INTO ", T("types"), " (k, i) VALUES (?, ?)"), {Value("row2"), Value(int32_t{5})});
  ASSERT_TRUE(client_->Query(q).ok());
  auto row2 = client_->QueryAll(Statement(absl::StrCat("SELECT i, d FROM ", T("types"), " WHERE k = 'row2'")));
  ASSERT_TRUE(row2.ok());
  ASSERT_EQ(row2->size(), 1u);
  EXPECT_EQ(*(*row2)[0].GetInt32(0), 5);
  EXPECT_TRUE(*(*row2)[0].IsNull("d"));
  EXPECT_EQ((*row2)[0].GetDouble("d").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(CassandraTest, PagingOverMoreThan5000Rows) {
  Q(absl::StrCat("CREATE TABLE ", T("items"), " (p int, c int, v text, PRIMARY KEY (p, c))"));
  constexpr int kRows = 12000;
  constexpr int kThreads = 8;
  const std::string insert = absl::StrCat("INSERT INTO ", T("items"), " (p, c, v) VALUES (?, ?, ?)");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Half the rows through UNLOGGED batches of 50, half one by one.
      for (int base = t * (kRows / kThreads); base < (t + 1) * (kRows / kThreads);) {
        if (base % 2 == 0) {
          Batch batch;
          batch.type = BatchType::kUnlogged;
          batch.idempotent = true;
          for (int i = 0; i < 50; ++i, ++base) {
            batch.Add(insert, {Value(int32_t{base % 3}), Value(int32_t{base}), Value(absl::StrCat("v", base))});
          }
          if (!client_->ExecuteBatch(batch).ok()) failures++;
        } else {
          Statement st(insert, {Value(int32_t{base % 3}), Value(int32_t{base}), Value(absl::StrCat("v", base))});
          if (!client_->Execute(st.Idempotent()).ok()) failures++;
          ++base;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);

  // All pages at the default page size (5000): three pages.
  auto all = client_->ExecuteAll(Statement(absl::StrCat("SELECT c, v FROM ", T("items"))).Idempotent());
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), static_cast<size_t>(kRows));
  std::set<int> seen;
  for (const Row& r : *all) {
    const int c = *r.GetInt32("c");
    EXPECT_EQ(*r.GetText("v"), absl::StrCat("v", c));
    seen.insert(c);
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kRows));

  // Page by page, 1000 rows each, through unprepared QUERY.
  Statement st(absl::StrCat("SELECT c FROM ", T("items")));
  st.page_size = 1000;
  int pages = 0;
  size_t rows = 0;
  while (true) {
    auto page = client_->Query(st);
    ASSERT_TRUE(page.ok()) << page.status();
    ++pages;
    rows += page->rows.size();
    EXPECT_LE(page->rows.size(), 1000u);
    if (!page->has_more_pages) break;
    st.paging_state = page->paging_state;
    ASSERT_LT(pages, 100);
  }
  EXPECT_EQ(rows, static_cast<size_t>(kRows));
  EXPECT_GE(pages, 12);
}

TEST_F(CassandraTest, LwtRaceHasExactlyOneWinner) {
  Q(absl::StrCat("CREATE TABLE ", T("claims"), " (id text PRIMARY KEY, owner text)"));
  constexpr int kClaimers = 8;
  constexpr int kKeys = 10;
  const std::string claim = absl::StrCat("INSERT INTO ", T("claims"), " (id, owner) VALUES (?, ?) IF NOT EXISTS");
  ASSERT_TRUE(client_->Prepare(claim).ok());
  for (int key = 0; key < kKeys; ++key) {
    absl::Barrier* start = new absl::Barrier(kClaimers);
    std::vector<absl::StatusOr<LwtResult>> results(kClaimers, absl::UnknownError("not run"));
    std::vector<std::thread> threads;
    for (int i = 0; i < kClaimers; ++i) {
      threads.emplace_back([&, i] {
        if (start->Block()) delete start;
        Statement st(claim, {Value(absl::StrCat("job-", key)), Value(absl::StrCat("worker-", i))});
        st.consistency = Consistency::kQuorum;
        st.serial_consistency = Consistency::kSerial;
        results[i] = client_->ExecuteLwt(st);  // not idempotent: never retried
      });
    }
    for (auto& th : threads) th.join();
    int winners = 0;
    std::string winner;
    for (int i = 0; i < kClaimers; ++i) {
      ASSERT_TRUE(results[i].ok()) << results[i].status();
      if (results[i]->applied) {
        ++winners;
        winner = absl::StrCat("worker-", i);
        EXPECT_FALSE(results[i]->existing.has_value());
      }
    }
    ASSERT_EQ(winners, 1) << "key " << key;
    for (int i = 0; i < kClaimers; ++i) {
      if (results[i]->applied) continue;
      ASSERT_TRUE(results[i]->existing.has_value());
      EXPECT_EQ(*results[i]->existing->GetText("owner"), winner);
    }
  }
  // LWT UPDATE ... IF with a typed result.
  auto upd = client_->ExecuteLwt(Statement(absl::StrCat("UPDATE ", T("claims"), " SET owner = ? WHERE id = ? IF owner = ?"),
                                           {Value("someone"), Value("job-0"), Value("nobody")}));
  ASSERT_TRUE(upd.ok()) << upd.status();
  EXPECT_FALSE(upd->applied);
  EXPECT_THAT(*upd->existing->GetText("owner"), HasSubstr("worker-"));
}

TEST_F(CassandraTest, CachedPreparedStatementSurvivesSchemaChanges) {
  Q(absl::StrCat("CREATE TABLE ", T("kv"), " (k int PRIMARY KEY, v text)"));
  const std::string insert = absl::StrCat("INSERT INTO ", T("kv"), " (k, v) VALUES (?, ?)");
  const std::string select = absl::StrCat("SELECT * FROM ", T("kv"), " WHERE k = ?");
  ASSERT_TRUE(client_->Execute(Statement(insert, {Value(int32_t{1}), Value("one")})).ok());
  auto before = client_->Execute(Statement(select, {Value(int32_t{1})}));
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->columns->size(), 2u);

  // ALTER TABLE: the cached statements still work, and SELECT * sees the new
  // column (the client always asks for result metadata).
  Q(absl::StrCat("ALTER TABLE ", T("kv"), " ADD extra int"));
  ASSERT_TRUE(client_->Execute(Statement(insert, {Value(int32_t{2}), Value("two")})).ok());
  auto after = client_->Execute(Statement(select, {Value(int32_t{2})}));
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_EQ(after->rows.size(), 1u);
  EXPECT_EQ(*after->rows[0].GetText("v"), "two");
  EXPECT_TRUE(*after->rows[0].IsNull("extra"));

  // DROP + CREATE: the server forgets the statements and answers UNPREPARED;
  // the client re-prepares and retries transparently.
  const uint64_t reprepares = client_->stats().reprepares;
  Q(absl::StrCat("DROP TABLE ", T("kv")));
  Q(absl::StrCat("CREATE TABLE ", T("kv"), " (k int PRIMARY KEY, v text, extra int)"));
  auto again = client_->Execute(Statement(insert, {Value(int32_t{3}), Value("three")}));
  ASSERT_TRUE(again.ok()) << again.status();
  auto read = client_->Execute(Statement(select, {Value(int32_t{3})}));
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->rows.size(), 1u);
  EXPECT_EQ(*read->rows[0].GetText("v"), "three");
  EXPECT_GT(client_->stats().reprepares, reprepares);
}

TEST_F(CassandraTest, PasswordAuthentication) {
  // Bad password and missing credentials are UNAUTHENTICATED, from Create.
  ClientOptions bad = Options();
  bad.password = "definitely-wrong";
  auto c = Client::Create(bad);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnauthenticated) << c.status();
  EXPECT_EQ(CqlErrorCode(c.status()), 0x0100);

  ClientOptions none = Options();
  none.username.clear();
  none.password.clear();
  auto n = Client::Create(none);
  EXPECT_EQ(n.status().code(), absl::StatusCode::kUnauthenticated) << n.status();
  EXPECT_THAT(n.status().message(), HasSubstr("PasswordAuthenticator"));

  // A role of our own can log in, and is bound by authorization-free access.
  const std::string role = ks_ + "_user";
  Q(absl::StrCat("CREATE ROLE ", role, " WITH PASSWORD = 's3cret' AND LOGIN = true"));
  ClientOptions mine = Options();
  mine.username = role;
  mine.password = "s3cret";
  mine.keyspace = ks_;
  auto own = Client::Create(mine);
  ASSERT_TRUE(own.ok()) << own.status();
  auto r = (*own)->Query(Statement("SELECT release_version FROM system.local"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->rows.empty());
  mine.password = "wrong";
  EXPECT_EQ(Client::Create(mine).status().code(), absl::StatusCode::kUnauthenticated);
  Q(absl::StrCat("DROP ROLE ", role));
}

TEST_F(CassandraTest, FailsOverFromADeadHostAndTimesOut) {
  ClientOptions o = Options();
  o.hosts.insert(o.hosts.begin(), HostPort{"127.0.0.1", 1});  // nothing listens there
  auto c = Client::Create(o);
  ASSERT_TRUE(c.ok()) << c.status();
  for (int i = 0; i < 10; ++i) {
    auto r = (*c)->Query(Statement("SELECT release_version FROM system.local"));
    ASSERT_TRUE(r.ok()) << r.status();
  }
  EXPECT_GE((*c)->stats().connect_failures, 1u);

  // A request timeout far below any answer time.
  Statement slow("SELECT * FROM system_schema.columns");
  slow.timeout = absl::Nanoseconds(1);
  EXPECT_EQ((*c)->Query(slow).status().code(), absl::StatusCode::kDeadlineExceeded);
  // The connection is still usable afterwards.
  EXPECT_TRUE((*c)->Query(Statement("SELECT release_version FROM system.local")).ok());
}

TEST_F(CassandraTest, LoggedBatchMixesPreparedAndPlainEntries) {
  Q(absl::StrCat("CREATE TABLE ", T("acct"), " (id text PRIMARY KEY, balance bigint)"));
  Batch b;
  b.Add(absl::StrCat("INSERT INTO ", T("acct"), " (id, balance) VALUES (?, ?)"), {Value("a"), Value(int64_t{10})});
  b.Add(absl::StrCat("INSERT INTO ", T("acct"), " (id, balance) VALUES ('b', 20)"), {}, /*prepared=*/false);
  auto r = client_->ExecuteBatch(b);
  ASSERT_TRUE(r.ok()) << r.status();
  auto rows = client_->QueryAll(Statement(absl::StrCat("SELECT id, balance FROM ", T("acct"))));
  ASSERT_TRUE(rows.ok());
  int64_t sum = 0;
  for (const Row& row : *rows) sum += *row.GetInt64("balance");
  EXPECT_EQ(sum, 30);
}


// ---- TLS (the dev server takes TLS and plain clients on one port) ----

ClientOptions TlsOptionsFor(const std::string& ca_file) {
  ClientOptions o = Options();
  o.tls.enabled = true;
  o.tls.ca_file = ca_file;
  return o;
}

// Whether the server sees some TLS client: system_views.clients lists every
// connection with ssl_enabled and the negotiated protocol.
void ExpectServerSeesTls(Client& c) {
  auto rows = c.QueryAll(Statement("SELECT ssl_enabled, ssl_protocol FROM system_views.clients"));
  ASSERT_TRUE(rows.ok()) << rows.status();
  bool tls_seen = false;
  for (const Row& row : *rows) {
    auto enabled = row.GetBool(0);
    if (enabled.ok() && *enabled) {
      tls_seen = true;
      auto protocol = row.GetText(1);
      ASSERT_TRUE(protocol.ok()) << protocol.status();
      EXPECT_THAT(*protocol, HasSubstr("TLSv1.")) << "protocol " << *protocol;
    }
  }
  EXPECT_TRUE(tls_seen) << "no connection in system_views.clients uses TLS";
}

TEST(CassandraTlsTest, QueriesOverTlsVerifiedAgainstTheCaAndHostAddress) {
  auto c = Client::Create(TlsOptionsFor(DevTlsDir() + "/ca.pem"));
  ASSERT_TRUE(c.ok()) << c.status() << " (TLS files in " << DevTlsDir() << ")";
  auto rows = (*c)->QueryAll(Statement("SELECT release_version FROM system.local"));
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  ExpectServerSeesTls(**c);
}

TEST(CassandraTlsTest, PresentsAClientCertificate) {
  ClientOptions o = TlsOptionsFor(DevTlsDir() + "/ca.pem");
  o.tls.cert_file = DevTlsDir() + "/client.pem";
  o.tls.key_file = DevTlsDir() + "/client.key";
  auto c = Client::Create(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE((*c)->Query(Statement("SELECT release_version FROM system.local")).ok());
}

TEST(CassandraTlsTest, RefusesANodeWhoseNameTheCertificateDoesNotCarry) {
  ClientOptions o = TlsOptionsFor(DevTlsDir() + "/ca.pem");
  o.tls.server_name = "cassandra.elsewhere.test";
  o.retry.max_attempts = 1;
  auto c = Client::Create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(c.status().message(), HasSubstr("TLS handshake"));
  EXPECT_THAT(c.status().message(), HasSubstr("certificate verify failed"));

  // Checking the CA only accepts the same certificate under any name.
  o.tls.verify = TlsVerify::kCa;
  auto ca_only = Client::Create(o);
  ASSERT_TRUE(ca_only.ok()) << ca_only.status();
}

TEST(CassandraTlsTest, RefusesANodeSignedByAnUntrustedCa) {
  testing::TlsFiles files;
  ASSERT_TRUE(files.MakeCa("stranger"));
  auto c = Client::Create(TlsOptionsFor(files.Path("stranger.pem")));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("certificate verify failed"));

  // Without verification the same connection works (encrypted, not authenticated).
  ClientOptions o = TlsOptionsFor(files.Path("stranger.pem"));
  o.tls.verify = TlsVerify::kNone;
  auto unverified = Client::Create(o);
  ASSERT_TRUE(unverified.ok()) << unverified.status();
  EXPECT_TRUE((*unverified)->Query(Statement("SELECT release_version FROM system.local")).ok());
}

TEST(CassandraTlsTest, ManyConcurrentRequestsOverOneTlsConnection) {
  auto c = Client::Create(TlsOptionsFor(DevTlsDir() + "/ca.pem"));
  ASSERT_TRUE(c.ok()) << c.status();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if ((*c)->Query(Statement("SELECT release_version FROM system.local")).ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 400);
}

}  // namespace
}  // namespace dts::cql
