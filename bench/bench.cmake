# Benchmarks (not tests): programs that print tables; run them by hand.
add_executable(bench_gemm ${CMAKE_SOURCE_DIR}/bench/gemm_bench.c)
target_include_directories(bench_gemm PRIVATE ${CMAKE_SOURCE_DIR}/src)
target_compile_options(bench_gemm PRIVATE ${EML_WARNINGS})
target_link_libraries(bench_gemm PRIVATE edgeml)
