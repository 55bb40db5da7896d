# Helpers that give every DTS target the same flags.
#
#   dts_library(NAME SOURCES ... DEPS ...)
#   dts_test(NAME SOURCES ... DEPS ... [LABELS ...])

function(dts_apply_flags target)
  target_compile_options(${target} PRIVATE ${DTS_WARNING_FLAGS})
endfunction()

function(dts_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name}
    PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  dts_apply_flags(${name})
endfunction()

function(dts_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  dts_apply_flags(${name})
  # One label only: gtest_discover_tests flattens a list value, so "a;b"
  # would turn b into a property name. Tests that need a server carry that
  # server's label (kafka, cassandra) instead of `unit`.
  set(label unit)
  if(ARG_LABELS)
    set(label ${ARG_LABELS})
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS ${label})
endfunction()

# dts_embed_migrations(OUT_VAR BACKEND EXT NAMESPACE): compiles
# migrations/<BACKEND>/*.<EXT> into a generated source (cmake/EmbedMigrations.cmake)
# whose path goes into OUT_VAR, so `dts migrate` needs no source tree.
# CONFIGURE_DEPENDS re-globs on every build, so a new file is picked up
# without re-running cmake by hand; DEPENDS regenerates on edits. The
# directory is also set in DTS_<BACKEND>_MIGRATIONS_DIR for tests.
function(dts_embed_migrations out_var backend ext namespace)
  string(TOUPPER ${backend} upper)
  set(dir ${PROJECT_SOURCE_DIR}/migrations/${backend})
  file(GLOB files CONFIGURE_DEPENDS ${dir}/*.${ext})
  set(output ${CMAKE_CURRENT_BINARY_DIR}/embedded_migrations.cc)
  add_custom_command(
    OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -DMIGRATIONS_DIR=${dir} -DEXT=${ext}
            -DHEADER=storage/${backend}/migrations.h -DNAMESPACE=${namespace}
            -DOUTPUT=${output} -P ${PROJECT_SOURCE_DIR}/cmake/EmbedMigrations.cmake
    DEPENDS ${files} ${PROJECT_SOURCE_DIR}/cmake/EmbedMigrations.cmake
    COMMENT "Embedding ${backend} migrations"
    VERBATIM)
  set(${out_var} ${output} PARENT_SCOPE)
  set(DTS_${upper}_MIGRATIONS_DIR ${dir} PARENT_SCOPE)
endfunction()
