# Writes a C++ source holding every migrations/cassandra/NNN_name.cql, so the
# binary can migrate a database without the source tree (`dts migrate` from
# any directory). Run at build time by CMakeLists.txt:
#
#   cmake -DMIGRATIONS_DIR=<dir> -DOUTPUT=<file.cc> -P embed_migrations.cmake
#
# Bytes are written as \x escapes, so no CQL text can break the literal.

if(NOT MIGRATIONS_DIR OR NOT OUTPUT)
  message(FATAL_ERROR "usage: cmake -DMIGRATIONS_DIR=... -DOUTPUT=... -P embed_migrations.cmake")
endif()

file(GLOB files RELATIVE ${MIGRATIONS_DIR} ${MIGRATIONS_DIR}/*.cql)
list(SORT files)

set(arrays "")
set(entries "")
set(index 0)
foreach(name IN LISTS files)
  # Fixed-width numbers keep lexical order equal to numeric order.
  if(NOT name MATCHES "^[0-9][0-9][0-9]_[a-z0-9_]+\\.cql$")
    message(FATAL_ERROR "${MIGRATIONS_DIR}/${name}: migration files must be named NNN_lower_case.cql")
  endif()
  string(REGEX REPLACE "\\.cql$" "" version "${name}")
  file(READ ${MIGRATIONS_DIR}/${name} hex HEX)
  if(hex STREQUAL "")
    message(FATAL_ERROR "${MIGRATIONS_DIR}/${name} is empty")
  endif()
  # 32 bytes per source line.
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" escaped "${hex}")
  string(REPEAT "\\\\x[0-9a-f][0-9a-f]" 32 line_pattern)
  string(REGEX REPLACE "(${line_pattern})" "\\1\"\n    \"" escaped "${escaped}")
  string(APPEND arrays "// ${name}\nconstexpr char kCql${index}[] =\n    \"${escaped}\";\n\n")
  string(APPEND entries "      {\"${version}\", std::string(kCql${index}, sizeof(kCql${index}) - 1)},\n")
  math(EXPR index "${index} + 1")
endforeach()

set(content "// Generated from ${MIGRATIONS_DIR} by embed_migrations.cmake. Do not edit.

#include <string>
#include <vector>

#include \"storage/cassandra/migrations.h\"

namespace dts::storage::cassandra_internal {
namespace {

${arrays}}  // namespace

const std::vector<Migration>& EmbeddedMigrations() {
  // Leaked on purpose: no destructor runs at exit while other threads may
  // still be reading it.
  static const auto* const migrations = new std::vector<Migration>{
${entries}  };
  return *migrations;
}

}  // namespace dts::storage::cassandra_internal
")

file(WRITE ${OUTPUT} "${content}")
