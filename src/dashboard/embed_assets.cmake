# Writes a C++ source holding every file of the dashboard's assets/ directory,
# so `dts` serves the dashboard without the source tree or a network. Run at
# build time by CMakeLists.txt:
#
#   cmake -DASSETS_DIR=<dir> -DOUTPUT=<file.cc> -P embed_assets.cmake
#
# Bytes are written as \x escapes, so no file content can break the literal.
# Each file gets its Content-Type (from its extension; an unknown extension
# is an error) and an ETag (a SHA-256 prefix of its bytes).

if(NOT ASSETS_DIR OR NOT OUTPUT)
  message(FATAL_ERROR "usage: cmake -DASSETS_DIR=... -DOUTPUT=... -P embed_assets.cmake")
endif()

file(GLOB files RELATIVE ${ASSETS_DIR} ${ASSETS_DIR}/*)
list(SORT files)

set(arrays "")
set(entries "")
set(index 0)
foreach(name IN LISTS files)
  if(IS_DIRECTORY ${ASSETS_DIR}/${name})
    message(FATAL_ERROR "${ASSETS_DIR}/${name}: assets must be plain files (no subdirectories)")
  endif()
  if(NOT name MATCHES "^[a-z0-9][a-z0-9_.-]*$")
    message(FATAL_ERROR "${ASSETS_DIR}/${name}: asset names must be lower-case [a-z0-9_.-]")
  endif()
  if(name MATCHES "\\.html$")
    set(type "text/html; charset=utf-8")
  elseif(name MATCHES "\\.js$")
    set(type "text/javascript; charset=utf-8")
  elseif(name MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  elseif(name MATCHES "\\.svg$")
    set(type "image/svg+xml")
  elseif(name MATCHES "\\.png$")
    set(type "image/png")
  elseif(name MATCHES "\\.json$")
    set(type "application/json")
  else()
    message(FATAL_ERROR "${ASSETS_DIR}/${name}: no Content-Type known for this extension")
  endif()
  file(READ ${ASSETS_DIR}/${name} hex HEX)
  if(hex STREQUAL "")
    message(FATAL_ERROR "${ASSETS_DIR}/${name} is empty")
  endif()
  file(SHA256 ${ASSETS_DIR}/${name} sha)
  string(SUBSTRING "${sha}" 0 24 etag)
  # 32 bytes per source line.
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" escaped "${hex}")
  string(REPEAT "\\\\x[0-9a-f][0-9a-f]" 32 line_pattern)
  string(REGEX REPLACE "(${line_pattern})" "\\1\"\n    \"" escaped "${escaped}")
  string(APPEND arrays "// ${name}\nconstexpr char kAsset${index}[] =\n    \"${escaped}\";\n\n")
  string(APPEND entries
    "      {\"${name}\", \"${type}\", \"\\\"${etag}\\\"\", absl::string_view(kAsset${index}, sizeof(kAsset${index}) - 1)},\n")
  math(EXPR index "${index} + 1")
endforeach()

if(index EQUAL 0)
  message(FATAL_ERROR "${ASSETS_DIR} holds no assets")
endif()

set(content "// Generated from ${ASSETS_DIR} by embed_assets.cmake. Do not edit.

#include <vector>

#include \"dashboard/assets.h\"

namespace dts::dashboard::internal {
namespace {

${arrays}}  // namespace

const std::vector<Asset>& EmbeddedAssets() {
  // Leaked on purpose: no destructor runs at exit while I/O threads may
  // still be serving it.
  static const auto* const assets = new std::vector<Asset>{
${entries}  };
  return *assets;
}

}  // namespace dts::dashboard::internal
")

file(WRITE ${OUTPUT} "${content}")
