# Compiler launcher, linker and sanitizer settings shared by every target.

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  # Paths under the source tree are hashed relative to it, so a fresh clone
  # in another folder (CI) reuses what an earlier build compiled.
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CMAKE_COMMAND} -E env CCACHE_BASEDIR=${CMAKE_SOURCE_DIR}
      CCACHE_NOHASHDIR=1 ${CCACHE_PROGRAM})
  set(CMAKE_C_COMPILER_LAUNCHER ${CMAKE_CXX_COMPILER_LAUNCHER})
endif()

find_program(MOLD_PROGRAM mold)
if(MOLD_PROGRAM AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  add_link_options(-fuse-ld=mold)
endif()

if(DTS_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

if(DTS_FUZZ)
  # Instrument every library for coverage; the fuzzer binaries add the driver.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
endif()

# Warnings for our own code only; generated code (protobuf) does not use this.
set(DTS_WARNING_FLAGS -Wall -Wextra -Werror -Wnon-virtual-dtor)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND DTS_WARNING_FLAGS -Wshadow=local)
endif()
if(DTS_SANITIZE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC's flow analysis under -fsanitize=address reports false
  # -Wmaybe-uninitialized in Boost.Beast's parser headers.
  list(APPEND DTS_WARNING_FLAGS -Wno-maybe-uninitialized)
endif()
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  # GCC 12 reports false -Wrestrict positives in libstdc++ string code under C++20.
  list(APPEND DTS_WARNING_FLAGS -Wno-restrict)
endif()
