# Install rules, the CMake package and pkg-config files, a Debian package
# (CPack), and the tests that use the installed tree.
#
#   cmake --install build --prefix /usr/local   # or: cd build && cpack -G DEB
#
# installs
#   lib/manifold.so                     the SQLite extension (.load /usr/local/lib/manifold)
#   lib/libmanifold_engines.a           the engines as a static C++ library
#   include/manifold/*.h                its interface
#   lib/cmake/manifold/                 find_package(manifold) -> manifold::engines
#   lib/pkgconfig/manifold.pc           pkg-config --cflags --libs manifold
#
# Included at the end of the top CMakeLists.txt, once every target exists.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(MANIFOLD_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/manifold)

# The engine library's public include directories are source paths while
# building and the installed include directory once installed.
get_target_property(manifold_engine_includes manifold_engines INTERFACE_INCLUDE_DIRECTORIES)
set(manifold_wrapped_includes "")
foreach(dir ${manifold_engine_includes})
  list(APPEND manifold_wrapped_includes "$<BUILD_INTERFACE:${dir}>")
endforeach()
list(APPEND manifold_wrapped_includes "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")
set_target_properties(manifold_engines PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${manifold_wrapped_includes}"
  EXPORT_NAME engines)
# The interface headers are C++20; a consumer linking manifold::engines gets it.
set_property(TARGET manifold_engines APPEND PROPERTY INTERFACE_COMPILE_FEATURES cxx_std_20)

# The libraries the engines link, found by pkg-config here, must be found the
# same way by a consumer: collect the PkgConfig::<VAR> targets the engine
# library uses and name each one's pkg-config module and Debian package.
set(manifold_pkg_module_SQLITE3 sqlite3)
set(manifold_pkg_debian_SQLITE3 libsqlite3-dev)
set(manifold_pkg_module_LMDB lmdb)
set(manifold_pkg_debian_LMDB liblmdb-dev)
set(manifold_pkg_module_ROCKSDB rocksdb)
set(manifold_pkg_debian_ROCKSDB librocksdb-dev)
set(manifold_pkg_module_ZSTD libzstd)
set(manifold_pkg_debian_ZSTD libzstd-dev)
get_target_property(manifold_engine_links manifold_engines INTERFACE_LINK_LIBRARIES)
string(REGEX MATCHALL "PkgConfig::[A-Za-z0-9_]+" manifold_pkg_targets "${manifold_engine_links}")
list(REMOVE_DUPLICATES manifold_pkg_targets)
set(MANIFOLD_PKG_DEPENDENCIES "")  # VAR;module;debian package, repeated (for the config file)
set(MANIFOLD_PC_REQUIRES "")       # module names (for manifold.pc)
foreach(target ${manifold_pkg_targets})
  string(REPLACE "PkgConfig::" "" var ${target})
  if(NOT DEFINED manifold_pkg_module_${var})
    message(FATAL_ERROR "cmake/install.cmake: manifold_engines links ${target}: "
                        "add its pkg-config module and Debian package to the list above")
  endif()
  list(APPEND MANIFOLD_PKG_DEPENDENCIES ${var} ${manifold_pkg_module_${var}}
       ${manifold_pkg_debian_${var}})
  list(APPEND MANIFOLD_PC_REQUIRES ${manifold_pkg_module_${var}})
endforeach()
string(REPLACE ";" " " MANIFOLD_PC_REQUIRES "${MANIFOLD_PC_REQUIRES}")

