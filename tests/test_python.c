/* The library from outside: the Python package (python/weft over libweft.so, against PyTorch:
 * tests/python/test_workflow.py) and `make install` into a temporary prefix, with the example
 * built against it through pkg-config. */
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define sh weft_test_sh

/* A sanitizer build's library needs its runtimes loaded first into a program built without them. */
static void preload(const char *lib, char *env, size_t n) {
    char cmd[2048], out[1024];
    snprintf(cmd, sizeof cmd, "ldd %s 2>/dev/null | awk '/libasan|libubsan/ {printf \"%%s:\", $3}'", lib);
    env[0] = 0;
    if (sh(cmd, out, sizeof out) == 0 && out[0]) snprintf(env, n, "LD_PRELOAD=%s ASAN_OPTIONS=detect_leaks=0", out);
}

TEST(python_trainer_agrees_with_pytorch) {
    char lib[1024], env[2048], cmd[8192], out[16384];
    snprintf(lib, sizeof lib, "%s/libweft.so", weft_test_builddir());
    preload(lib, env, sizeof env);
    const char *up = lib[0] == '/' ? "" : "$OLDPWD/";
    snprintf(cmd, sizeof cmd, "cd %s && WEFT_LIB=%s%s WEFT_BIN=%s%s/weft %s /usr/bin/python3 tests/python/test_workflow.py python 2>&1",
             weft_test_srcdir(), up, lib, up, weft_test_builddir(), env);
    int rc = sh(cmd, out, sizeof out);
    if (rc != 0 || !strstr(out, "ok errors")) weft_test_fail(__FILE__, __LINE__, "%s: exit %d:\n%s", cmd, rc, out);
    const char *l = out;
    while ((l = strstr(l, "ok ")) != NULL) {  /* the cases' lines, for the log */
        const char *e = strchr(l, '\n');
        printf("    %.*s\n", (int)(e ? e - l : (long)strlen(l)), l);
        l = e ? e : l + strlen(l);
    }
}

TEST(install_into_a_prefix_and_build_against_it) {
    char prefix[1024], cmd[16384], out[16384];
    snprintf(prefix, sizeof prefix, "%s/install-test", weft_test_builddir());
    if (prefix[0] != '/') {
        char cwd[900];
        if (!getcwd(cwd, sizeof cwd)) return;
        snprintf(prefix, sizeof prefix, "%s/%s/install-test", cwd, weft_test_builddir());
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s && make -s -C %s BUILD=%s%s install PREFIX=%s 2>&1", prefix, weft_test_srcdir(),
             weft_test_builddir()[0] == '/' ? "" : "$PWD/", weft_test_builddir(), prefix);
    int rc = sh(cmd, out, sizeof out);
    if (rc != 0) { weft_test_fail(__FILE__, __LINE__, "%s: exit %d:\n%s", cmd, rc, out); return; }
    static const char *const files[] = {"bin/weft", "lib/libweft.so.0", "lib/libweft.a", "include/weft.h", "lib/pkgconfig/weft.pc",
                                        "share/man/man1/weft.1", "lib/python3/dist-packages/weft/__init__.py"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(cmd, sizeof cmd, "test -e %s/%s", prefix, files[i]);
        if (system(cmd) != 0) weft_test_fail(__FILE__, __LINE__, "make install wrote no %s/%s", prefix, files[i]);
    }
    /* the example, built with pkg-config's flags against the installed library, and run */
    char env[2048];
    snprintf(cmd, sizeof cmd, "%s/lib/libweft.so", prefix);
    preload(cmd, env, sizeof env);
    snprintf(cmd, sizeof cmd,
             "export PKG_CONFIG_PATH=%s/lib/pkgconfig && cc -std=c11 %s/examples/tiny_mlp.c $(pkg-config --cflags --libs weft) -lm "
             "%s -o %s/tiny_mlp 2>&1 && LD_LIBRARY_PATH=%s/lib %s %s/tiny_mlp 2>&1 && %s/bin/weft --version && "
             "PYTHONPATH=%s/lib/python3/dist-packages %s /usr/bin/python3 -c 'import weft; print(\"python\", weft.__version__)' 2>&1",
             prefix, weft_test_srcdir(), env[0] ? "-fsanitize=address,undefined" : "", prefix, prefix, env, prefix, prefix, prefix, env);
    rc = sh(cmd, out, sizeof out);
    if (rc != 0 || !strstr(out, "weft " WEFT_VERSION) || !strstr(out, "python " WEFT_VERSION))
        weft_test_fail(__FILE__, __LINE__, "%s: exit %d:\n%s", cmd, rc, out);
    /* the library exports the header's functions and nothing else (no internal weft_train_*, no protobuf-c) */
    snprintf(cmd, sizeof cmd, "nm -D --defined-only %s/lib/libweft.so | awk '$2 == \"T\" {print $3}' | sed 's/@.*//' | grep -v -x -F \"$(grep -oE "
                              "'^[a-z][a-z0-9_ *]* \\**weft_[a-z0-9_]+\\(' %s/include/weft.h | grep -oE 'weft_[a-z0-9_]+\\($' | tr -d '(')\" | head -5", prefix, prefix);
    CHECK_INT(sh(cmd, out, sizeof out), 0);
    if (out[0]) weft_test_fail(__FILE__, __LINE__, "libweft.so exports functions weft.h does not declare: %s", out);
    /* the man page is a man page */
    snprintf(cmd, sizeof cmd, "man -l %s/share/man/man1/weft.1 2>/dev/null | grep -c 'COMMANDS'", prefix);
    if (system("command -v man > /dev/null") == 0) CHECK(sh(cmd, out, sizeof out) == 0);
}
