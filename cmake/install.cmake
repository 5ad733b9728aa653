# `cmake --install` installs the libraries, their headers and a CMake package
# config, so another project can `find_package(taskdex)` and link taskdex::api.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS taskdex_index taskdex_engine taskdex_api taskdex_warnings
        EXPORT taskdexTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(TARGET taskdex)
  install(TARGETS taskdex RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
foreach(folder index engine api)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${folder}/
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/taskdex/${folder}
          FILES_MATCHING PATTERN "*.h" PATTERN "internal" EXCLUDE)
endforeach()
install(EXPORT taskdexTargets NAMESPACE taskdex::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/taskdex)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/taskdexConfig.cmake.in
  ${PROJECT_BINARY_DIR}/taskdexConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/taskdex)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/taskdexConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/taskdexConfig.cmake
              ${PROJECT_BINARY_DIR}/taskdexConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/taskdex)
