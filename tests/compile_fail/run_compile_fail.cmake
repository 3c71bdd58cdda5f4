# One compile-fail test, run by ctest as
#   cmake -DBUILD_DIR=... -DTARGET=... -DSOURCE=... [-DCONFIG=...] -P run_compile_fail.cmake
#
# Builds TARGET (an object library of the one file SOURCE, compiled with the
# library's compiler and flags plus -fsyntax-only) and passes only when the
# build fails with output matching the regular expression of SOURCE's
# `// expect: <regex>` line.

foreach(var BUILD_DIR TARGET SOURCE)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_compile_fail.cmake: -D${var}=... is required")
  endif()
endforeach()

file(STRINGS "${SOURCE}" expect_lines REGEX "^// expect: ")
list(LENGTH expect_lines n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "${SOURCE}: needs exactly one `// expect: <regex>` line (found ${n})")
endif()
string(REGEX REPLACE "^// expect: " "" expect "${expect_lines}")

set(build_args "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target "${TARGET}")
if(CONFIG)
  list(APPEND build_args --config "${CONFIG}")
endif()
execute_process(COMMAND ${build_args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out TIMEOUT 300)

if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it must not:\n${out}")
endif()
if(NOT out MATCHES "${expect}")
  message(FATAL_ERROR "${SOURCE} failed to compile, but without a match for `${expect}`:\n${out}")
endif()
message(STATUS "${SOURCE}: refused as expected (`${expect}`)")
