# Test executables: every EML_TEST(name) in a test source becomes its own CTest test.
set(EML_SHARED_DIR ${CMAKE_SOURCE_DIR}/../shared CACHE PATH "The shared folder (models, bench)")
set(EML_TEST_ENV "EML_SOURCE_DIR=${CMAKE_SOURCE_DIR};EML_SHARED_DIR=${EML_SHARED_DIR};EML_BINARY_DIR=${CMAKE_BINARY_DIR}")

add_library(eml_test_harness STATIC ${CMAKE_SOURCE_DIR}/tests/harness.c)
target_include_directories(eml_test_harness PUBLIC ${CMAKE_SOURCE_DIR}/tests ${CMAKE_SOURCE_DIR}/src ${GEN_DIR})
target_link_libraries(eml_test_harness PUBLIC edgeml)

function(eml_add_test_file src)
  get_filename_component(name ${src} NAME_WE)
  get_filename_component(dir ${src} DIRECTORY)
  get_filename_component(kind ${dir} NAME)
  set(exe test_${kind}_${name})
  add_executable(${exe} ${src})
  target_compile_options(${exe} PRIVATE ${EML_WARNINGS})
  target_link_libraries(${exe} PRIVATE eml_test_harness)
  file(STRINGS ${src} lines REGEX "^EML_TEST\\([a-z0-9_]+\\)")
  foreach(line ${lines})
    string(REGEX REPLACE "^EML_TEST\\(([a-z0-9_]+)\\).*" "\\1" case ${line})
    add_test(NAME ${kind}.${name}.${case} COMMAND ${exe} ${case})
    set_tests_properties(${kind}.${name}.${case} PROPERTIES ENVIRONMENT "${EML_TEST_ENV}" LABELS ${kind}
                         SKIP_RETURN_CODE 77)
  endforeach()
endfunction()

file(GLOB EML_TEST_SOURCES CONFIGURE_DEPENDS
     ${CMAKE_SOURCE_DIR}/tests/unit/*.c
     ${CMAKE_SOURCE_DIR}/tests/conformance/*.c
     ${CMAKE_SOURCE_DIR}/tests/integration/*.c)
foreach(src ${EML_TEST_SOURCES})
  eml_add_test_file(${src})
endforeach()

if(EXISTS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz.cmake)
  include(${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz.cmake)
endif()

# The TLS fleet test (tests/integration/test_mqtt_tls.c) runs a real edgemld node.
if(TARGET test_integration_test_mqtt_tls)
  add_dependencies(test_integration_test_mqtt_tls edgemld)
endif()
