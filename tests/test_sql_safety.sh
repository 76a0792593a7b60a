#!/usr/bin/env bash
# test_sql_safety.sh — proves that nacos-mock never builds SQL from strings (style.md: "SQLite:
# bound parameters only, statements prepared once, schema in one place").
#
# Usage: tests/test_sql_safety.sh [PROJECT_SOURCE_DIR]   (run by ctest as `sql_safety`)
#
# Rules, checked on the comment-stripped sources (a C tokenizer in awk, no compiler run):
#   1. `sqlite3_` appears only in server/store.c; <sqlite3.h> is included only there; no macro
#      body names a sqlite3_ function (it would hide a call).
#   2. Every sqlite3_prepare* takes STMT_SQL[i] or a string literal.
#   3. Every sqlite3_exec takes a string literal, a `static const char X[] = "literal"` (the
#      schema), or a parameter of its function — then that function is a wrapper and every call of
#      it is held to the same rule (transitively). The one formatted exception: a local buffer
#      written only by snprintf(buf, sizeof buf, "PRAGMA name=%d", INTEGER_MACRO) (PRAGMA
#      user_version cannot take a bound parameter).
#   4. No SQL text builders at all: sqlite3_mprintf/vmprintf/snprintf/vsnprintf, sqlite3_str_*.
#   5. STMT_SQL is `static const char *const`, every entry is made of string literals (and macros
#      that are string literals), and its values are only ?N placeholders: no bare `?`, no named
#      :a/@a/$a parameters, no `%`, N from 1 to 999.
#   6. No other file under server/ holds SQL text in a string literal.
# Then a self-test: the same checks run on copies of the tree with violations planted
# (sqlite3_exec(db, buf) built with snprintf, an asprintf'd prepare, ...), and each one must be
# caught — so this test is known to be able to fail.
set -u

ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
CC_BIN=${CC:-cc}
command -v "$CC_BIN" >/dev/null 2>&1 || CC_BIN=gcc

# Comment-stripped source on stdout (macros kept, nothing expanded).
strip_comments() {
    "$CC_BIN" -fpreprocessed -dD -E -P "$1" 2>/dev/null
}

