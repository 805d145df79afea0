/* The command line as a user meets it: one option parser's conventions on every command, NumPy
 * inputs and outputs, ONNX inputs with symbolic dimensions and external data, training on the
 * user's own arrays. Cases come from tests/cli/make_cases.py (Debian's numpy and onnx). */
#include "io/io.h"
#include "test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define sh weft_test_sh

/* The cases' folder, made once. NULL (and the test failed) when python3's numpy or onnx is missing. */
static const char *cases(void) {
    static char dir[1024];
    static int made;
    if (made) return made > 0 ? dir : NULL;
    snprintf(dir, sizeof dir, "%s/cli-cases", weft_test_builddir());
    char cmd[4096], out[4096];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/cli/make_cases.py %s 2>&1", weft_test_srcdir(), dir);
    made = sh(cmd, out, sizeof out) == 0 ? 1 : -1;
    if (made < 0) weft_test_fail(__FILE__, __LINE__, "tests/cli/make_cases.py failed (python3-numpy, python3-onnx):\n%s", out);
    return made > 0 ? dir : NULL;
}

/* weft ARGS, 2>&1; the exit status. */
static char last_cmd[9000];
static int weft(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int weft(char *out, size_t n, const char *fmt, ...) {
    char args[8192];
    char *cmd = last_cmd;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof last_cmd, "%s/weft %s 2>&1", weft_test_builddir(), args);
    return sh(cmd, out, n);
}

#define EXPECT(rc_want, needle, ...)                                                                            \
    do {                                                                                                        \
        int rc_ = weft(out, sizeof out, __VA_ARGS__);                                                           \
        if (rc_ != (rc_want) || !strstr(out, needle))                                                           \
            weft_test_fail(__FILE__, __LINE__, "%s: exit %d (want %d), output lacks '%s':\n%.2000s", last_cmd, rc_,   \
                           rc_want, needle, out);                                                               \
    } while (0)

TEST(cli_every_command_has_help_and_the_same_conventions) {
    char out[32768];
    static const char *const cmds[] = {"inspect", "compile", "run", "check", "train", "sweep", "run-ref", "onnx-test",
                                       "models", "arch", "demo", "export", "eval", "generate"};
    /* --help on every command: exit 0, its own usage, nothing done (demo --help writes no ./out) */
    char dir[1024], cmd[4096];
    snprintf(dir, sizeof dir, "%s/cli-help-cwd", weft_test_builddir());
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", dir, dir);
    CHECK(system(cmd) == 0);
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        char abs_bin[1024], want[64];
        snprintf(want, sizeof want, "usage: weft %s", cmds[i]);
        snprintf(abs_bin, sizeof abs_bin, "%s", weft_test_builddir());
        snprintf(cmd, sizeof cmd, "cd %s && %s%s/weft %s --help 2>&1", dir, abs_bin[0] == '/' ? "" : "\"$OLDPWD\"/", abs_bin, cmds[i]);
        int rc = sh(cmd, out, sizeof out);
        if (rc != 0 || !strstr(out, want)) weft_test_fail(__FILE__, __LINE__, "weft %s --help: exit %d:\n%.500s", cmds[i], rc, out);
        EXPECT(0, want, "help %s", cmds[i]);
    }
    struct stat st;
    snprintf(cmd, sizeof cmd, "%s/out", dir);
    CHECK(stat(cmd, &st) != 0);  /* demo --help ran nothing */
    EXPECT(0, "weft " WEFT_VERSION, "--version");
    EXPECT(0, "usage: weft COMMAND", "--help");
    /* --opt=value is --opt value; options before and after the arguments */
    char a[32768];
    CHECK_INT(weft(a, sizeof a, "arch show wse2-mini --json"), 0);
    EXPECT(0, "\"name\"", "arch --json show wse2-mini");
    CHECK(!strcmp(a, out));
    EXPECT(0, "tiles", "run builtin:mlp --arch=wse2-mini --passes=2");
    /* refusals: exit 2, naming what is wrong */
    EXPECT(2, "--bogus", "run builtin:mlp --bogus");
    EXPECT(2, "unexpected argument 'extra'", "inspect builtin:mlp extra");
    EXPECT(2, "missing MODEL", "inspect");
    EXPECT(2, "from 1", "train builtin:mlp --steps 3 --batch 0");
    EXPECT(2, "from 1", "run builtin:mlp --batch=0");
    EXPECT(2, "'abc'", "train builtin:mlp --steps 3 --lr=abc");
    EXPECT(2, "needs a value", "run builtin:mlp --arch");
    EXPECT(2, "not one of", "run builtin:mlp --precision fp8");
    EXPECT(2, "not one of", "train builtin:mlp --steps 1 --optimizer lion");
    EXPECT(2, "--steps N is required", "train builtin:mlp");
    EXPECT(2, "unknown command", "frobnicate");
    /* the fabric's default is the full wse2 */
    EXPECT(0, "default wse2", "compile --help");
}

