#pragma once

#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "cron/spec.h"

namespace dts::cron {

struct ParsedExpression {
  Spec spec;
  // The zone named by a CRON_TZ=/TZ= prefix; empty when there is none.
  // Points into the parsed text.
  absl::string_view zone_name;
};

// Parses a full expression: optional zone prefix, then a macro or 5/6 fields.
// Errors are INVALID_ARGUMENT and name the field and the offending text.
absl::StatusOr<ParsedExpression> ParseExpression(absl::string_view expr);

}  // namespace dts::cron
