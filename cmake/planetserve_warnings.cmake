# SPDX-License-Identifier: MIT
# Warning flags for our own targets; Boost comes in as SYSTEM so its warnings are not ours.
function(planetserve_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wconversion -Wno-sign-conversion
    -Wimplicit-fallthrough
    # Designated initializers of config aggregates leave the rest defaulted on purpose.
    -Wno-missing-field-initializers)
  if(PLANETSERVE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
