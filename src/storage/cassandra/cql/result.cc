#include "dts/cql/result.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace dts::cql {

Columns::Columns(std::vector<ColumnSpec> specs) : specs_(std::move(specs)) {}

absl::StatusOr<size_t> Columns::IndexOf(absl::string_view name) const {
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (specs_[i].name == name) return i;
  }
  return absl::NotFoundError(absl::StrCat("no column named '", name, "' in the result"));
}

Row::Row(std::shared_ptr<const Columns> columns, std::vector<std::optional<std::string>> cells)
    : columns_(std::move(columns)), cells_(std::move(cells)) {}

absl::StatusOr<size_t> Row::Index(absl::string_view name) const { return columns_->IndexOf(name); }

absl::StatusOr<bool> Row::IsNull(size_t i) const {
  if (i >= cells_.size()) {
    return absl::OutOfRangeError(absl::StrCat("column index ", i, " out of range (", cells_.size(), " columns)"));
  }
  return !cells_[i].has_value();
}

absl::StatusOr<bool> Row::IsNull(absl::string_view name) const {
  auto i = Index(name);
  if (!i.ok()) return i.status();
  return IsNull(*i);
}

absl::StatusOr<std::optional<std::string>> Row::GetRaw(size_t i) const {
  if (i >= cells_.size()) {
    return absl::OutOfRangeError(absl::StrCat("column index ", i, " out of range (", cells_.size(), " columns)"));
  }
  return cells_[i];
}

absl::StatusOr<Value> Row::Get(size_t i) const {
  if (i >= cells_.size()) {
    return absl::OutOfRangeError(absl::StrCat("column index ", i, " out of range (", cells_.size(), " columns)"));
  }
  if (!cells_[i]) return Value();
  auto v = DecodeValue((*columns_)[i].type, *cells_[i]);
  if (!v.ok()) {
    return absl::Status(v.status().code(),
                        absl::StrCat("column '", (*columns_)[i].name, "': ", v.status().message()));
  }
  return v;
}

absl::StatusOr<Value> Row::Get(absl::string_view name) const {
  auto i = Index(name);
  if (!i.ok()) return i.status();
  return Get(*i);
}

absl::StatusOr<Value> Row::Typed(size_t i, std::initializer_list<TypeId> ids) const {
  if (i >= cells_.size()) {
    return absl::OutOfRangeError(absl::StrCat("column index ", i, " out of range (", cells_.size(), " columns)"));
  }
  const ColumnSpec& spec = (*columns_)[i];
  bool match = false;
  std::string wanted;
  for (TypeId id : ids) {
    match = match || spec.type.id == id;
    DataType t;
    t.id = id;
    absl::StrAppend(&wanted, wanted.empty() ? "" : "/", t.ToString());
  }
  if (!match) {
    return absl::FailedPreconditionError(absl::StrCat("column '", spec.name, "' is ",
                                                      spec.type.ToString(), ", not ", wanted));
  }
  if (!cells_[i]) {
    return absl::FailedPreconditionError(absl::StrCat("column '", spec.name, "' is null"));
  }
  return Get(i);
}

#define DTS_CQL_GETTER(Name, Type, As, ...)                              \
  absl::StatusOr<Type> Row::Name(size_t i) const {                       \
    auto v = Typed(i, {__VA_ARGS__});                                    \
    if (!v.ok()) return v.status();                                      \
    return v->As();                                                      \
  }                                                                      \
  absl::StatusOr<Type> Row::Name(absl::string_view name) const {         \
    auto i = Index(name);                                                \
    if (!i.ok()) return i.status();                                      \
    return Name(*i);                                                     \
  }

DTS_CQL_GETTER(GetBool, bool, AsBool, TypeId::kBoolean)
DTS_CQL_GETTER(GetInt32, int32_t, AsInt32, TypeId::kInt)
DTS_CQL_GETTER(GetInt64, int64_t, AsInt64, TypeId::kBigint, TypeId::kCounter)
DTS_CQL_GETTER(GetDouble, double, AsDouble, TypeId::kDouble)
DTS_CQL_GETTER(GetText, std::string, AsText, TypeId::kVarchar, TypeId::kAscii)
DTS_CQL_GETTER(GetBlob, std::string, AsBlob, TypeId::kBlob)
DTS_CQL_GETTER(GetUuid, Uuid, AsUuid, TypeId::kUuid, TypeId::kTimeuuid)
DTS_CQL_GETTER(GetTimestamp, absl::Time, AsTimestamp, TypeId::kTimestamp)
#undef DTS_CQL_GETTER

absl::StatusOr<LwtResult> LwtResult::From(const Result& result) {
  if (result.kind != ResultKind::kRows || result.columns == nullptr || result.columns->size() == 0 ||
      (*result.columns)[0].name != "[applied]") {
    return absl::FailedPreconditionError(
        "not a lightweight transaction result (no [applied] column); does the statement have IF?");
  }
  if (result.rows.size() != 1) {
    return absl::InternalError(absl::StrCat("LWT result has ", result.rows.size(), " rows, want 1"));
  }
  LwtResult out;
  auto applied = result.rows[0].GetBool(0);
  if (!applied.ok()) return applied.status();
  out.applied = *applied;
  if (!out.applied && result.columns->size() > 1) out.existing = result.rows[0];
  return out;
}

}  // namespace dts::cql
