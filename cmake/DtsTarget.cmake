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
