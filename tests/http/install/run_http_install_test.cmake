# Install test for uvasync::http, run by ctest as
#   cmake -DUVASYNC_BUILD_DIR=... -DWORK_DIR=... -DCONSUMER_SOURCE_DIR=... \
#         -DINSTALL_LIBDIR=lib -DCONFIG=... -DGENERATOR=Ninja -DMAKE_PROGRAM=... \
#         -DCXX_COMPILER=... -DPKG_CONFIG=... -P run_http_install_test.cmake
#
# 1. installs the build tree into ${WORK_DIR}/prefix;
# 2. builds and runs the consumer with find_package(uvasync COMPONENTS http);
# 3. builds and runs it again with `pkg-config --cflags --libs uvasync-http`.
cmake_minimum_required(VERSION 3.25)

foreach(var UVASYNC_BUILD_DIR WORK_DIR CONSUMER_SOURCE_DIR INSTALL_LIBDIR CXX_COMPILER PKG_CONFIG)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_http_install_test.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT GENERATOR)
  set(GENERATOR "Ninja")
endif()

set(prefix "${WORK_DIR}/prefix")
set(consumer_build "${WORK_DIR}/consumer-build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run_step what timeout)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out TIMEOUT ${timeout})
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "http install test: ${what} failed (${rc}):\n${out}")
  endif()
  message(STATUS "http install test: ${what}: ok")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

set(install_args "${CMAKE_COMMAND}" --install "${UVASYNC_BUILD_DIR}" --prefix "${prefix}")
if(CONFIG)
  list(APPEND install_args --config "${CONFIG}")
endif()
run_step("cmake --install" 120 ${install_args})
foreach(f
    "include/uvasync/http.hpp"
    "include/uvasync/http/server.hpp"
    "${INSTALL_LIBDIR}/cmake/uvasync/uvasyncHttpTargets.cmake"
    "${INSTALL_LIBDIR}/pkgconfig/uvasync-http.pc")
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "http install test: ${prefix}/${f} was not installed")
  endif()
endforeach()

set(configure_args
  "${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE_DIR}" -B "${consumer_build}" -G "${GENERATOR}"
  "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if(MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CONFIG)
  list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${CONFIG}")
endif()
run_step("configure consumer" 120 ${configure_args})
run_step("build consumer" 300 "${CMAKE_COMMAND}" --build "${consumer_build}")
file(GLOB_RECURSE consumer_exe LIST_DIRECTORIES false "${consumer_build}/uvasync_http_consumer")
if(NOT consumer_exe)
  message(FATAL_ERROR "http install test: consumer executable not found under ${consumer_build}")
endif()
list(GET consumer_exe 0 consumer_exe)
run_step("run consumer (find_package)" 60 "${consumer_exe}")

set(ENV{PKG_CONFIG_PATH} "${prefix}/${INSTALL_LIBDIR}/pkgconfig")
run_step("pkg-config --cflags --libs uvasync-http" 60 "${PKG_CONFIG}" --cflags --libs uvasync-http)
string(STRIP "${step_output}" pc_flags)
foreach(expected "-luvasync_http" "-luvasync" "-lcurl" "-luv")
  string(FIND " ${pc_flags} " " ${expected} " pos)
  if(pos EQUAL -1)
    message(FATAL_ERROR "http install test: pkg-config output lacks ${expected}: '${pc_flags}'")
  endif()
endforeach()
separate_arguments(pc_flag_list UNIX_COMMAND "${pc_flags}")
set(pc_exe "${WORK_DIR}/uvasync_http_consumer_pkgconfig")
run_step("build consumer with pkg-config flags" 300
  "${CXX_COMPILER}" -std=c++20 "${CONSUMER_SOURCE_DIR}/main.cpp" -o "${pc_exe}" ${pc_flag_list})
set(ENV{LD_LIBRARY_PATH} "${prefix}/${INSTALL_LIBDIR}:$ENV{LD_LIBRARY_PATH}")
run_step("run consumer (pkg-config)" 60 "${pc_exe}")
message(STATUS "http install test: passed")
