# Install test for uvasync, run by ctest as
#   cmake -DUVASYNC_BUILD_DIR=... -DWORK_DIR=... -DCONSUMER_SOURCE_DIR=... \
#         -DINSTALL_LIBDIR=lib -DCONFIG=RelWithDebInfo -DGENERATOR=Ninja \
#         -DMAKE_PROGRAM=... -DCXX_COMPILER=... -DPKG_CONFIG=... \
#         -P run_install_test.cmake
#
# 1. installs the build tree into ${WORK_DIR}/prefix;
# 2. configures, builds and runs the consumer with find_package(uvasync),
#    checking that uvasync was found in that prefix;
# 3. checks `pkg-config --cflags --libs uvasync` against that prefix, and
#    builds and runs the consumer once more with those flags alone.
# Any failure is a FATAL_ERROR.

cmake_minimum_required(VERSION 3.25)

foreach(var UVASYNC_BUILD_DIR WORK_DIR CONSUMER_SOURCE_DIR INSTALL_LIBDIR CXX_COMPILER PKG_CONFIG)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_install_test.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT GENERATOR)
  set(GENERATOR "Ninja")
endif()

set(prefix "${WORK_DIR}/prefix")
set(consumer_build "${WORK_DIR}/consumer-build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# run_step(<what> <timeout seconds> <command...>): runs a command; on failure
# (or timeout) prints its output and stops the test.
function(run_step what timeout)
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE out
    ERROR_VARIABLE out
    TIMEOUT ${timeout})
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install test: ${what} failed (${rc}):\n${out}")
  endif()
  message(STATUS "install test: ${what}: ok")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# 1. Install.
set(install_args "${CMAKE_COMMAND}" --install "${UVASYNC_BUILD_DIR}" --prefix "${prefix}")
if(CONFIG)
  list(APPEND install_args --config "${CONFIG}")
endif()
run_step("cmake --install" 120 ${install_args})

foreach(f
    "include/uvasync/uvasync.hpp"
    "${INSTALL_LIBDIR}/cmake/uvasync/uvasyncConfig.cmake"
    "${INSTALL_LIBDIR}/cmake/uvasync/uvasyncConfigVersion.cmake"
    "${INSTALL_LIBDIR}/cmake/uvasync/uvasyncTargets.cmake"
    "${INSTALL_LIBDIR}/pkgconfig/uvasync.pc")
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "install test: ${prefix}/${f} was not installed")
  endif()
endforeach()

# 2. CMake consumer.
set(configure_args
  "${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE_DIR}" -B "${consumer_build}"
  -G "${GENERATOR}"
  "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
  "-DCMAKE_PREFIX_PATH=${prefix}"
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if(MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CONFIG)
  list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${CONFIG}")
endif()
run_step("configure consumer" 120 ${configure_args})

# The package warns about the GCC 12 trap exactly when the consumer's
# compiler is GCC < 13 (EXPECT_GCC12_WARNING), naming the rules' file.
string(FIND "${step_output}" "uvasync: GCC" gcc12_warning)
if(EXPECT_GCC12_WARNING AND gcc12_warning EQUAL -1)
  message(FATAL_ERROR "install test: no GCC 12 warning at the consumer's configure:\n${step_output}")
elseif(NOT EXPECT_GCC12_WARNING AND NOT gcc12_warning EQUAL -1)
  message(FATAL_ERROR "install test: a GCC 12 warning with another compiler:\n${step_output}")
endif()
if(EXPECT_GCC12_WARNING AND NOT EXISTS "${prefix}/share/doc/uvasync/gcc12.md")
  message(FATAL_ERROR "install test: the warning names ${prefix}/share/doc/uvasync/gcc12.md, which was not installed")
endif()

# The consumer must have found the package just installed, not another one.
file(STRINGS "${consumer_build}/CMakeCache.txt" found_dir REGEX "^uvasync_DIR:")
string(REGEX REPLACE "^uvasync_DIR:[A-Z]+=" "" found_dir "${found_dir}")
file(REAL_PATH "${found_dir}" found_dir)
file(REAL_PATH "${prefix}" real_prefix)
string(FIND "${found_dir}" "${real_prefix}/" pos)
if(NOT pos EQUAL 0)
  message(FATAL_ERROR "install test: consumer found uvasync in '${found_dir}', not under '${real_prefix}'")
endif()

set(build_args "${CMAKE_COMMAND}" --build "${consumer_build}")
if(CONFIG)
  list(APPEND build_args --config "${CONFIG}")
endif()
run_step("build consumer" 300 ${build_args})

file(GLOB_RECURSE consumer_exe LIST_DIRECTORIES false "${consumer_build}/uvasync_consumer")
if(NOT consumer_exe)
  message(FATAL_ERROR "install test: consumer executable not found under ${consumer_build}")
endif()
list(GET consumer_exe 0 consumer_exe)
run_step("run consumer (find_package)" 60 "${consumer_exe}")

# 3. pkg-config.
set(ENV{PKG_CONFIG_PATH} "${prefix}/${INSTALL_LIBDIR}/pkgconfig")
run_step("pkg-config --cflags --libs uvasync" 60 "${PKG_CONFIG}" --cflags --libs uvasync)
string(STRIP "${step_output}" pc_flags)
message(STATUS "install test: pkg-config flags: ${pc_flags}")
foreach(expected "-I" "-luvasync" "-luv")
  string(FIND " ${pc_flags} " " ${expected}" pos)
  if(pos EQUAL -1)
    message(FATAL_ERROR "install test: pkg-config output lacks ${expected}: '${pc_flags}'")
  endif()
endforeach()

separate_arguments(pc_flag_list UNIX_COMMAND "${pc_flags}")
set(pc_exe "${WORK_DIR}/uvasync_consumer_pkgconfig")
run_step("build consumer with pkg-config flags" 300
  "${CXX_COMPILER}" -std=c++20 "${CONSUMER_SOURCE_DIR}/main.cpp" -o "${pc_exe}" ${pc_flag_list})
# pkg-config adds no rpath: with BUILD_SHARED_LIBS the loader needs the path.
set(ENV{LD_LIBRARY_PATH} "${prefix}/${INSTALL_LIBDIR}:$ENV{LD_LIBRARY_PATH}")
run_step("run consumer (pkg-config)" 60 "${pc_exe}")

message(STATUS "install test: passed")