install(TARGETS manifold_engines EXPORT manifoldTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/engines/include/manifold
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
# The extension is a plugin, not a library to link: no lib prefix, no soname,
# so that `.load <libdir>/manifold` finds sqlite3_manifold_init by its name.
install(TARGETS manifold LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

install(EXPORT manifoldTargets NAMESPACE manifold:: DESTINATION ${MANIFOLD_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/manifoldConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/manifoldConfig.cmake
                              INSTALL_DESTINATION ${MANIFOLD_CMAKE_DIR}
                              PATH_VARS CMAKE_INSTALL_LIBDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/manifoldConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/manifoldConfig.cmake
              ${PROJECT_BINARY_DIR}/manifoldConfigVersion.cmake
        DESTINATION ${MANIFOLD_CMAKE_DIR})

# manifold.pc finds the prefix from its own place, so the installed tree can
# be moved (and --prefix chosen at install time) without editing it.
file(RELATIVE_PATH MANIFOLD_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" MANIFOLD_PC_TO_PREFIX "${MANIFOLD_PC_TO_PREFIX}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/manifold.pc.in ${PROJECT_BINARY_DIR}/manifold.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/manifold.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# A Debian package of the same tree under /usr: cd build && cpack -G DEB.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME manifold)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "SQLite virtual tables backed by key-value engines (LMDB, RocksDB, B+tree, memory)")
set(CPACK_PACKAGE_CONTACT "manifold developers")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
# The package ships manifold.so without its debug information, compressed
# with gzip (quick to build; dpkg reads every compression).
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)
# manifold.so's run-time libraries, from its ELF dependencies; the -dev
# packages are what a C++ consumer of the headers and static library needs.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
string(REPLACE ";" ", " manifold_dev_packages "libsqlite3-dev;liblmdb-dev;librocksdb-dev;libzstd-dev")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "sqlite3, ${manifold_dev_packages}")
include(CPack)

# The tests: install into a temporary prefix and build a one-file consumer
# against it, with find_package and with pkg-config; list the Debian package;
# open a database holding manifold tables in a sqlite3 shell without manifold.
if(MANIFOLD_BUILD_TESTS)
  set(manifold_consumer_flags "")
  if(MANIFOLD_SANITIZE)
    # The installed static library is instrumented: its consumer must link the runtimes.
    set(manifold_consumer_flags "-fsanitize=address,undefined")
  endif()
  set(manifold_install_test ${PROJECT_SOURCE_DIR}/tests/install/install_test.sh)
  foreach(mode find_package pkg_config)
    add_test(NAME install_${mode}
             COMMAND sh ${manifold_install_test} ${mode} ${PROJECT_BINARY_DIR}
                     ${PROJECT_SOURCE_DIR}/tests/install/consumer ${CMAKE_COMMAND}
                     ${CMAKE_CXX_COMPILER} "${manifold_consumer_flags}")
    set_tests_properties(install_${mode} PROPERTIES
      PASS_REGULAR_EXPRESSION "consumer: memory engine read back 'installed'"
      SKIP_RETURN_CODE 77 TIMEOUT 300)
  endforeach()
  if(NOT MANIFOLD_SANITIZE)
    # A package is made from a plain build; packaging the instrumented one
    # would only test cpack again, slowly.
    add_test(NAME install_deb
             COMMAND sh ${manifold_install_test} deb ${PROJECT_BINARY_DIR}
                     ${PROJECT_SOURCE_DIR}/tests/install/consumer ${CMAKE_COMMAND}
                     ${CMAKE_CXX_COMPILER} "${manifold_consumer_flags}")
    set_tests_properties(install_deb PROPERTIES PASS_REGULAR_EXPRESSION "deb: ok"
                         SKIP_RETURN_CODE 77 TIMEOUT 300)
  endif()
  add_test(NAME without_extension
           COMMAND sh ${PROJECT_SOURCE_DIR}/tests/install/without_extension_test.sh
                   $<TARGET_FILE_DIR:manifold>/manifold)
  set_tests_properties(without_extension PROPERTIES PASS_REGULAR_EXPRESSION
                       "without extension: ok" SKIP_RETURN_CODE 77)
  if(MANIFOLD_SANITIZE)
    # As for the SQL script tests: the sqlite3 shell that loads the
    # instrumented manifold.so is not instrumented itself.
    set_tests_properties(without_extension PROPERTIES ENVIRONMENT
      "LD_PRELOAD=${MANIFOLD_ASAN_RUNTIME};ASAN_OPTIONS=detect_leaks=0:abort_on_error=1")
  endif()
endif()