AWK_PROG='
function tokenize(s,    n, i, c, j, L) {
    n = 0; i = 1; L = length(s)
    while (i <= L) {
        c = substr(s, i, 1)
        if (c ~ /[ \t\r\n\f\v]/) { i++; continue }
        if (c == "\"" || c == "\047") {
            j = i + 1
            while (j <= L && substr(s, j, 1) != c) { if (substr(s, j, 1) == "\\") j++; j++ }
            n++; TT[n] = (c == "\"") ? "str" : "chr"; TV[n] = substr(s, i + 1, j - i - 1)
            i = j + 1; continue
        }
        if (c ~ /[A-Za-z_]/) {
            j = i; while (j <= L && substr(s, j, 1) ~ /[A-Za-z0-9_]/) j++
            n++; TT[n] = "id"; TV[n] = substr(s, i, j - i); i = j; continue
        }
        if (c ~ /[0-9]/) {
            j = i; while (j <= L && substr(s, j, 1) ~ /[A-Za-z0-9_.]/) j++
            n++; TT[n] = "num"; TV[n] = substr(s, i, j - i); i = j; continue
        }
        if (substr(s, i, 2) == "->") { n++; TT[n] = "p"; TV[n] = "->"; i += 2; continue }
        n++; TT[n] = "p"; TV[n] = c; i++
    }
    return n
}
function bad(msg) { if (!(msg in SEEN)) { SEEN[msg] = 1; nbad++; print FILE ": " msg } }
# index of the token closing the bracket opened at i
function close_of(i,    d, k, o, cl) {
    o = V[i]; cl = (o == "(") ? ")" : (o == "[") ? "]" : "}"
    d = 0
    for (k = i; k <= N; k++) {
        if (V[k] == o && T[k] == "p") d++
        else if (V[k] == cl && T[k] == "p") { d--; if (d == 0) return k }
    }
    return N
}
function is_litmacro(name) { return (name in LITMACRO) }
function lit_text(s, e,    k, t) {
    t = ""
    for (k = s; k <= e; k++) {
        if (T[k] == "str") t = t V[k]
        else if (T[k] == "id" && is_litmacro(V[k])) t = t LITTEXT[V[k]]
        else return "\001"
    }
    return t
}
function span(s, e,    k, t) { t = ""; for (k = s; k <= e; k++) t = t (k > s ? " " : "") (T[k] == "str" ? "\"" V[k] "\"" : V[k]); return t }
function classify(s, e, fn) {
    if (s > e) return "other"
    if (lit_text(s, e) != "\001") return "literal"
    if (V[s] == "STMT_SQL" && V[s + 1] == "[" && V[e] == "]" && close_of(s + 1) == e) return "stmt"
    if (s == e && T[s] == "id") {
        if (V[s] in CONSTLIT) return "const"
        if ((fn SUBSEP V[s]) in PARAMIDX) return "param:" PARAMIDX[fn, V[s]]
        if ((fn SUBSEP V[s]) in LOCALARR) return "buffer:" V[s]
    }
    return "other"
}
# a local buffer is fine as SQL only if it is written only by the whitelisted PRAGMA snprintf and
# otherwise only handed to sqlite3_exec/prepare or a wrapper (any other call might write it)
function buffer_ok(fn, name,    c, a, writes, ok, fmt, sp) {
    writes = 0; ok = 1
    for (c = 1; c <= NC; c++) {
        if (CF[c] != fn) continue
        for (a = 1; a <= CN[c]; a++) {
            sp = span(AS[c, a], AE[c, a])
            if (sp != name && sp != "& " name) continue
            if (CC[c] == "snprintf" && a == 1) {
                writes++
                fmt = lit_text(AS[c, 3], AE[c, 3])
                if (!(CN[c] == 4 && span(AS[c, 2], AE[c, 2]) == "sizeof " name && fmt ~ /^PRAGMA [a-z_]+ ?= ?%d$/ &&
                      AS[c, 4] == AE[c, 4] && (V[AS[c, 4]] in INTMACRO))) ok = 0
            } else if (!(CC[c] ~ /^sqlite3_(exec|prepare)/ || (CC[c] in WRAP))) {
                ok = 0
            }
        }
    }
    return ok && writes > 0
}
function check_sql_arg(c, pos, what,    cl, fn, n) {
    fn = CF[c]
    cl = classify(AS[c, pos], AE[c, pos], fn)
    if (cl == "literal" || cl == "const" || cl == "stmt") return
    if (cl ~ /^param:/) {
        n = substr(cl, 7) + 0
        if (!(fn in WRAP)) { WRAP[fn] = n; changed = 1 }
        return
    }
    if (cl ~ /^buffer:/ && buffer_ok(fn, substr(cl, 8))) return
    bad(what " in " fn "() takes SQL built at run time: " span(AS[c, pos], AE[c, pos]))
}
{ lines[++nl] = $0 }
END {
    cont = 0; code = ""; cur = ""
    for (i = 1; i <= nl; i++) {
        l = lines[i]
        cur = cont ? cur " " l : l
        if (l ~ /\\[ \t]*$/) { sub(/\\[ \t]*$/, "", cur); cont = 1; continue }
        cont = 0
        if (cur ~ /^[ \t]*#/) {
            if (match(cur, /^[ \t]*#[ \t]*define[ \t]+[A-Za-z_][A-Za-z0-9_]*/)) {
                name = substr(cur, 1, RLENGTH); sub(/^[ \t]*#[ \t]*define[ \t]+/, "", name)
                rest = substr(cur, RLENGTH + 1)
                MACRO[name] = rest
                if (rest ~ /sqlite3_/) bad("macro " name " names a sqlite3_ function")
            }
            continue
        }
        code = code " " cur
    }
    # literal and integer macros (to a fixpoint: macros may use macros)
    for (round = 0; round < 5; round++)
        for (name in MACRO) {
            n = tokenize(MACRO[name])
            if (n == 1 && TT[1] == "num" && TV[1] ~ /^[0-9]+$/) INTMACRO[name] = 1
            t = ""; okm = (n > 0)
            for (k = 1; k <= n && okm; k++) {
                if (TT[k] == "str") t = t TV[k]
                else if (TT[k] == "id" && (TV[k] in LITMACRO)) t = t LITTEXT[TV[k]]
                else okm = 0
            }
            if (okm) { LITMACRO[name] = 1; LITTEXT[name] = t }
        }
    N = tokenize(code)
    for (k = 1; k <= N; k++) { T[k] = TT[k]; V[k] = TV[k] }

    # pass 1: top level (functions, const arrays, STMT_SQL), calls inside functions
    depth = 0; fn = ""; NC = 0; nstmt = 0
    for (i = 1; i <= N; i++) {
        if (depth == 0) {
            if (T[i] == "id" && V[i + 1] == "[" ) {
                j = close_of(i + 1)
                if (V[j + 1] == "=") {
                    # an array with an initializer: STMT_SQL, or a const literal (the schema)
                    e = j + 2; d = 0
                    for (k = j + 2; k <= N; k++) {
                        if (V[k] == "{" || V[k] == "(") d++
                        else if (V[k] == "}" || V[k] == ")") d--
                        else if (V[k] == ";" && d == 0) break
                    }
                    e = k
                    if (V[i] == "STMT_SQL") {
                        if (!(V[i - 1] == "const" && V[i - 2] == "*" && V[i - 3] == "char" && V[i - 4] == "const"))
                            bad("STMT_SQL is not declared `const char *const`")
                        if (V[j + 2] != "{") bad("STMT_SQL has no brace initializer")
                        # entries: [ID] = literal... ,
                        k = j + 3
                        while (k < e - 1) {
                            if (V[k] == "[") { q = close_of(k); if (V[q + 1] != "=") bad("STMT_SQL entry without a designator"); s = q + 2 }
                            else s = k
                            d = 0
                            for (m = s; m < e - 1; m++) {
                                if (V[m] == "(" || V[m] == "[" || V[m] == "{") d++
                                else if (V[m] == ")" || V[m] == "]" || V[m] == "}") d--
                                if (d < 0 || (V[m] == "," && T[m] == "p" && d == 0)) break
                            }
                            txt = lit_text(s, m - 1)
                            nstmt++
                            if (txt == "\001") bad("STMT_SQL entry is not made of string literals: " span(s, m - 1))
                            else STMTTXT[nstmt] = txt
                            k = m + 1
                        }
                    } else if (lit_text(j + 2, e - 1) != "\001" && V[i - 1] != "*") {
                        CONSTLIT[V[i]] = 1
                    }
                    i = e; continue
                }
            }
            if (V[i] == "=") {   # other initialised globals: skip the initializer
                d = 0
                for (k = i + 1; k <= N; k++) {
                    if (V[k] == "{" || V[k] == "(") d++
                    else if (V[k] == "}" || V[k] == ")") d--
                    else if (V[k] == ";" && d == 0) break
                }
                i = k; continue
            }
            if (T[i] == "id" && V[i + 1] == "(") {
                j = close_of(i + 1)
                if (V[j + 1] == "{") {
                    fn = V[i]
                    # parameter names: last identifier of each comma-separated part
                    p = 0; last = ""
                    for (k = i + 2; k <= j; k++) {
                        if ((V[k] == "," && T[k] == "p") || k == j) { if (last != "") PARAMIDX[fn, last] = ++p; last = "" }
                        else if (T[k] == "id") last = V[k]
                    }
                    depth = 1; i = j + 1; continue
                }
                i = j; continue
            }
            continue
        }
        if (V[i] == "{" && T[i] == "p") depth++
        else if (V[i] == "}" && T[i] == "p") { depth--; if (depth == 0) fn = "" }
        else if (T[i] == "id" && V[i] == "char" && T[i + 1] == "id" && V[i + 2] == "[") LOCALARR[fn, V[i + 1]] = 1
        else if (T[i] == "id" && V[i + 1] == "(" && V[i - 1] != "." && V[i - 1] != "->") {
            j = close_of(i + 1)
            NC++; CC[NC] = V[i]; CF[NC] = fn; a = 0
            if (j > i + 2) {
                a = 1; AS[NC, 1] = i + 2; d = 0
                for (k = i + 2; k < j; k++) {
                    if (V[k] == "(" || V[k] == "[" || V[k] == "{") d++
                    else if (V[k] == ")" || V[k] == "]" || V[k] == "}") d--
                    else if (V[k] == "," && T[k] == "p" && d == 0) { AE[NC, a] = k - 1; a++; AS[NC, a] = k + 1 }
                }
                AE[NC, a] = j - 1
            }
            CN[NC] = a
        }
    }

    # rules 2-4
    nprep = 0; nexec = 0
    for (c = 1; c <= NC; c++) {
        if (CC[c] ~ /^sqlite3_(v?mprintf|v?snprintf)$/ || CC[c] ~ /^sqlite3_str_/)
            bad(CF[c] "() builds SQL text with " CC[c])
        if (CC[c] ~ /^sqlite3_prepare/) {
            nprep++
            cl = (CN[c] >= 2) ? classify(AS[c, 2], AE[c, 2], CF[c]) : "other"
            if (cl != "stmt" && cl != "literal")
                bad(CC[c] " in " CF[c] "() does not take STMT_SQL[i] or a literal: " span(AS[c, 2], AE[c, 2]))
        }
        if (CC[c] == "sqlite3_exec") { nexec++; if (CN[c] >= 2) check_sql_arg(c, 2, "sqlite3_exec") }
    }
    changed = 1
    for (round = 0; changed && round < 10; round++) {
        changed = 0
        for (c = 1; c <= NC; c++)
            if ((CC[c] in WRAP) && CN[c] >= WRAP[CC[c]]) { WCALLS[c] = 1; check_sql_arg(c, WRAP[CC[c]], CC[c] "()") }
    }
    nw = 0; for (c in WCALLS) nw++
    # rule 5
    for (k = 1; k <= nstmt; k++) {
        if (!(k in STMTTXT)) continue
        t = STMTTXT[k]
        gsub(/\047[^\047]*\047/, "", t)   # fixed quoted constants are not values
        u = t
        while (match(u, /\?/)) {
            rest = substr(u, RSTART + 1)
            if (!match(rest, /^[0-9]+/)) { bad("STMT_SQL entry " k " has a bare ? placeholder: " STMTTXT[k]); break }
            num = substr(rest, 1, RLENGTH) + 0
            if (num < 1 || num > 999) bad("STMT_SQL entry " k " has placeholder ?" num)
            u = substr(rest, RLENGTH + 1)
        }
        if (t ~ /[:@$][A-Za-z_]/) bad("STMT_SQL entry " k " has a named parameter: " STMTTXT[k])
        if (t ~ /%/) bad("STMT_SQL entry " k " has a % (printf leftover?): " STMTTXT[k])
    }
    if (REQUIRE_STMTS && nstmt == 0) bad("no STMT_SQL table found")
    if (!nbad && REQUIRE_STMTS)
        printf "%s: ok: %d statements in STMT_SQL, %d sqlite3_prepare calls, %d sqlite3_exec calls, %d wrapper calls checked\n", FILE, nstmt, nprep, nexec, nw
    exit(nbad ? 1 : 0)
}
'

# strip_tree SERVER_DIR INCLUDE_DIR OUT: comment-stripped copies, named server__X.c / include__D__X.h
strip_tree() {
    local server=$1 include=$2 out=$3 f rel
    mkdir -p "$out"
    for f in "$server"/*.c "$server"/*.h; do
        [ -f "$f" ] || continue
        strip_comments "$f" >"$out/server__${f##*/}" || echo "$f: cannot strip comments" >"$out/.errors"
    done
    for f in "$include"/*.h "$include"/*/*.h; do
        [ -f "$f" ] || continue
        rel=${f#"$include"/}
        strip_comments "$f" >"$out/include__${rel//\//__}" || echo "$f: cannot strip comments" >"$out/.errors"
    done
}

# check_stripped DIR: all rules on a strip_tree output; prints violations; returns 0 when clean.
check_stripped() {
    local dir=$1 rc=0 f shown
    local others=()
    if [ -s "$dir/.errors" ]; then cat "$dir/.errors"; rc=1; fi
    for f in "$dir"/server__* "$dir"/include__*; do
        [ -f "$f" ] && [ "${f##*/}" != server__store.c ] && others+=("$f")
    done
    if [ ${#others[@]} -gt 0 ]; then
        # rule 1
        while IFS= read -r f; do
            shown=${f##*/}
            shown=${shown//__//}
            echo "$shown: says sqlite3_ (only server/store.c may): $(grep -m1 -o '.\{0,30\}sqlite3_[a-z_0-9]*' "$f")"
            rc=1
            awk -v FILE="$shown" -v REQUIRE_STMTS=0 "$AWK_PROG" "$f" || rc=1   # rules 2-4 there too
        done < <(grep -l 'sqlite3_' "${others[@]}")
        while IFS= read -r f; do
            shown=${f##*/}
            echo "${shown//__//}: includes sqlite3.h (only server/store.c may)"
            rc=1
        done < <(grep -lE '#[[:space:]]*include[[:space:]]*[<"]sqlite3\.h' "${others[@]}")
        # rule 6 (server/ only; headers under include/ may document)
        while IFS= read -r f; do
            shown=${f##*/}
            echo "${shown//__//}: holds SQL text outside store.c: $(grep -Eom1 '"[^"]*(SELECT|INSERT INTO|DELETE FROM|UPDATE|CREATE|PRAGMA)[^"]*"' "$f")"
            rc=1
        done < <(grep -lE '"[^"]*(SELECT [^"]* FROM|INSERT INTO|DELETE FROM|UPDATE [A-Za-z_]+ SET|CREATE (TABLE|INDEX)|PRAGMA [a-z_])' \
                     "${others[@]}" | grep '/server__')
    fi
    if [ ! -f "$dir/server__store.c" ]; then
        echo "server/store.c: missing"
        rc=1
    else
        awk -v FILE="server/store.c" -v REQUIRE_STMTS=1 "$AWK_PROG" "$dir/server__store.c" || rc=1
    fi
    return $rc
}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "== sql_safety: checking $ROOT/server"
strip_tree "$ROOT/server" "$ROOT/include" "$WORK/stripped"
check_stripped "$WORK/stripped"
status=$?
if [ $status -ne 0 ]; then
    echo "FAIL: SQL is built from strings somewhere (see above)"
fi

# ---------------------------------------------------------------- self-test: planted violations
selftest_fail=0
plant() {   # plant NAME FILE CODE-TO-APPEND  (or a sed expression with a 'sed:' prefix)
    local name=$1 file=$2 what=$3 tmp out
    tmp=$(mktemp -d "$WORK/plant.XXXXXX")
    cp -r "$WORK/stripped" "$tmp/stripped"
    cp "$ROOT/server/$file" "$tmp/$file"
    if [ "${what#sed:}" != "$what" ]; then
        sed -i "${what#sed:}" "$tmp/$file"
        if cmp -s "$tmp/$file" "$ROOT/server/$file"; then
            echo "self-test [$name]: the planted change did not apply"
            selftest_fail=1
            return
        fi
    else
        printf '%s\n' "$what" >>"$tmp/$file"
    fi
    strip_comments "$tmp/$file" >"$tmp/stripped/server__$file"
    if out=$(check_stripped "$tmp/stripped" 2>&1); then
        echo "self-test [$name]: NOT caught"
        selftest_fail=1
    else
        echo "self-test [$name]: caught: $(echo "$out" | grep -v ': ok:' | head -1)"
    fi
    rm -rf "$tmp"
}

plant "sqlite3_exec(db, buf) built with snprintf" store.c '
void store_bad(struct store *st, const char *name)
{
    char buf[256];
    snprintf(buf, sizeof buf, "DELETE FROM services WHERE name='"'"'%s'"'"'", name);
    sqlite3_exec(st->db, buf, NULL, NULL, NULL);
}'
plant "exec() wrapper fed a snprintf buffer" store.c '
int store_bad2(struct store *st, const char *ns, char *err, size_t errlen)
{
    char q[128];
    snprintf(q, sizeof q, "DELETE FROM services WHERE ns='"'"'%s'"'"'", ns);
    return exec(st->db, q, err, errlen);
}'
plant "PRAGMA buffer formatted from a string" store.c '
int store_bad3(struct store *st, const char *v, char *err, size_t errlen)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version=%s", v);
    return exec(st->db, sql, err, errlen);
}'
plant "prepare of an asprintf result" store.c '
int store_bad4(struct store *st, const char *name)
{
    char *q = NULL;
    sqlite3_stmt *s = NULL;
    if (asprintf(&q, "SELECT id FROM services WHERE name='"'"'%s'"'"'", name) < 0) return -1;
    sqlite3_prepare_v2(st->db, q, -1, &s, NULL);
    return 0;
}'
plant "prepare through a pointer alias" store.c '
int store_bad5(struct store *st)
{
    const char *q = STMT_SQL[0];
    sqlite3_stmt *s = NULL;
    return sqlite3_prepare_v2(st->db, q, -1, &s, NULL);
}'
plant "sqlite3_mprintf" store.c '
char *store_bad6(const char *name) { return sqlite3_mprintf("SELECT * FROM services WHERE name=%Q", name); }'
plant "a second wrapper level" store.c '
static int run_sql(struct store *st, const char *text, char *err, size_t errlen) { return exec(st->db, text, err, errlen); }
int store_bad7(struct store *st, const char *ns, char *err, size_t errlen)
{
    char b[64];
    snprintf(b, sizeof b, "DELETE FROM services WHERE ns=%s", ns);
    return run_sql(st, b, err, errlen);
}'
plant "sqlite3_ outside store.c" naming.c '
int naming_bad(void *db) { return sqlite3_exec(db, "DELETE FROM services", 0, 0, 0); }'
plant "SQL text outside store.c" routes.c '
const char *routes_bad(void) { return "DELETE FROM instances"; }'
plant "STMT_SQL entry with a named parameter" store.c \
    'sed:/STMT_SQL\[S__COUNT\] = {/a\    [S__COUNT - 1] = "SELECT id FROM services WHERE name=:name",'
plant "STMT_SQL entry with a bare ?" store.c \
    'sed:/STMT_SQL\[S__COUNT\] = {/a\    [S__COUNT - 1] = "SELECT id FROM services WHERE name=?",'
plant "STMT_SQL entry glued to a variable" store.c \
    'sed:/STMT_SQL\[S__COUNT\] = {/a\    [S__COUNT - 1] = "SELECT id FROM services WHERE name=" some_name,'
plant "STMT_SQL entry with a printf leftover" store.c \
    'sed:/STMT_SQL\[S__COUNT\] = {/a\    [S__COUNT - 1] = "SELECT id FROM services LIMIT %d",'
plant "STMT_SQL made writable" store.c \
    'sed:s/static const char \*const STMT_SQL/static const char *STMT_SQL/'

if [ $selftest_fail -ne 0 ]; then
    echo "FAIL: the checker missed a planted violation (see above)"
    status=1
fi
[ $status -eq 0 ] && echo "PASS: no SQL is built from strings; every planted violation was caught"
exit $status
