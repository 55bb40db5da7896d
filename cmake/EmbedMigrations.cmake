# Writes a C++ source holding every <MIGRATIONS_DIR>/NNN_name.<EXT>, so the
# binary can migrate without the source tree (`dts migrate` from any
# directory). Shared by the SQLite and Cassandra backends; run at build time:
#
#   cmake -DMIGRATIONS_DIR=<dir> -DEXT=sql|cql -DHEADER=<include path>
#         -DNAMESPACE=<c++ namespace> -DOUTPUT=<file.cc> -P EmbedMigrations.cmake
#
# The header must declare `struct Migration { std::string version, text; }`
# and `const std::vector<Migration>& EmbeddedMigrations();` in NAMESPACE.
# Bytes are written as \x escapes, so no migration text can break the literal.

foreach(arg MIGRATIONS_DIR EXT HEADER NAMESPACE OUTPUT)
  if(NOT ${arg})
    message(FATAL_ERROR "EmbedMigrations.cmake: -D${arg}=... is required")
  endif()
endforeach()

file(GLOB files RELATIVE ${MIGRATIONS_DIR} ${MIGRATIONS_DIR}/*.${EXT})
list(SORT files)

set(arrays "")
set(entries "")
set(index 0)
foreach(name IN LISTS files)
  # Fixed-width numbers keep lexical order equal to numeric order.
  if(NOT name MATCHES "^[0-9][0-9][0-9]_[a-z0-9_]+\\.${EXT}$")
    message(FATAL_ERROR "${MIGRATIONS_DIR}/${name}: migration files must be named NNN_lower_case.${EXT}")
  endif()
  string(REGEX REPLACE "\\.${EXT}$" "" version "${name}")
  file(READ ${MIGRATIONS_DIR}/${name} hex HEX)
  if(hex STREQUAL "")
    message(FATAL_ERROR "${MIGRATIONS_DIR}/${name} is empty")
  endif()
  # 32 bytes per source line.
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" escaped "${hex}")
  string(REPEAT "\\\\x[0-9a-f][0-9a-f]" 32 line_pattern)
  string(REGEX REPLACE "(${line_pattern})" "\\1\"\n    \"" escaped "${escaped}")
  string(APPEND arrays "// ${name}\nconstexpr char kText${index}[] =\n    \"${escaped}\";\n\n")
  string(APPEND entries "      {\"${version}\", std::string(kText${index}, sizeof(kText${index}) - 1)},\n")
  math(EXPR index "${index} + 1")
endforeach()

set(content "// Generated from ${MIGRATIONS_DIR} by cmake/EmbedMigrations.cmake. Do not edit.

#include <string>
#include <vector>

#include \"${HEADER}\"

namespace ${NAMESPACE} {
namespace {

${arrays}}  // namespace

const std::vector<Migration>& EmbeddedMigrations() {
  // Leaked on purpose: no destructor runs at exit while other threads may
  // still be reading it.
  static const auto* const migrations = new std::vector<Migration>{
${entries}  };
  return *migrations;
}

}  // namespace ${NAMESPACE}
")

file(WRITE ${OUTPUT} "${content}")
