# Replays the fuzz corpora and every committed crash input with the normal (gcc, no libFuzzer)
# build: one executable per harness (replay.c as main() + the harness), one ctest each.
# Included from tests/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/fuzz/replay.cmake)

set(NM_FUZZ_REPLAY_HARNESSES params metadata beat faults registry grpc listening)
foreach(h IN LISTS NM_FUZZ_REPLAY_HARNESSES)
  add_executable(fuzz_replay_${h} ${CMAKE_CURRENT_LIST_DIR}/replay.c ${CMAKE_CURRENT_LIST_DIR}/fuzz_${h}.c)
  target_link_libraries(fuzz_replay_${h} PRIVATE nacos_mock_core)
  add_test(NAME fuzz_replay_${h}
           COMMAND fuzz_replay_${h} ${CMAKE_CURRENT_LIST_DIR}/corpus/${h} ${CMAKE_CURRENT_LIST_DIR}/regressions/${h})
  set_tests_properties(fuzz_replay_${h} PROPERTIES TIMEOUT 300 LABELS fuzz)
endforeach()

# The generator of fuzz_grpc's seed corpus (not a test): nm_grpc_seeds tests/fuzz/corpus/grpc
add_executable(nm_grpc_seeds ${CMAKE_CURRENT_LIST_DIR}/grpc_seeds.c)
target_link_libraries(nm_grpc_seeds PRIVATE nacos_mock_core PkgConfig::NGHTTP2)
