#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dts/cql/value.h"

namespace dts::cql {

struct ColumnSpec {
  std::string keyspace;
  std::string table;
  std::string name;
  DataType type;
};

// The columns of a result (shared by every row of it).
class Columns {
 public:
  explicit Columns(std::vector<ColumnSpec> specs);
  size_t size() const { return specs_.size(); }
  const ColumnSpec& operator[](size_t i) const { return specs_[i]; }
  const std::vector<ColumnSpec>& specs() const { return specs_; }
  // Index of the column named `name`, or NOT_FOUND.
  absl::StatusOr<size_t> IndexOf(absl::string_view name) const;

 private:
  std::vector<ColumnSpec> specs_;
};

// One row. Cells stay serialised until read; the accessors check the column
// type and return FAILED_PRECONDITION naming the column on a mismatch,
// OUT_OF_RANGE for a bad index, NOT_FOUND for an unknown name. Reading a null
// cell through a typed getter is FAILED_PRECONDITION (use IsNull or Get).
class Row {
 public:
  Row(std::shared_ptr<const Columns> columns, std::vector<std::optional<std::string>> cells);

  size_t size() const { return cells_.size(); }
  const Columns& columns() const { return *columns_; }

  absl::StatusOr<bool> IsNull(size_t i) const;
  absl::StatusOr<bool> IsNull(absl::string_view name) const;
  // The cell as a Value (null cells give a null Value).
  absl::StatusOr<Value> Get(size_t i) const;
  absl::StatusOr<Value> Get(absl::string_view name) const;
  // The raw serialised cell (nullopt for null).
  absl::StatusOr<std::optional<std::string>> GetRaw(size_t i) const;

  absl::StatusOr<bool> GetBool(size_t i) const;
  absl::StatusOr<bool> GetBool(absl::string_view name) const;
  absl::StatusOr<int32_t> GetInt32(size_t i) const;
  absl::StatusOr<int32_t> GetInt32(absl::string_view name) const;
  absl::StatusOr<int64_t> GetInt64(size_t i) const;  // bigint, counter
  absl::StatusOr<int64_t> GetInt64(absl::string_view name) const;
  absl::StatusOr<double> GetDouble(size_t i) const;
  absl::StatusOr<double> GetDouble(absl::string_view name) const;
  absl::StatusOr<std::string> GetText(size_t i) const;  // text, varchar, ascii
  absl::StatusOr<std::string> GetText(absl::string_view name) const;
  absl::StatusOr<std::string> GetBlob(size_t i) const;
  absl::StatusOr<std::string> GetBlob(absl::string_view name) const;
  absl::StatusOr<Uuid> GetUuid(size_t i) const;  // uuid, timeuuid
  absl::StatusOr<Uuid> GetUuid(absl::string_view name) const;
  absl::StatusOr<absl::Time> GetTimestamp(size_t i) const;
  absl::StatusOr<absl::Time> GetTimestamp(absl::string_view name) const;

 private:
  absl::StatusOr<size_t> Index(absl::string_view name) const;
  absl::StatusOr<Value> Typed(size_t i, std::initializer_list<TypeId> ids) const;

  std::shared_ptr<const Columns> columns_;
  std::vector<std::optional<std::string>> cells_;
};

enum class ResultKind : int32_t {
  kVoid = 0x0001,
  kRows = 0x0002,
  kSetKeyspace = 0x0003,
  kPrepared = 0x0004,
  kSchemaChange = 0x0005,
};

struct SchemaChange {
  std::string change_type;  // CREATED, UPDATED, DROPPED
  std::string target;       // KEYSPACE, TABLE, TYPE, FUNCTION, AGGREGATE
  std::string keyspace;
  std::string name;                    // table/type/function name, if any
  std::vector<std::string> arg_types;  // FUNCTION/AGGREGATE only
};

// A RESULT message. For kRows: columns, rows and the paging state of the next
// page (empty when this is the last page).
struct Result {
  ResultKind kind = ResultKind::kVoid;
  std::shared_ptr<const Columns> columns;
  std::vector<Row> rows;
  std::string paging_state;
  bool has_more_pages = false;
  std::string keyspace;        // kSetKeyspace
  SchemaChange schema_change;  // kSchemaChange
  std::vector<std::string> warnings;  // server warnings, if any
};

// The outcome of a lightweight transaction (INSERT ... IF NOT EXISTS,
// UPDATE ... IF ...): whether it applied and, if not, the existing row (its
// columns besides [applied]; absent when there was no row).
struct LwtResult {
  bool applied = false;
  std::optional<Row> existing;
  // Builds one from a result whose first column is the boolean [applied].
  static absl::StatusOr<LwtResult> From(const Result& result);
};

}  // namespace dts::cql
