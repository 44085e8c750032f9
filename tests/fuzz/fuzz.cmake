# Fuzz targets. Each tests/fuzz/fuzz_<target>.c defines LLVMFuzzerTestOneInput and is built twice:
# - always, with fuzz_main.c, as a corpus runner registered as the CTest test fuzz.<target> that
#   runs every seed of tests/fuzz/corpus/<target>/ (so the seeds are regression tests everywhere);
# - with EML_FUZZ=ON and clang, as a libFuzzer binary fuzz_<target> (-fsanitize=fuzzer,address,
#   undefined); the library is then instrumented for coverage and the sanitizers as well, and every
#   program linking it gets the sanitizer runtimes. scripts/fuzz.sh drives it.
set(EML_FUZZ_TARGETS npy tensor_pb onnx_load image)
list(APPEND EML_FUZZ_TARGETS oip_request)
set(EML_FUZZ_DIR ${CMAKE_SOURCE_DIR}/tests/fuzz)

set(EML_LIBFUZZER OFF)
if(EML_FUZZ)
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    set(EML_LIBFUZZER ON)
    set(EML_FUZZ_SAN -fsanitize=address,undefined -fno-sanitize-recover=undefined
                     -fno-omit-frame-pointer)
    target_compile_options(edgeml PRIVATE -fsanitize=fuzzer-no-link ${EML_FUZZ_SAN})
    target_compile_options(eml_onnx_proto PRIVATE -fsanitize=fuzzer-no-link ${EML_FUZZ_SAN})
    target_link_options(edgeml INTERFACE -fsanitize=address,undefined)
  else()
    message(WARNING "EML_FUZZ needs clang (libFuzzer); building only the corpus runners")
  endif()
endif()

foreach(target ${EML_FUZZ_TARGETS})
  set(runner fuzz_${target}_corpus)
  add_executable(${runner} ${EML_FUZZ_DIR}/fuzz_${target}.c ${EML_FUZZ_DIR}/fuzz_main.c)
  target_compile_options(${runner} PRIVATE ${EML_WARNINGS})
  target_link_libraries(${runner} PRIVATE edgeml)
  # fuzz_image.c includes formats/image.h
  target_include_directories(${runner} PRIVATE ${CMAKE_SOURCE_DIR}/src)
  add_test(NAME fuzz.${target} COMMAND ${runner} ${EML_FUZZ_DIR}/corpus/${target})
  set_tests_properties(fuzz.${target} PROPERTIES LABELS fuzz SKIP_RETURN_CODE 77
                       ENVIRONMENT "${EML_TEST_ENV}")
  if(EML_LIBFUZZER)
    add_executable(fuzz_${target} ${EML_FUZZ_DIR}/fuzz_${target}.c)
    target_compile_options(fuzz_${target} PRIVATE ${EML_WARNINGS} -fsanitize=fuzzer ${EML_FUZZ_SAN})
    target_link_options(fuzz_${target} PRIVATE -fsanitize=fuzzer ${EML_FUZZ_SAN})
    target_link_libraries(fuzz_${target} PRIVATE edgeml)
    target_include_directories(fuzz_${target} PRIVATE ${CMAKE_SOURCE_DIR}/src)
  endif()
endforeach()
