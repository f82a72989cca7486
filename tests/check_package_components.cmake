# SPDX-License-Identifier: MIT
# find_package(planetserve COMPONENTS ...) against the staged install (ctest script mode):
# `core` alone configures and gives planetserve::core; an unknown component fails, naming itself.
function(configure_with components expect_success expect_text)
  set(dir ${BINARY}/${components})
  string(REPLACE ";" "_" dir "${dir}")
  file(MAKE_DIRECTORY ${dir}/src)
  file(WRITE ${dir}/src/CMakeLists.txt
    "cmake_minimum_required(VERSION 3.25)\n"
    "project(components_check LANGUAGES CXX)\n"
    "find_package(planetserve CONFIG REQUIRED COMPONENTS ${components})\n"
    "if(NOT TARGET planetserve::core)\n  message(FATAL_ERROR \"no planetserve::core\")\nendif()\n")
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${dir}/src -B ${dir}/build -DCMAKE_PREFIX_PATH=${STAGE}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(expect_success AND NOT rc EQUAL 0)
    message(FATAL_ERROR "COMPONENTS ${components}: configure failed:\n${out}${err}")
  elseif(NOT expect_success AND rc EQUAL 0)
    message(FATAL_ERROR "COMPONENTS ${components}: configure succeeded; it should fail")
  endif()
  string(REGEX REPLACE "[ \t\r\n]+" " " flat "${out}${err}")
  if(NOT flat MATCHES "${expect_text}")
    message(FATAL_ERROR "COMPONENTS ${components}: expected '${expect_text}' in:\n${out}${err}")
  endif()
  message(STATUS "COMPONENTS ${components}: as expected")
endfunction()

configure_with("core" TRUE "")
configure_with("core;net" TRUE "")
configure_with("core;gpu" FALSE "planetserve has no component 'gpu'")
