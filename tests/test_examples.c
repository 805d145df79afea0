/* The examples build with the public header alone (make all) and run to success. */
#include "test.h"

#include <stdlib.h>
#include <sys/wait.h>

TEST(examples_run) {
    const char *names[] = {"tiny_mlp"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "%s/examples/%s > /dev/null", weft_test_builddir(), names[i]);
        int rc = system(cmd);
        if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0) weft_test_fail(__FILE__, __LINE__, "%s: exit status %d", cmd, rc);
    }
}
