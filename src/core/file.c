/* core: files written whole or not at all. See weft_atomic_open in core.h. */
#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

weft_status weft_atomic_open(weft_atomic *a, const char *path, weft_err *err) {
    memset(a, 0, sizeof *a);
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) return weft_err_set(err, WEFT_ERR_IO, "%s: is a directory, cannot write a file there", path);
        /* a device or a pipe (/dev/stdout, /dev/full): written in place, every error still checked */
        a->f = fopen(path, "w");
        if (!a->f) return weft_err_set(err, WEFT_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        a->path = strdup(path);
        if (!a->path) { fclose(a->f); a->f = NULL; return weft_err_set(err, WEFT_ERR_NOMEM, "%s: out of memory", path); }
        return WEFT_OK;
    }
    size_t n = strlen(path);
    a->tmp = weft_try_malloc(n + 16);
    a->path = weft_try_malloc(n + 1);
    if (!a->tmp || !a->path) {
        free(a->tmp);
        free(a->path);
        memset(a, 0, sizeof *a);
        return weft_err_set(err, WEFT_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(a->path, path, n + 1);
    snprintf(a->tmp, n + 16, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        weft_status s = weft_err_set(err, WEFT_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        free(a->tmp);
        free(a->path);
        memset(a, 0, sizeof *a);
        return s;
    }
    fchmod(fd, 0644);
    a->f = fdopen(fd, "w");
    if (!a->f) {
        weft_status s = weft_err_set(err, WEFT_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        close(fd);
        unlink(a->tmp);
        free(a->tmp);
        free(a->path);
        memset(a, 0, sizeof *a);
        return s;
    }
    return WEFT_OK;
}

/* fsync of the folder holding path, so that a rename into it survives a crash */
static int sync_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? weft_xmalloc((size_t)(slash - path) + 2) : weft_xstrdup(".");
    if (slash) {
        size_t k = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, k);
        dir[k] = 0;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    free(dir);
    if (fd < 0) return -1;
    int r = fsync(fd);
    /* some file systems cannot sync a folder: that is not a failed write */
    if (r && (errno == EINVAL || errno == EROFS)) r = 0;
    close(fd);
    return r;
}

weft_status weft_atomic_commit(weft_atomic *a, weft_err *err) {
    if (!a->f) return weft_err_set(err, WEFT_ERR_IO, "%s: not open for writing", a->path ? a->path : "?");
    weft_status s = WEFT_OK;
    errno = 0;
    if (fflush(a->f) || ferror(a->f)) s = weft_err_set(err, WEFT_ERR_IO, "%s: write failed: %s", a->path, strerror(errno ? errno : EIO));
    if (!s && a->tmp && fsync(fileno(a->f))) s = weft_err_set(err, WEFT_ERR_IO, "%s: fsync failed: %s", a->path, strerror(errno));
    if (fclose(a->f) && !s) s = weft_err_set(err, WEFT_ERR_IO, "%s: write failed: %s", a->path, strerror(errno));
    a->f = NULL;
    if (a->tmp) {
        if (!s && rename(a->tmp, a->path)) s = weft_err_set(err, WEFT_ERR_IO, "%s: rename failed: %s", a->path, strerror(errno));
        if (s) unlink(a->tmp);
        else if (sync_dir(a->path)) s = weft_err_set(err, WEFT_ERR_IO, "%s: fsync of its folder failed: %s", a->path, strerror(errno));
    }
    free(a->tmp);
    free(a->path);
    a->tmp = a->path = NULL;
    return s;
}

void weft_atomic_abort(weft_atomic *a) {
    if (a->f) fclose(a->f);
    if (a->tmp) unlink(a->tmp);
    free(a->tmp);
    free(a->path);
    memset(a, 0, sizeof *a);
}

FILE *weft_open_regular(const char *path, const char *within, int64_t *size, weft_err *err) {
    if (within) {  /* the path, links resolved, must lie inside the folder `within` (also resolved) */
        char rp[PATH_MAX], rw[PATH_MAX];
        if (!realpath(path, rp)) { weft_err_set(err, WEFT_ERR_IO, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
        if (!realpath(within, rw)) { weft_err_set(err, WEFT_ERR_IO, "%s: cannot open: %s", within, strerror(errno)); return NULL; }
        size_t l = strlen(rw);
        if (strncmp(rp, rw, l) || (rp[l] != '/' && strcmp(rw, "/"))) {
            weft_err_set(err, WEFT_ERR_INVALID, "%s: resolves to %s, outside %s", path, rp, rw);
            return NULL;
        }
    }
    /* O_NONBLOCK: a FIFO or a device opens without waiting, and is refused below */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) { weft_err_set(err, WEFT_ERR_IO, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        weft_err_set(err, WEFT_ERR_IO, "%s: not a regular file", path);
        return NULL;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) { close(fd); weft_err_set(err, WEFT_ERR_IO, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    if (size) *size = (int64_t)st.st_size;
    return f;
}
