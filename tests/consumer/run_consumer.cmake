# SPDX-License-Identifier: MIT
# Configures, builds and runs tests/consumer against the staged install (ctest script mode).
set(args -S ${SOURCE} -B ${BINARY} -G ${GENERATOR} -DCMAKE_PREFIX_PATH=${STAGE}
  -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=Debug)
if(LAUNCHER)
  list(APPEND args -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()
if(SANITIZE)
  list(APPEND args "-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined"
    "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined")
endif()
foreach(step IN ITEMS configure build run)
  if(step STREQUAL configure)
    set(cmd ${CMAKE_COMMAND} ${args})
  elseif(step STREQUAL build)
    set(cmd ${CMAKE_COMMAND} --build ${BINARY})
  else()
    set(cmd ${BINARY}/consumer)
  endif()
  execute_process(COMMAND ${cmd} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer ${step} failed (${rc})")
  endif()
endforeach()