/* Reads an .npy the test wrote or weft wrote. */
static bool npy(const char *path, weft_tensor *t) {
    weft_err err = {0};
    if (weft_npy_read(path, t, &err)) { weft_test_fail(__FILE__, __LINE__, "%s", err.msg); return false; }
    return true;
}

static double max_diff(const weft_tensor *a, const weft_tensor *b) {
    if (!weft_shape_eq(&a->shape, &b->shape)) return INFINITY;
    double m = 0;
    for (int64_t i = 0; i < weft_tensor_numel(a); i++) m = fmax(m, fabs(weft_tensor_get_f(a, i) - weft_tensor_get_f(b, i)));
    return m;
}

TEST(cli_numpy_inputs_outputs_symbolic_dims_and_external_data) {
    const char *d = cases();
    if (!d) return;
    char out[32768], p[8192];
    weft_tensor ref, y;
    snprintf(p, sizeof p, "%s/y_ref.npy", d);
    if (!npy(p, &ref)) return;
    /* symbolic dimensions: refused naming the dimension and the way to give it */
    EXPECT(1, "--input-shape", "inspect %s/sym.onnx", d);
    EXPECT(1, "'batch'", "inspect %s/sym.onnx", d);
    /* given by dimension name, or by the input's whole shape */
    EXPECT(0, "wrote", "run-ref %s/sym.onnx --input-shape batch=2 --input-shape n=3 --input x=%s/x.npy --save-outputs %s/o1", d, d, d);
    snprintf(p, sizeof p, "%s/o1/y.npy", d);
    if (npy(p, &y)) { CHECK(max_diff(&y, &ref) <= 1e-6); weft_tensor_free(&y); }
    EXPECT(2, "not NAME=SHAPE", "run-ref %s/sym.onnx --input-shape x", d);
    EXPECT(2, "has rank 2", "inspect %s/sym.onnx --input-shape x=3x3x3 --input-shape n=3", d);
    EXPECT(2, "neither a graph input", "inspect %s/sym.onnx --input-shape x=2x3 --input-shape nope=4", d);
    /* external data beside the model; a float64 file feeds a float32 input */
    EXPECT(0, "wrote", "run-ref %s/ext.onnx --input-shape x=2x3 --input x=%s/x64.npy --save-outputs %s/o2", d, d, d);
    snprintf(p, sizeof p, "%s/o2/y.npy", d);
    if (npy(p, &y)) { CHECK(max_diff(&y, &ref) <= 1e-6); weft_tensor_free(&y); }
    /* the fabric with the user's input, checked against the reference; its outputs saved */
    EXPECT(0, "check: fabric vs reference executor", "check %s/ext.onnx --arch wse2-mini --input-shape x=2x3 --input x=%s/x.npy "
           "--save-outputs %s/o3", d, d, d);
    snprintf(p, sizeof p, "%s/o3/y.npy", d);
    if (npy(p, &y)) { CHECK(max_diff(&y, &ref) <= 1e-4); weft_tensor_free(&y); }
    /* a file of the wrong shape or an unknown input: both shapes, the names */
    EXPECT(2, "(5, 3)", "run-ref %s/sym.onnx --input-shape x=2x3 --input x=%s/bad_shape.npy", d, d);
    EXPECT(2, "(2, 3)", "run-ref %s/sym.onnx --input-shape x=2x3 --input x=%s/bad_shape.npy", d, d);
    EXPECT(2, "the model's inputs are: x", "run-ref %s/sym.onnx --input-shape x=2x3 --input z=%s/x.npy", d, d);
    EXPECT(2, "not a .npy file", "run-ref %s/sym.onnx --input-shape x=2x3 --input x=%s/sym.onnx", d, d);
    /* external data that is missing, or points out of the model's folder */
    snprintf(p, sizeof p, "mkdir -p %s/alone %s/escape && cp %s/ext.onnx %s/alone/ && cp %s/ext.onnx %s/escape/ && "
             "ln -sf /etc/hostname %s/escape/ext.bin", d, d, d, d, d, d, d);
    CHECK(system(p) == 0);
    EXPECT(1, "ext.bin", "inspect %s/alone/ext.onnx --input-shape x=2x3", d);
    EXPECT(2, "outside", "inspect %s/escape/ext.onnx --input-shape x=2x3", d);  /* a link out of the folder */
    weft_tensor_free(&ref);
}

