# Turns the console's files (every file in DIR, i.e. server/ui/) into C: one byte array per file and
# the UI_ASSETS table of ui_assets.h, written to OUT. Run at build time by a rule in CMakeLists.txt:
#   cmake -DOUT=ui_assets.c -DDIR=server/ui -P cmake/embed_assets.cmake
# No Node build step: the files are served exactly as they are in the tree.
file(GLOB names RELATIVE "${DIR}" "${DIR}/*")
list(FILTER names EXCLUDE REGEX "^\\.|~$")
list(SORT names)
set(body "/* Generated from server/ui by cmake/embed_assets.cmake at build time: do not edit. */\n")
string(APPEND body "#include \"nacos_mock/ui_assets.h\"\n\n")
set(table "")
set(i 0)
foreach(name IN LISTS names)
  file(READ "${DIR}/${name}" hex HEX)
  string(LENGTH "${hex}" hexlen)
  math(EXPR len "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REPEAT "0x..," 16 line)   # sixteen bytes a line keep the generated file readable
  string(REGEX REPLACE "(${line})" "\\1\n    " bytes "${bytes}")
  string(APPEND body "static const unsigned char ASSET_${i}[] = {\n    ${bytes}0x00};\n")
  string(APPEND table "    {\"${name}\", ASSET_${i}, ${len}},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND body "\nconst struct ui_asset UI_ASSETS[] = {\n${table}};\nconst size_t UI_ASSETS_N = ${i};\n")
file(WRITE "${OUT}.tmp" "${body}")
# replaced only when it changed, so an unchanged console does not recompile
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
file(REMOVE "${OUT}.tmp")
