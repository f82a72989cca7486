# SPDX-License-Identifier: MIT
# Install rules and the exported package config, so find_package(planetserve) works.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS planetserve_core planetserve_net planetserve EXPORT planetserveTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# Headers only: the impl/*.ipp bodies are compiled into the libraries and no header includes them.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/lib/include/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp" PATTERN "impl" EXCLUDE)
install(FILES ${PROJECT_BINARY_DIR}/lib/include/planetserve/version.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/planetserve)
install(EXPORT planetserveTargets NAMESPACE planetserve::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/planetserve)

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/planetserveConfig.cmake.in
  ${PROJECT_BINARY_DIR}/planetserveConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/planetserve)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/planetserveConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/planetserveConfig.cmake
  ${PROJECT_BINARY_DIR}/planetserveConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/planetserve)