/* The .npy reader against damaged files: refused, never a crash or an allocation from the header. */
TEST(io_npy_round_trip_and_damaged_files) {
    weft_err err = {0};
    char path[1024];
    snprintf(path, sizeof path, "%s/io-npy.npy", weft_test_builddir());
    weft_tensor t, back;
    CHECK_OK(weft_tensor_alloc(&t, WEFT_I64, WEFT_SHAPE(2, 3, 1), &err), &err);
    for (int i = 0; i < 6; i++) ((int64_t *)t.data)[i] = i * 1000003 - 7;
    CHECK_OK(weft_npy_write(path, &t, &err), &err);
    CHECK_OK(weft_npy_read(path, &back, &err), &err);
    CHECK(weft_shape_eq(&back.shape, &t.shape) && back.dtype == WEFT_I64 && !memcmp(back.data, t.data, 48));
    weft_tensor_free(&back);
    /* a (5,) shape, a scalar () */
    weft_tensor s;
    CHECK_OK(weft_tensor_alloc(&s, WEFT_F32, WEFT_SHAPE(), &err), &err);
    *(float *)s.data = 2.5f;
    CHECK_OK(weft_npy_write(path, &s, &err), &err);
    CHECK_OK(weft_npy_read(path, &back, &err), &err);
    CHECK(back.shape.ndim == 0 && *(float *)back.data == 2.5f);
    weft_tensor_free(&back);
    weft_tensor_free(&s);
    static const struct { const char *bytes; size_t n; const char *why; } bad[] = {
        {"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4',", 26, "not a dict"},
        {"\x93NUMPZ\x01\x00", 8, "magic"},
        {"\x93NUMPY\x01\x00\x46\x00{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }              \n", 80, "Fortran"},
        {"\x93NUMPY\x01\x00\x46\x00{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }             \n", 80, "dtype"},
        {"\x93NUMPY\x01\x00\x46\x00{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999,), }   \n", 80, "limit"},
        {"\x93NUMPY\x01\x00\x46\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }            \n", 80, "bytes of data"},
        {"\x93NUMPY\x01\x00\x46\x00{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }            \n", 80, "shape"},
        {"\x93NUMPY\x09\x00\x46\x00", 10, "version"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        FILE *f = fopen(path, "wb");
        if (!f) break;
        fwrite(bad[i].bytes, 1, bad[i].n, f);
        fclose(f);
        memset(&err, 0, sizeof err);
        weft_status st = weft_npy_read(path, &back, &err);
        if (!st || !strstr(err.msg, bad[i].why) || !strstr(err.msg, path))
            weft_test_fail(__FILE__, __LINE__, "damaged .npy #%zu: status %d, message '%s' (want '%s')", i, st, err.msg, bad[i].why);
        if (!st) weft_tensor_free(&back);
    }
    weft_tensor_free(&t);
}

TEST(cli_train_on_the_users_arrays) {
    const char *d = cases();
    if (!d) return;
    char out[65536];
    /* a token classifier on text: refused with both shapes (it corrupted the heap before) */
    EXPECT(1, "targets int64 (4)", "train %s/tokcls.onnx --steps 2", d);
    /* on its own samples it learns; the loss chosen is said */
    EXPECT(0, "cross-entropy, chosen", "train %s/tokcls.onnx --steps 40 --lr 0.05 --inputs %s/tokx.npy --targets %s/toky.npy", d, d, d);
    const char *l = strstr(out, "  loss            ");
    double first = 0, last = 0;
    CHECK(l && sscanf(l, "  loss %lf -> %lf", &first, &last) == 2 && last < 0.8 * first);
    /* a builtin MLP on a classifier's arrays, on the fabric */
    EXPECT(0, "58 train, 6 validation", "train builtin:mlp:in=3,hidden=16,out=2,batch=8 --arch wse2-mini --steps 3 --inputs %s/clsx.npy "
           "--targets %s/clsy.npy", d, d);
    /* refusals before anything runs: both shapes, the class out of range, half the pair */
    EXPECT(1, "(64, 4)", "train builtin:mlp:in=4,hidden=16,out=2,batch=8 --steps 3 --inputs %s/clsx.npy --targets %s/clsy.npy", d, d);
    EXPECT(1, "not a class", "train builtin:mlp:in=3,hidden=16,out=2,batch=8 --steps 3 --inputs %s/clsx.npy --targets %s/clsy_bad.npy", d, d);
    EXPECT(2, "go together", "train builtin:mlp --steps 3 --inputs %s/clsx.npy", d);
    EXPECT(1, "64 input samples but 40 targets", "train builtin:mlp:in=3,out=2 --steps 3 --inputs %s/clsx.npy --targets %s/toky.npy", d, d);
    /* its checkpoint's weights out as safetensors; refusals name the file */
    EXPECT(0, "checkpoint", "train %s/tokcls.onnx --steps 4 --inputs %s/tokx.npy --targets %s/toky.npy --checkpoint %s/ck", d, d, d, d);
    EXPECT(0, "2 parameters", "export %s/ck --safetensors %s/tokcls.safetensors", d, d);
    EXPECT(2, "--safetensors", "export %s/ck", d);
    /* the ONNX model with its trained initializers: weft's reference on it is the original graph with
     * the trained weights (numpy's, tests/cli/check_export.py) */
    EXPECT(0, "2 of its initializers trained", "export %s/ck --onnx %s/trained.onnx", d, d);
    EXPECT(0, "wrote", "run-ref %s/trained.onnx --input tokens=%s/tok4.npy --save-outputs %s/o4", d, d, d);
    char py[4096], pyout[4096];
    snprintf(py, sizeof py, "/usr/bin/python3 %s/tests/cli/check_export.py %s 2>&1", weft_test_srcdir(), d);
    if (sh(py, pyout, sizeof pyout) != 0) weft_test_fail(__FILE__, __LINE__, "%s:\n%s", py, pyout);

    EXPECT(1, "nope.weft", "export %s/nope.weft --safetensors %s/x.safetensors", d, d);
    /* eval on the held-out arrays; generate from a small GPT trained on text, deterministic by seed */
    EXPECT(0, "accuracy", "eval %s/tokcls.onnx --checkpoint %s/ck --inputs %s/tokx.npy --targets %s/toky.npy", d, d, d, d);
    const char *gpt = "builtin:gpt:layers=1,dim=32,heads=2,vocab=256,seq=16";
    EXPECT(0, "checkpoint", "train %s --steps 30 --lr 3e-3 --checkpoint %s/ckg", gpt, d);
    EXPECT(0, "cross-entropy", "eval %s --checkpoint %s/ckg --batches 2", gpt, d);
    char g1[65536];
    EXPECT(0, "GNU", "generate %s --checkpoint %s/ckg --prompt GNU --tokens 40 --seed 5", gpt, d);
    snprintf(g1, sizeof g1, "%s", out);
    CHECK(strlen(g1) == 3 + 40 + 1 && !strncmp(g1, "GNU", 3));
    EXPECT(0, "GNU", "generate %s --checkpoint %s/ckg --prompt GNU --tokens 40 --seed 5", gpt, d);
    CHECK(!strcmp(g1, out));
    EXPECT(2, "not a language model", "generate builtin:mlp --checkpoint %s/ck", d);
    EXPECT(2, "no ONNX file", "export %s/ckg --onnx %s/x.onnx", d, d);
    EXPECT(1, "not one of the model's", "eval builtin:gpt:layers=1,dim=16,heads=2,vocab=256,seq=16 --checkpoint %s/ckg", d);
    /* --loss none: a model computing its own loss from (x, y) trains as the bare model with --loss mse */
    char la[1200], lb[1200], ra[4096] = "", rb[4096] = "";
    snprintf(la, sizeof la, "%s/loss-mse.csv", d);
    snprintf(lb, sizeof lb, "%s/loss-none.csv", d);
    EXPECT(0, "training report", "train %s/pred.onnx --loss mse --steps 6 --optimizer sgd --lr 0.02 --inputs %s/regx.npy "
           "--targets %s/regy.npy --log %s", d, d, d, la);
    EXPECT(0, "training report", "train %s/selfloss.onnx --loss none --steps 6 --optimizer sgd --lr 0.02 --inputs %s/regx.npy "
           "--targets %s/regy.npy --log %s", d, d, d, lb);
    FILE *fa = fopen(la, "r"), *fb = fopen(lb, "r");
    if (fa) { size_t n = fread(ra, 1, sizeof ra - 1, fa); ra[n] = 0; fclose(fa); }
    if (fb) { size_t n = fread(rb, 1, sizeof rb - 1, fb); rb[n] = 0; fclose(fb); }
    /* the step and loss columns agree (host seconds differ) */
    for (const char *p1 = ra, *p2 = rb; *p1 && *p2;) {
        char a1[64], b1[64];
        if (sscanf(p1, "%63[^,],%63[^,]", a1, b1) != 2) break;
        char a2[64], b2[64];
        CHECK(sscanf(p2, "%63[^,],%63[^,]", a2, b2) == 2 && !strcmp(a1, a2) && !strcmp(b1, b2));
        p1 = strchr(p1, '\n');
        p2 = strchr(p2, '\n');
        if (!p1 || !p2) break;
        p1++, p2++;
    }
    CHECK(strlen(ra) > 40 && strlen(rb) > 40);
    EXPECT(2, "give them (--inputs", "train %s/selfloss.onnx --loss none --steps 1", d);
    EXPECT(1, "two inputs (input, target)", "train %s/pred.onnx --loss none --steps 1 --inputs %s/regx.npy --targets %s/regy.npy", d, d, d);
    /* MSE asked of a classifier's logits: the targets become floats of the logits' shape */
    EXPECT(1, "the targets hold int64", "train builtin:mlp:in=3,hidden=16,out=2,batch=8 --loss mse --steps 3 --inputs %s/clsx.npy "
           "--targets %s/clsy.npy", d, d);
}

/* weft train --config params.yaml: its settings, a flag on the command line winning, unknown keys
 * and bad YAML refused naming the file and the line. */
TEST(cli_train_config_files) {
    char out[65536], path[1200], bad[1200];
    const char *bd = weft_test_builddir();
    snprintf(path, sizeof path, "%s/cli-config.yaml", bd);
    FILE *f = fopen(path, "w");
    if (!f) return;
    /* (a null value leaves its setting unset; an empty section is none) */
    fprintf(f, "model:\n  name: builtin:mlp:in=8,hidden=16,out=4\n  batch: 4\n  precision:\noptimizer:\n  name: sgd\n  learning_rate: 0.05\n"
               "data:\nrunconfig:\n  max_steps: 7\n  eval_every: 0\n  log: ~\n");
    fclose(f);
    EXPECT(0, "sgd, lr 0.05, 7 steps", "train --config %s", path);
    EXPECT(0, "sgd, lr 0.01, 3 steps", "train --config=%s --lr 0.01 --steps=3", path);  /* flags win */
    EXPECT(0, "builtin:mlp:in=8,hidden=16,out=2", "train builtin:mlp:in=8,hidden=16,out=2 --config %s --steps 2", path);  /* so does MODEL */
    snprintf(bad, sizeof bad, "%s/cli-config-bad.yaml", bd);
    f = fopen(bad, "w");
    if (!f) return;
    fprintf(f, "model:\n  name: builtin:mlp\noptimizer:\n  lr: 0.1\n  betas: [0.9, 0.99]\n");
    fclose(f);
    EXPECT(2, "unknown key 'betas' in section 'optimizer'", "train --config %s --steps 1", bad);
    EXPECT(2, ":5:", "train --config %s --steps 1", bad);
    f = fopen(bad, "w");
    if (!f) return;
    fprintf(f, "model: [unclosed\n");
    fclose(f);
    EXPECT(2, "cli-config-bad.yaml:", "train --config %s --steps 1", bad);
    f = fopen(bad, "w");
    if (!f) return;
    fprintf(f, "training:\n  steps: 3\n");
    fclose(f);
    EXPECT(2, "the sections are", "train --config %s", bad);
    EXPECT(2, "nope.yaml", "train --config %s/nope.yaml", bd);
    /* the examples parse (their runs are the demo's and longer) */
    EXPECT(0, "usage: weft train", "train --config %s/examples/configs/small-gpt.yaml --help", weft_test_srcdir());
    EXPECT(0, "forecast error", "train --config %s/examples/configs/weather.yaml --steps 3 --log %s/cli-weather.csv", weft_test_srcdir(), bd);
}
