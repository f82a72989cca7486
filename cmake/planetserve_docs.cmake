# SPDX-License-Identifier: MIT
# The `docs` target: Doxygen reference pages from the installed headers' /// comments, failing on
# any undocumented public name. Needs doxygen (cmake/install-deps.sh --docs).
find_package(Doxygen QUIET)
if(DOXYGEN_FOUND)
  set(DOCS_OUTPUT ${PROJECT_BINARY_DIR}/docs)
  set(DOCS_MAINPAGE ${PROJECT_SOURCE_DIR}/docs/getting_started.md)
  # The headers installed for users, the generated version.hpp among them.
  set(DOCS_INPUT "${PROJECT_SOURCE_DIR}/lib/include ${PROJECT_BINARY_DIR}/lib/include ${DOCS_MAINPAGE}")
  set(DOCS_STRIP "${PROJECT_SOURCE_DIR}/lib/include ${PROJECT_BINARY_DIR}/lib/include")
  configure_file(${PROJECT_SOURCE_DIR}/docs/Doxyfile.in ${DOCS_OUTPUT}/Doxyfile @ONLY)
  add_custom_target(docs
    COMMAND ${DOXYGEN_EXECUTABLE} ${DOCS_OUTPUT}/Doxyfile
    COMMAND ${CMAKE_COMMAND} -E echo "docs: ${DOCS_OUTPUT}/html/index.html"
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    COMMENT "Doxygen: reference pages (fails on undocumented public names)"
    VERBATIM)
else()
  add_custom_target(docs
    COMMAND ${CMAKE_COMMAND} -E echo "docs: doxygen not found; run cmake/install-deps.sh --docs, then re-run cmake"
    COMMAND ${CMAKE_COMMAND} -E false
    VERBATIM)
endif()
